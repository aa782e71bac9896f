#!/bin/sh
# Install Jupyter (Debian packages: the headless parts, the Notebook 6.4 server, Chromium) and
# register the project's local tslab as the `tslab` kernel. One part of scripts/setup.sh, which
# installs everything the project needs; this script alone is enough for the notebooks.
#
# Idempotent; run as root from anywhere inside a clone after `npm ci`:
#   sudo sh scripts/setup-jupyter.sh
# The kernel spec points at THIS clone's node_modules/.bin/tslab (absolute path), so rerun the
# script after moving the clone. At kernel start tslab also prefers a node_modules/tslab found
# above the notebook's folder, so notebooks always run with the project's pinned tslab.
set -eu
export PYDEVD_DISABLE_FILE_VALIDATION=1  # silences a debugpy warning from the Debian Python

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACKAGES="jupyter-nbconvert jupyter-client python3-ipython python3-nbclient python3-ipykernel jupyter-notebook chromium"
PYTHON=/usr/bin/python3
JUPYTER=/usr/bin/jupyter
TSLAB="$ROOT/node_modules/.bin/tslab"

# 1. Debian packages, only when one is missing (keeps repeated runs fast).
missing=""
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
  [ "$(id -u)" = 0 ] || { echo "setup-jupyter: need root to apt-get install:$missing" >&2; exit 1; }
  echo "setup-jupyter: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing
else
  echo "setup-jupyter: Debian packages already installed"
fi

# 2. The local tslab must exist (npm ci installs it with the other dependencies).
if [ ! -x "$TSLAB" ]; then
  echo "setup-jupyter: $TSLAB not found; run 'npm ci' in $ROOT first" >&2
  exit 1
fi
command -v node >/dev/null || { echo "setup-jupyter: node is not on PATH" >&2; exit 1; }

# 3. Register the kernels (tslab and jslab); install_kernel_spec replaces an older spec.
"$TSLAB" install --python "$PYTHON" --binary "$TSLAB"

# 4. Verify.
"$JUPYTER" kernelspec list
spec=$("$JUPYTER" kernelspec list --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["kernelspecs"]["tslab"]["resource_dir"])')
grep -q "$TSLAB" "$spec/kernel.json" || { echo "setup-jupyter: $spec/kernel.json does not use $TSLAB" >&2; exit 1; }
echo "setup-jupyter: tslab kernel -> $TSLAB"
