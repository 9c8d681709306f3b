#!/usr/bin/env bash
# Build the wasm package the page loads: www/pkg/ami3.js + www/pkg/ami3_bg.wasm
# (ES module glue, `--target web`). Release profile, no wasm-opt.
#
#   bash scripts/build-web.sh [OUT_DIR]     # OUT_DIR defaults to www/pkg
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=scripts/setup.sh
source "$AMI3_ROOT/scripts/setup.sh"
AMI3_LOG_TAG=build-web

out="${1:-$AMI3_ROOT/www/pkg}"
cd "$AMI3_ROOT"
setup_rust_target
setup_wasm_bindgen

t0=$(now_s)
cargo build --release --lib --target wasm32-unknown-unknown
target_dir="${CARGO_TARGET_DIR:-$AMI3_ROOT/target}"
wasm="$target_dir/wasm32-unknown-unknown/release/ami3.wasm"
[[ -f "$wasm" ]] || die "cargo did not produce $wasm"
wasm-bindgen --target web --out-dir "$out" "$wasm"
log "built $(du -h "$out/ami3_bg.wasm" | cut -f1) wasm into ${out#"$AMI3_ROOT"/} in $(($(now_s) - t0)) s"
