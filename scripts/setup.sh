#!/usr/bin/env bash
# Everything this project needs from Debian 12, in one idempotent step (after `npm ci`):
#
#   bash scripts/setup.sh
#
# As root (a container) it installs directly; as another user it runs apt-get through sudo (and
# says so when sudo is missing). Nothing else needs root.
#
# 1. installs the missing Debian packages, all in one apt-get call:
#    - Jupyter's headless parts (nbconvert, nbclient, ipykernel: scripts/run_notebooks.py, the pipeline)
#      and the classic Notebook 6.4 server (`npm run notebook`, test/notebook-browser.test.ts);
#    - Chromium (figure export, the browser test), driven by playwright-core; no browser is downloaded;
#    - PyTorch 1.13 with OpenBLAS and numpy (bench/, bench/make-reference-values.py, test/reference.test.ts);
# 2. checks that torch really loads OpenBLAS (bench/setup-torch.sh);
# 3. registers this clone's node_modules/.bin/tslab as the `tslab` Jupyter kernel (scripts/setup-jupyter.sh).
# A second run installs nothing and only re-checks (a few seconds). Rerun it after moving the clone.
set -euo pipefail
export PYDEVD_DISABLE_FILE_VALIDATION=1  # silences a debugpy warning from the Debian Python
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

PACKAGES=(
  # Jupyter, headless, and the Notebook server
  jupyter-nbconvert jupyter-client python3-ipython python3-nbclient python3-ipykernel jupyter-notebook
  # figure export and the browser test
  chromium
  # the PyTorch reference (benchmark, golden test values)
  python3-torch libopenblas0 python3-numpy
)

start=$(date +%s)

# 1. Debian packages: only when one is missing, so repeated runs are quick and need no network.
missing=()
for p in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  as_root=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "setup: installing ${missing[*]} needs root, and sudo is not installed: run this script as root" >&2; exit 1; }
    as_root=(sudo)
  fi
  echo "setup: installing ${missing[*]}${as_root[*]:+ (through sudo)}"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages already installed (${#PACKAGES[@]})"
fi

# 2. torch must use OpenBLAS, not the slow reference BLAS (the script installs nothing now).
bash "$ROOT/bench/setup-torch.sh"

# 3. The tslab kernel of this clone (needs `npm ci` first; the script says so if it was not run).
sh "$ROOT/scripts/setup-jupyter.sh"

# 4. What is installed now.
echo "setup: $(/usr/bin/jupyter notebook --version 2>/dev/null | sed 's/^/jupyter notebook /' || echo 'jupyter notebook MISSING')," \
  "$(/usr/bin/chromium --version 2>/dev/null || echo 'chromium MISSING')," \
  "node $(node --version)"
/usr/bin/jupyter notebook --version >/dev/null 2>&1 || { echo "setup: /usr/bin/jupyter notebook does not run" >&2; exit 1; }
echo "setup: OK in $(($(date +%s) - start)) s"
