#!/usr/bin/env bash
# Build the static page in www/ (npm run build): everything it loads is local, no CDN.
#
#   www/pkg/          ami3.js + ami3_bg.wasm: the plain build (stable, `--target web`)
#   www/pkg-threads/  ami3_threads.js + wasm: the threaded build (threads/ crate, nightly,
#                     atomics + shared memory, wasm-bindgen-rayon); optional, see below
#   www/vendor/       uPlot and fflate copied from node_modules (with their licences)
#   www/build-info.json  {"threads": true|false, ...}: tells the page whether pkg-threads exists
#
#   bash scripts/build-web.sh [PKG_DIR]   # PKG_DIR defaults to www/pkg; the rest goes beside it
#   AMI3_NO_THREADS=1 bash scripts/build-web.sh   # skip the threaded build
#
# The threaded build needs the nightly toolchain with wasm32 + rust-src (setup.sh installs
# them when it can). If it cannot be built, the page still works: it uses the plain build, one
# thread per worker; this script warns and writes {"threads": false}. Release profile, no wasm-opt.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=scripts/setup.sh
source "$AMI3_ROOT/scripts/setup.sh"
AMI3_LOG_TAG=build-web

out="${1:-$AMI3_ROOT/www/pkg}"
mkdir -p "$out"
out="$(cd -- "$out" && pwd -P)"
www="$(dirname -- "$out")"
cd "$AMI3_ROOT"
setup_rust_target
setup_wasm_bindgen
setup_npm

# ---- plain build ------------------------------------------------------------------------------
t0=$(now_s)
cargo build --release --lib --target wasm32-unknown-unknown
target_dir="${CARGO_TARGET_DIR:-$AMI3_ROOT/target}"
wasm="$target_dir/wasm32-unknown-unknown/release/ami3.wasm"
[[ -f "$wasm" ]] || die "cargo did not produce $wasm"
wasm-bindgen --target web --out-dir "$out" "$wasm"
log "built $(du -h "$out/ami3_bg.wasm" | cut -f1) wasm into ${out#"$AMI3_ROOT"/} in $(($(now_s) - t0)) s"

# ---- vendored JavaScript (served from www/vendor, never from a CDN) ------------------------------
vendor="$www/vendor"
mkdir -p "$vendor"
nm="$AMI3_ROOT/node_modules"
for f in "$nm/uplot/dist/uPlot.esm.js" "$nm/uplot/dist/uPlot.min.css" "$nm/fflate/esm/browser.js"; do
  [[ -f "$f" ]] || die "missing $f: run npm ci (scripts/setup.sh npm)"
done
cp "$nm/uplot/dist/uPlot.esm.js" "$nm/uplot/dist/uPlot.min.css" "$vendor/"
cp "$nm/uplot/LICENSE" "$vendor/LICENSE-uPlot.txt"
cp "$nm/fflate/esm/browser.js" "$vendor/fflate.js"
cp "$nm/fflate/LICENSE" "$vendor/LICENSE-fflate.txt"
log "vendored uPlot $(node -p "require('$nm/uplot/package.json').version") and fflate $(node -p "require('$nm/fflate/package.json').version") into ${vendor#"$AMI3_ROOT"/}"

# ---- threaded build (optional) ----------------------------------------------------------------
threads_out="$www/pkg-threads"
build_threads() {
  setup_nightly || return 1
  local t0 twasm
  t0=$(now_s)
  # Own directory: rustup reads threads/rust-toolchain.toml (nightly) and cargo reads
  # threads/.cargo/config.toml (atomics, shared memory, build-std) from the current directory.
  (cd "$AMI3_ROOT/threads" && env -u CARGO_TARGET_DIR -u RUSTFLAGS \
    cargo build --release --lib --target wasm32-unknown-unknown) || return 1
  twasm="$AMI3_ROOT/threads/target/wasm32-unknown-unknown/release/ami3_threads.wasm"
  rm -rf "$threads_out"
  wasm-bindgen --target web --out-dir "$threads_out" "$twasm" || return 1
  # Without the shared-memory link args the module gets an ordinary memory and nothing warns
  # (toolchain.md §4 problem 1): check the glue creates a shared memory.
  if ! grep -q 'shared:true' "$threads_out/ami3_threads.js"; then
    log "WARNING: the threaded build has no shared memory"
    return 1
  fi
  log "built the threaded wasm into ${threads_out#"$AMI3_ROOT"/} in $(($(now_s) - t0)) s"
}

threads=false
if [[ "${AMI3_NO_THREADS:-}" == 1 ]]; then
  log "threaded build skipped (AMI3_NO_THREADS=1): the page uses the plain build"
  rm -rf "$threads_out"
elif build_threads; then
  threads=true
else
  log "WARNING: the threaded build failed; the page falls back to the plain build (one thread per worker)"
  rm -rf "$threads_out"
fi

printf '{"threads": %s, "wasm_bindgen": "%s"}\n' "$threads" "$WASM_BINDGEN_VERSION" >"$www/build-info.json"
log "page ready in ${www#"$AMI3_ROOT"/} (threads: $threads)"
