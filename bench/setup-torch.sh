#!/usr/bin/env bash
# Install the PyTorch reference's dependencies from Debian (PyPI is not reachable here) and check that
# the BLAS torch will load is OpenBLAS, not the slow reference BLAS.
# Idempotent: apt-get runs only when a package is missing. Needs root (apt-get) for the install step.
# One part of scripts/setup.sh (which installs everything the project needs); alone it is enough for
# the benchmark and bench/make-reference-values.py.
# Usage: sudo bash bench/setup-torch.sh
set -euo pipefail

PKGS=(python3-torch libopenblas0 python3-numpy)
ALT=libblas.so.3-x86_64-linux-gnu
PY=/usr/bin/python3   # the Debian interpreter; a pyenv python3 on PATH has no torch

# 1. Install what is missing.
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup-torch: need root to install ${missing[*]}: run 'sudo bash bench/setup-torch.sh'" >&2
    exit 1
  fi
  if pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null; then
    echo "setup-torch: another apt-get/dpkg is running; wait for it, then run this again" >&2
    exit 1
  fi
  echo "setup-torch: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup-torch: ${PKGS[*]} already installed"
fi

# 2. Which BLAS does libblas.so.3 resolve to?
echo "setup-torch: update-alternatives --display $ALT"
update-alternatives --display "$ALT" | sed 's/^/  /'
target=$(readlink -f "/usr/lib/x86_64-linux-gnu/libblas.so.3" || true)
echo "setup-torch: libblas.so.3 -> $target"
if [[ "$target" != *openblas* ]]; then
  echo "setup-torch: WARNING: libblas.so.3 is NOT OpenBLAS; torch will use the slow reference BLAS." >&2
  echo "setup-torch: fix with: update-alternatives --set $ALT /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3" >&2
  exit 2
fi

# 3. Confirm inside a torch process (what the benchmark itself reports).
"$PY" - <<'PYEOF'
import torch
a = torch.randn(64, 64); (a @ a).sum().item()
libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.split()[-1]})
print("setup-torch: torch", torch.__version__, "loaded:", ", ".join(libs))
PYEOF
echo "setup-torch: OK (OpenBLAS)"
