#!/usr/bin/env bash
# Installs everything wirelessdata needs on a fresh Debian 12 / Python 3.11 machine:
# system libraries (LLVM 19 for Dr.Jit's CPU backend, libusb and libgomp for open3d),
# then a virtual environment in .venv with the package and its extras.
# Idempotent: a second run only checks that everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg in libllvm19 libusb-1.0-0 libgomp1; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install: apt packages ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.wirelessdata-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  pip() { .venv/bin/python -m pip "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }; }
  pip install -q --upgrade pip
  # torch first and pinned: the CPU wheel on this disk; an open range would pull a multi-GB CUDA build.
  pip install -q "torch==2.13.0"
  pip install -q -e ".[all,dev]" "torch==2.13.0"
  touch "$stamp"
fi
echo "install: ready (.venv)"
