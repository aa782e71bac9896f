#!/usr/bin/env bash
# The headless pipeline: train + sample + evaluate on all cores, then execute every notebook.
#
#   bash scripts/pipeline.sh [--profile smoke|quick|paper] [--out DIR]      (default: quick, results/<profile>)
#   OVERRIDES='{"samples": 128}' bash scripts/pipeline.sh --profile smoke   (config overrides, as JSON)
#
# 1. `npm run experiment -- --variant all --profile P --out DIR` (worker threads over all cores):
#    checkpoints/, samples/*.npy, results.json, table1.csv, table1.md, runs.csv, losses.csv.
# 2. scripts/run_notebooks.py runs notebooks/[0-9][0-9]_*.ipynb in order with PROFILE, OUT_DIR and
#    OVERRIDES set; they reuse the checkpoints and results of step 1. Executed copies go to
#    DIR/notebooks/, figures (PNG, SVG, PDF) to DIR/figures/.
# 3. DIR/run.json: versions, config, seeds, timings per step and per notebook.
# A failing step (or notebook cell) stops the run with exit status 1 and prints the real error.
set -euo pipefail
export PYDEVD_DISABLE_FILE_VALIDATION=1

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROFILE=quick
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE=${2:?--profile needs a value}; shift 2 ;;
    --profile=*) PROFILE=${1#*=}; shift ;;
    --out) OUT=${2:?--out needs a value}; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "pipeline: unknown argument '$1' (usage: scripts/pipeline.sh [--profile smoke|quick|paper] [--out DIR])" >&2; exit 2 ;;
  esac
done
case "$PROFILE" in smoke|quick|paper) ;; *) echo "pipeline: unknown profile '$PROFILE' (expected smoke, quick or paper)" >&2; exit 2 ;; esac
OUT=${OUT:-$ROOT/results/$PROFILE}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
OVERRIDES=${OVERRIDES:-"{}"}
cd "$ROOT"

# 0. Check the tools before spending time on training.
[ -x /usr/bin/jupyter ] || { echo "pipeline: /usr/bin/jupyter not found; run 'sudo sh scripts/setup-jupyter.sh'" >&2; exit 1; }
/usr/bin/jupyter kernelspec list 2>/dev/null | grep -w tslab >/dev/null || { echo "pipeline: no tslab Jupyter kernel; run 'sudo sh scripts/setup-jupyter.sh'" >&2; exit 1; }
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "pipeline: Chromium not found at $CHROMIUM; run 'sudo sh scripts/setup-jupyter.sh' or set CHROMIUM_PATH" >&2; exit 1; }
# Overrides as CLI flags (checked again by the CLI: unknown keys and bad types are errors).
FLAGS=$(OVERRIDES="$OVERRIDES" node -e '
  let o; try { o = JSON.parse(process.env.OVERRIDES); } catch (e) { console.error(`pipeline: OVERRIDES is not JSON: ${e.message}`); process.exit(2); }
  if (typeof o !== "object" || o === null || Array.isArray(o)) { console.error("pipeline: OVERRIDES must be a JSON object"); process.exit(2); }
  console.log(Object.entries(o).map(([k, v]) => `--${k}=${v}`).join(" "));')

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "pipeline: profile $PROFILE, out $OUT, overrides $OVERRIDES"

# 1. Train, sample and evaluate every variant on all cores.
t0=$(now)
# shellcheck disable=SC2086
npm run --silent experiment -- --variant all --profile "$PROFILE" --out "$OUT" $FLAGS 2>&1 | tee "$OUT/experiment.log"
t1=$(now)

# 2. Execute the notebooks in order; they reuse step 1's checkpoints and results.
mkdir -p "$OUT/notebooks"
/usr/bin/python3 -u scripts/run_notebooks.py --out "$OUT/notebooks" \
  --env PROFILE="$PROFILE" --env OUT_DIR="$OUT" --env OVERRIDES="$OVERRIDES" \
  notebooks/[0-9][0-9]_*.ipynb 2>&1 | tee "$OUT/notebooks/run_notebooks.log"
t2=$(now)

# 3. run.json: versions, config, seeds, timings.
npx ts-node --transpile-only scripts/run-info.ts --out "$OUT" --profile "$PROFILE" --started "$STARTED" \
  --step "experiment=$(elapsed "$t0" "$t1")" --step "notebooks=$(elapsed "$t1" "$t2")" \
  --notebook-log "$OUT/notebooks/run_notebooks.log" --overrides "$OVERRIDES"
echo "pipeline: done in $(elapsed "$t0" "$(now)") s -> $OUT"
