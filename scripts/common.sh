# shellcheck shell=bash
# Helpers shared by the scripts in this folder. Source it; it runs nothing by itself
# except setting AMI3_ROOT and PATH.

# Repository root: the parent of this file's folder, whatever the caller's cwd.
AMI3_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
export AMI3_ROOT

# `cargo install` puts tools here; a fresh CI shell may not have it on PATH yet.
case ":$PATH:" in
  *":${CARGO_HOME:-$HOME/.cargo}/bin:"*) ;;
  *) PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH" ;;
esac
export PATH

# Versions that must agree with Cargo.lock / the toolchain recipe (shared/spec/toolchain.md).
export WASM_BINDGEN_VERSION="0.2.130"
export WASM_PACK_VERSION="0.15.1"

log() { printf '[%s] %s\n' "${AMI3_LOG_TAG:-ami3}" "$*" >&2; }
die() {
  printf '[%s] ERROR: %s\n' "${AMI3_LOG_TAG:-ami3}" "$*" >&2
  exit 1
}

# Run a command as root: directly when we are root, else through sudo.
as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# Seconds since the epoch, for the timings the scripts print.
now_s() { date +%s; }
