#!/usr/bin/env bash
# Idempotent installs of everything the build and the tests need (see scripts/README.md).
#
#   bash scripts/setup.sh            # all steps
#   bash scripts/setup.sh STEP...    # only these: rust-target wasm-bindgen wasm-pack chromium
#                                    #   npm nightly python
#
# Each step checks first and skips when the tool is already there in the right version, so a
# second run takes a few seconds. Other scripts may `source` this file to call a step function
# (e.g. `setup_nightly` before a threaded build); sourcing runs nothing.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

# ---- stable wasm32 target ------------------------------------------------------------------
setup_rust_target() {
  # Capture first: `rustup ... | grep -q` can fail under pipefail when grep exits early.
  local installed
  installed="$(rustup target list --installed)"
  if grep -qx 'wasm32-unknown-unknown' <<<"$installed"; then
    log "rust target wasm32-unknown-unknown (stable): present"
    return 0
  fi
  local t0
  t0=$(now_s)
  rustup target add wasm32-unknown-unknown
  log "rust target wasm32-unknown-unknown (stable): installed in $(($(now_s) - t0)) s"
}

# ---- wasm-bindgen-cli (must equal the wasm-bindgen crate version in Cargo.lock) -------------
setup_wasm_bindgen() {
  if command -v wasm-bindgen >/dev/null 2>&1 &&
    [[ "$(wasm-bindgen --version 2>/dev/null)" == "wasm-bindgen ${WASM_BINDGEN_VERSION}" ]]; then
    log "wasm-bindgen-cli ${WASM_BINDGEN_VERSION}: present"
    return 0
  fi
  local t0
  t0=$(now_s)
  log "wasm-bindgen-cli ${WASM_BINDGEN_VERSION}: building from crates.io (about 2 min)"
  # Not --locked: its lockfile pins webpki-roots 1.0.11, which the reachable index lacks.
  cargo install wasm-bindgen-cli --version "${WASM_BINDGEN_VERSION}" --force
  log "wasm-bindgen-cli ${WASM_BINDGEN_VERSION}: installed in $(($(now_s) - t0)) s"
}

# ---- wasm-pack (runs `wasm-pack test --headless --chrome`) ----------------------------------
setup_wasm_pack() {
  if command -v wasm-pack >/dev/null 2>&1 &&
    [[ "$(wasm-pack --version 2>/dev/null)" == "wasm-pack ${WASM_PACK_VERSION}" ]]; then
    log "wasm-pack ${WASM_PACK_VERSION}: present"
    return 0
  fi
  local t0
  t0=$(now_s)
  log "wasm-pack ${WASM_PACK_VERSION}: building from crates.io (about 2 min)"
  cargo install wasm-pack --version "${WASM_PACK_VERSION}" --locked --force
  log "wasm-pack ${WASM_PACK_VERSION}: installed in $(($(now_s) - t0)) s"
}

# ---- Debian chromium + chromium-driver (same version, one apt transaction) -----------------
setup_chromium() {
  if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    log "chromium + chromedriver: present"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install chromium and chromium-driver by hand"
  local t0
  t0=$(now_s)
  log "chromium + chromium-driver: installing from Debian"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    chromium chromium-driver </dev/null
  [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] ||
    die "apt-get finished but /usr/bin/chromium or /usr/bin/chromedriver is missing"
  log "chromium + chromium-driver: installed in $(($(now_s) - t0)) s"
}

# ---- npm dev dependencies (playwright-core for the page end-to-end tests) -------------------
setup_npm() {
  local root="$AMI3_ROOT" stamp="$AMI3_ROOT/node_modules/.package-lock.json"
  if [[ -f "$stamp" && "$stamp" -nt "$root/package.json" &&
    (! -f "$root/package-lock.json" || "$stamp" -nt "$root/package-lock.json") ]]; then
    log "npm dev dependencies: up to date"
    return 0
  fi
  local t0
  t0=$(now_s)
  if [[ -f "$root/package-lock.json" ]]; then
    (cd "$root" && npm ci --no-audit --no-fund </dev/null)
  else
    (cd "$root" && npm install --no-audit --no-fund </dev/null)
  fi
  # npm may leave the stamp older than a package.json touched later; refresh it.
  touch "$stamp"
  log "npm dev dependencies: installed in $(($(now_s) - t0)) s"
}

# ---- nightly wasm32 + rust-src (for the threaded wasm-bindgen-rayon build) ------------------
# Never fatal: only the threaded build needs it. Returns 1 if nightly is unusable, so a caller
# that needs it can stop with its own message.
setup_nightly() {
  local toolchains
  toolchains="$(rustup toolchain list)"
  if ! grep -q '^nightly' <<<"$toolchains"; then
    log "WARNING: no 'nightly' rustup toolchain on this machine; the threaded (rayon) wasm build is unavailable"
    return 1
  fi
  local have_target=0 have_src=0 targets components
  targets="$(rustup target list --installed --toolchain nightly 2>/dev/null || true)"
  components="$(rustup component list --installed --toolchain nightly 2>/dev/null || true)"
  grep -qx 'wasm32-unknown-unknown' <<<"$targets" && have_target=1
  grep -q '^rust-src' <<<"$components" && have_src=1
  if ((have_target && have_src)); then
    log "nightly wasm32 target + rust-src: present"
    return 0
  fi
  local t0
  t0=$(now_s)
  if ! rustup target add wasm32-unknown-unknown --toolchain nightly ||
    ! rustup component add rust-src --toolchain nightly; then
    log "WARNING: could not add wasm32-unknown-unknown / rust-src to nightly; the threaded (rayon) wasm build is unavailable (the rest works)"
    return 1
  fi
  log "nightly wasm32 target + rust-src: installed in $(($(now_s) - t0)) s"
}

# ---- Python venv for the product checks ---------------------------------------------------
setup_python() {
  bash "$AMI3_ROOT/scripts/pyenv.sh"
}

setup_main() {
  local steps=("$@") t0
  t0=$(now_s)
  ((${#steps[@]})) || steps=(rust-target wasm-bindgen wasm-pack chromium npm nightly python)
  local step
  for step in "${steps[@]}"; do
    case "$step" in
      rust-target) setup_rust_target ;;
      wasm-bindgen) setup_wasm_bindgen ;;
      wasm-pack) setup_wasm_pack ;;
      chromium) setup_chromium ;;
      npm) setup_npm ;;
      nightly) setup_nightly || true ;;
      python) setup_python ;;
      *) die "unknown setup step '$step' (known: rust-target wasm-bindgen wasm-pack chromium npm nightly python)" ;;
    esac
  done
  log "setup done in $(($(now_s) - t0)) s"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  AMI3_LOG_TAG=setup
  setup_main "$@"
fi
