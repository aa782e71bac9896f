#!/usr/bin/env bash
# Serve the notebooks to a browser: the classic Jupyter Notebook 6.4 server (Debian's
# jupyter-notebook) in notebooks/, on 127.0.0.1 only, with the project's tslab kernel.
#
#   npm run notebook                      # port 8888
#   npm run notebook -- --port 8899
#   PROFILE=smoke npm run notebook        # environment variables reach the notebooks' parameter cells
#
# Prints the URL with its access token once the server answers; open it, pick a notebook, run its
# cells (Shift-Enter, or Cell > Run All). Stop with Ctrl-C (twice) or by killing the printed process
# id; the server shuts its kernels down when it stops. The token is random per start unless
# JUPYTER_TOKEN is set; it reaches the server through the environment (JUPYTER_TOKEN), never its
# command line, which every local user can read with `ps`.
# Set-up once: sudo bash scripts/setup.sh
set -euo pipefail
export PYDEVD_DISABLE_FILE_VALIDATION=1  # silences a debugpy warning from the Debian Python
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JUPYTER=/usr/bin/jupyter   # Debian's; a pyenv `jupyter`/`python3` on PATH has no Notebook server
PYTHON=/usr/bin/python3
TSLAB="$ROOT/node_modules/.bin/tslab"

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "notebook: $*" >&2; exit 1; }

port=8888
while (($#)); do
  case "$1" in
    --port) [ $# -ge 2 ] || die "--port needs a value"; port=$2; shift 2 ;;
    --port=*) port=${1#--port=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (expected --port N)" ;;
  esac
done
[[ "$port" =~ ^[0-9]+$ ]] && ((port >= 1 && port <= 65535)) || die "--port must be an integer in [1, 65535], got '$port'"
# A busy port is an error before anything else (no URL is printed for a server that cannot start).
"$PYTHON" - "$port" <<'PY' || die "port $port on 127.0.0.1 is in use; choose another with --port N"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY

# 1. Is Jupyter set up? Each missing piece names the command that fixes it.
[ -x "$JUPYTER" ] || die "$JUPYTER not found: Jupyter is not set up; run 'sudo bash scripts/setup.sh'"
"$JUPYTER" notebook --version >/dev/null 2>&1 \
  || die "the Notebook server is not installed ('$JUPYTER notebook' fails); run 'sudo bash scripts/setup.sh' (Debian package jupyter-notebook)"
[ -x "$TSLAB" ] || die "$TSLAB not found: run 'npm ci' in $ROOT, then 'sudo bash scripts/setup.sh'"
spec=$("$JUPYTER" kernelspec list --json 2>/dev/null | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["kernelspecs"].get("tslab", {}).get("resource_dir", ""))')
[ -n "$spec" ] || die "no 'tslab' Jupyter kernel registered; run 'sudo bash scripts/setup.sh'"
grep -q "$TSLAB" "$spec/kernel.json" \
  || die "the tslab kernel ($spec/kernel.json) belongs to another clone, not $TSLAB; run 'sudo bash scripts/setup.sh' here"
command -v node >/dev/null || die "node is not on PATH (the tslab kernel runs on it)"

# 2. The notebooks load the compiled library (build/): rebuild it when src/ changed (a second when not).
(cd "$ROOT" && npm run --silent build) || die "npm run build failed (see tsc's messages above)"

# 3. Start the server in notebooks/ (the kernel must start there: the notebooks import ../build/notebook).
# The token goes through the environment: the Notebook server reads JUPYTER_TOKEN.
JUPYTER_TOKEN=${JUPYTER_TOKEN:-$("$PYTHON" -c 'import secrets; print(secrets.token_hex(24))')}
export JUPYTER_TOKEN
extra=()
[ "$(id -u)" != 0 ] || extra+=(--allow-root)   # the Notebook server refuses root without it
echo "notebook: serving $ROOT/notebooks, process $$"
# The URL is printed once this server answers with this token (not before: a server that fails to
# start must not leave a URL behind). The check reads the token from the environment too.
server=$$
(
  for _ in $(seq 1200); do
    kill -0 "$server" 2>/dev/null || exit 0
    if "$PYTHON" - "$port" <<'PY'
import os, sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/api/status", headers={"Authorization": "token " + os.environ["JUPYTER_TOKEN"]})
try:
    sys.exit(0 if urllib.request.urlopen(req, timeout=2).status == 200 else 1)
except Exception:
    sys.exit(1)
PY
    then
      echo "notebook: open http://127.0.0.1:$port/tree?token=$JUPYTER_TOKEN"
      exit 0
    fi
    sleep 0.25
  done
) &
cd "$ROOT/notebooks"
exec "$JUPYTER" notebook \
  --no-browser --ip=127.0.0.1 --port="$port" --port-retries=0 \
  --notebook-dir="$ROOT/notebooks" \
  --MultiKernelManager.default_kernel_name=tslab \
  "${extra[@]}"
