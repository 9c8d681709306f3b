#!/usr/bin/env bash
# Scale benchmark (issue 12 item 4): SUB80 F480M cubes of 1, 100, 1,000 and 10,000 integrations
# made by our simulator (examples/make_cube.rs), each reduced by `ami3 run` (one science member,
# the built-in F480M curve); prints a Markdown row per cube: wall time, time per integration and
# peak resident memory (GNU time's "Maximum resident set size"). Not part of npm test.
# CMD=analyze reduces each cube with `ami3 analyze` instead (its four products, `_amilg` with
# every integration's images among them).
#
#   bash scripts/bench-scale.sh [NINT...]            (default: 1 100 1000 10000)
#   OLD=/work/main/target/release/ami3 bash scripts/bench-scale.sh 1000   (adds that binary's row)
#   CMD=analyze OLD=... bash scripts/bench-scale.sh 100 1000 10000
#   NEW=/tmp/ami3 ...                 (measures that binary as this branch's; no build)
#
# Cubes are written to $AMI3_BENCH_DIR (default /tmp/ami3-bench-scale) and reused; the page's
# side is scripts/bench-scale-page.mjs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${AMI3_BENCH_DIR:-/tmp/ami3-bench-scale}
NINTS=("$@")
[ ${#NINTS[@]} -gt 0 ] || NINTS=(1 100 1000 10000)
cd "$ROOT"
# NEW=path measures that binary as "this branch" (e.g. a copy, while the tree is rebuilt)
if [ -z "${NEW:-}" ]; then
  cargo build --release --quiet --bin ami3 --example make_cube
  NEW="$ROOT/target/release/ami3"
fi
mkdir -p "$DIR"
echo "| NINTS | file (MB) | binary | wall (s) | ms per integration | peak RSS (MB) |"
echo "|---:|---:|---|---:|---:|---:|"
for n in "${NINTS[@]}"; do
  asn="$DIR/long_${n}_asn.json"
  [ -f "$asn" ] || "${MAKE_CUBE:-target/release/examples/make_cube}" "$n" "$DIR" >/dev/null
  cube="$DIR/$(printf 'jw99998%07d_nis_calints.fits' "$n")"
  mb=$(awk -v b="$(stat -c %s "$cube")" 'BEGIN { printf "%.1f", b / 1e6 }')
  for bin in "$NEW" ${OLD:+"$OLD"}; do
    out=$(mktemp -d)
    if [ "${CMD:-run}" = analyze ]; then
      /usr/bin/time -v "$bin" analyze "$cube" --out "$out" >/dev/null 2>"$out.time" || { cat "$out.time"; exit 1; }
    else
      /usr/bin/time -v "$bin" run "$asn" --out "$out" >/dev/null 2>"$out.time" || { cat "$out.time"; exit 1; }
    fi
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$out.time")
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$out.time")
    per=$(awk -v w="$wall" -v n="$n" 'BEGIN { printf "%.1f", 1000 * w / n }')
    label=$([ "$bin" = "$NEW" ] && echo "this branch" || echo "$bin")
    echo "| $n | $mb | $label | $wall | $per | $rss |"
    rm -rf "$out" "$out.time"
  done
done
