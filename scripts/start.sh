#!/usr/bin/env bash
# Build the page (scripts/build-web.sh: plain and threaded wasm, vendored JS; cargo rebuilds only
# what changed) and serve www/ on http://127.0.0.1:8080/ with the cross-origin isolation headers,
# so that the page can use the threaded build. The server prints the URL; open it and press Demo.
#
#   npm start                          # or: bash scripts/start.sh
#   PORT=9000 npm start
#   npm start -- --no-isolation        # serve without COOP/COEP/CORP (single-threaded fallback)
#   AMI3_NO_ISOLATION=1 npm start      # same
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
AMI3_LOG_TAG=start

bash "$AMI3_ROOT/scripts/build-web.sh" "$AMI3_ROOT/www/pkg"
log "serving www/ (Ctrl-C to stop)"
exec node "$AMI3_ROOT/scripts/serve.mjs" "$@" "$AMI3_ROOT/www" "${PORT:-8080}"
