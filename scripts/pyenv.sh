#!/usr/bin/env bash
# Create (idempotently) the Python virtual environment .venv in the repository root with the
# packages pinned in tests/python/requirements.txt (astropy, stdatamodels, oifits, pytest).
# Only the product checks use it; the pipeline itself needs no Python.
#
#   bash scripts/pyenv.sh          # create or update .venv
#   PYTHON=python3.11 bash scripts/pyenv.sh
#
# Reinstalls only when requirements.txt changed (a hash is kept in .venv/.requirements.sha256)
# or the venv is missing or broken.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
AMI3_LOG_TAG=pyenv

venv="$AMI3_ROOT/.venv"
req="$AMI3_ROOT/tests/python/requirements.txt"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

[[ -f "$req" ]] || die "missing $req"
command -v "$python" >/dev/null 2>&1 || die "'$python' not found: install CPython >= 3.11 (or set PYTHON=...)"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' ||
  die "$("$python" --version 2>&1) is too old: astropy 8 and stdatamodels 6 need Python >= 3.11"

want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] &&
  "$venv/bin/python" -c 'import astropy, stdatamodels, oifits, pytest' 2>/dev/null; then
  log "venv .venv: up to date"
  exit 0
fi

t0=$(now_s)
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
  rm -rf "$venv"
  log "creating .venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv" ||
    die "'$python -m venv' failed (on Debian's own python3: apt-get install python3-venv)"
fi
log "installing tests/python/requirements.txt into .venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$req" </dev/null
echo "$want" >"$stamp"
log "venv .venv: ready in $(($(now_s) - t0)) s"
