#!/usr/bin/env bash
# Set up if needed, then subtitle the bundled sample twice: a first run that computes everything,
# and a re-run that the cache serves. Uses its own fresh cache so the first run is always cold.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CACHE_DIR="$PWD/out/demo-cache" CPWX_CONFIG="${CPWX_CONFIG:-config/.env.pipeline}"
rm -rf "$CACHE_DIR" out/demo
for pass in "first run (cold cache)" "re-run (cached)"; do
    echo
    echo "== $pass =="
    start=$(date +%s%N)
    .venv/bin/cpwx run samples/demo.mp4 --out out/demo
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    printf '%s: %d.%03d s wall, process start to exit\n' "$pass" $((ms / 1000)) $((ms % 1000))
done
echo
echo "Subtitles:"; cat out/demo/demo.en.srt | head -12
