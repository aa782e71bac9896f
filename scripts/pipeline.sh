#!/usr/bin/env bash
# The headless pipeline: train + sample + evaluate on all cores, then execute every notebook.
#
#   bash scripts/pipeline.sh [--profile smoke|quick|paper] [--out DIR] [--dry-run]
#   OVERRIDES='{"samples": 128}' bash scripts/pipeline.sh --profile smoke   (config overrides, as JSON)
# The profile and folder also come from the environment the notebooks read: PROFILE (default quick)
# and OUT_DIR (default results/<profile>); a flag wins over the variable. --dry-run prints the
# resolved profile, folder and experiment command, and exits.
#
# 1. `npm run experiment -- --variant all --profile P --out DIR` (worker threads over all cores):
#    checkpoints/, samples/*.npy, results.json, table1.csv, table1.md, runs.csv, losses.csv.
# 2. scripts/run_notebooks.py runs notebooks/[0-9][0-9]_*.ipynb with PROFILE, OUT_DIR and OVERRIDES
#    set, one per core at a time (NOTEBOOK_JOBS=1: one by one, in order); they only read what step 1
#    wrote (checkpoints, results), never each other's output. Executed copies go to DIR/notebooks/,
#    figures (PNG, SVG, PDF) to DIR/figures/.
# 3. DIR/run.json: versions, config, seeds, timings per step and per notebook.
# A failing step (or notebook cell) stops the run with exit status 1 and prints the real error.
set -euo pipefail
export PYDEVD_DISABLE_FILE_VALIDATION=1

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROFILE=${PROFILE:-quick}
OUT=${OUT_DIR:-}
DRY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE=${2?--profile needs a value}; shift 2 ;;
    --profile=*) PROFILE=${1#*=}; shift ;;
    --out) OUT=${2?--out needs a value}; [ -n "$OUT" ] || { echo "pipeline: --out needs a folder, got an empty path" >&2; exit 2; }; shift 2 ;;
    --out=*) OUT=${1#*=}; [ -n "$OUT" ] || { echo "pipeline: --out needs a folder, got an empty path" >&2; exit 2; }; shift ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "pipeline: unknown argument '$1' (usage: scripts/pipeline.sh [--profile smoke|quick|paper] [--out DIR] [--dry-run])" >&2; exit 2 ;;
  esac
done
case "$PROFILE" in smoke|quick|paper) ;; *) echo "pipeline: unknown profile '$PROFILE' (expected smoke, quick or paper)" >&2; exit 2 ;; esac
OUT=${OUT:-$ROOT/results/$PROFILE}
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac  # relative to where the pipeline was started
OVERRIDES=${OVERRIDES:-"{}"}
cd "$ROOT"
# Overrides as CLI flags, one array element each (never word-split; checked again by the CLI:
# unknown keys and bad types are errors). Only numbers, strings and booleans are config values.
FLAGS_FILE=$(mktemp)
trap 'rm -f "$FLAGS_FILE"' EXIT
OVERRIDES="$OVERRIDES" node -e '
  const fail = (m) => { console.error(`pipeline: ${m}`); process.exit(2); };
  let o; try { o = JSON.parse(process.env.OVERRIDES); } catch (e) { fail(`OVERRIDES is not JSON: ${e.message}`); }
  if (typeof o !== "object" || o === null || Array.isArray(o)) fail(`OVERRIDES must be a JSON object like {"epochs": 500}, got ${process.env.OVERRIDES}`);
  for (const [k, v] of Object.entries(o)) {
    // What the pipeline sets itself (its experiment command and the notebooks both use them) cannot
    // be overridden: a later --profile/--out would win for the experiment only.
    const own = { profile: "use --profile or PROFILE", out: "use --out or OUT_DIR", variant: "the pipeline runs every variant", data: "the pipeline and its notebooks use data/" };
    if (Object.prototype.hasOwnProperty.call(own, k)) fail(`OVERRIDES cannot set "${k}": the pipeline sets it itself (${own[k]}); OVERRIDES holds config keys only`);
    if (!["number", "string", "boolean"].includes(typeof v)) fail(`OVERRIDES key "${k}" must be a number, string or boolean, got ${JSON.stringify(v)}`);
    process.stdout.write(`--${k}=${v}\0`);
  }' > "$FLAGS_FILE" || exit 2
FLAGS=()
mapfile -d '' FLAGS < "$FLAGS_FILE"
if [ "$DRY" = 1 ]; then
  printf 'pipeline: profile %s, out %s\n' "$PROFILE" "$OUT"
  printf 'pipeline: npm run experiment -- --variant all --profile %s --out %s' "$PROFILE" "$OUT"
  for f in ${FLAGS[@]+"${FLAGS[@]}"}; do printf ' %q' "$f"; done
  printf '\n'
  exit 0
fi
# The notebooks load the compiled library (build/); rebuild it when src/ changed (a second when not).
npm run --silent build || { echo "pipeline: npm run build failed (see tsc's messages above)" >&2; exit 1; }
mkdir -p "$OUT" || { echo "pipeline: cannot create output folder $OUT" >&2; exit 1; }
OUT=$(cd "$OUT" && pwd)
# One writer per output folder: the pipeline holds the lock; the experiment and the notebooks it
# starts write under it (OUTPUT_LOCK_TOKEN), any other run gets an error naming this one.
OUTPUT_LOCK_TOKEN=$(npx ts-node --transpile-only scripts/output-lock.ts acquire "$OUT" --pid $$ --command "scripts/pipeline.sh --profile $PROFILE") || exit 1
export OUTPUT_LOCK_TOKEN
trap 'rm -f "$FLAGS_FILE"; grep -qs "$OUTPUT_LOCK_TOKEN" "$OUT/.lock" && rm -f "$OUT/.lock"' EXIT

# 0. Check the tools before spending time on training.
[ -x /usr/bin/jupyter ] || { echo "pipeline: /usr/bin/jupyter not found; run 'sudo sh scripts/setup-jupyter.sh'" >&2; exit 1; }
# The registered kernel must start: a spec left by a moved or deleted clone names a tslab that is gone.
# (one `jupyter kernelspec list`, about a second: the JSON says both whether tslab is there and what it runs)
KERNEL_TSLAB=$(/usr/bin/jupyter kernelspec list --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys,os
specs = json.load(sys.stdin)["kernelspecs"]
if "tslab" not in specs: sys.exit(3)
print(json.load(open(os.path.join(specs["tslab"]["resource_dir"], "kernel.json")))["argv"][0])') \
  || { [ $? = 3 ] && echo "pipeline: no tslab Jupyter kernel; run 'sudo sh scripts/setup-jupyter.sh'" >&2 || echo "pipeline: cannot read the tslab kernel's kernel.json; run 'sudo sh scripts/setup-jupyter.sh'" >&2; exit 1; }
[ -x "$KERNEL_TSLAB" ] || { echo "pipeline: the tslab Jupyter kernel runs $KERNEL_TSLAB, which does not exist (registered from a moved or deleted clone); run 'sudo sh scripts/setup-jupyter.sh' here" >&2; exit 1; }
[ "$KERNEL_TSLAB" -ef node_modules/.bin/tslab ] || echo "pipeline: note: the tslab kernel is this machine's registration from another clone ($KERNEL_TSLAB); the notebooks still load this clone's build/" >&2
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "pipeline: Chromium not found at $CHROMIUM; run 'sudo sh scripts/setup-jupyter.sh' or set CHROMIUM_PATH" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "pipeline: profile $PROFILE, out $OUT, overrides $OVERRIDES"

# 1. Train, sample and evaluate every variant on all cores.
t0=$(now)
# (the compiled library just built, as the notebooks use it: the same code as `npm run experiment`
# without ts-node's few seconds of transpiling src/ at start)
node build/cli/experiment.js --variant all --profile "$PROFILE" --out "$OUT" ${FLAGS[@]+"${FLAGS[@]}"} 2>&1 | tee "$OUT/experiment.log"
t1=$(now)

# 2. Execute the notebooks, one per core at a time; they reuse step 1's checkpoints and results.
mkdir -p "$OUT/notebooks"
/usr/bin/python3 -u scripts/run_notebooks.py --out "$OUT/notebooks" --jobs "${NOTEBOOK_JOBS:-0}" \
  --env PROFILE="$PROFILE" --env OUT_DIR="$OUT" --env OVERRIDES="$OVERRIDES" \
  notebooks/[0-9][0-9]_*.ipynb 2>&1 | tee "$OUT/notebooks/run_notebooks.log"
t2=$(now)

# 3. run.json: versions, config, seeds, timings.
npx ts-node --transpile-only scripts/run-info.ts --out "$OUT" --profile "$PROFILE" --started "$STARTED" \
  --step "experiment=$(elapsed "$t0" "$t1")" --step "notebooks=$(elapsed "$t1" "$t2")" \
  --notebook-log "$OUT/notebooks/run_notebooks.log" --overrides "$OVERRIDES"
echo "pipeline: done in $(elapsed "$t0" "$(now)") s -> $OUT"
