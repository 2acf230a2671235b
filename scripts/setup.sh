#!/usr/bin/env bash
# Sets kneeseg up on Debian 12 with Node 20: system packages (libtorch), npm packages from the lock
# file, and the native binding. Idempotent: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

need_apt=()
dpkg -s libtorch-dev >/dev/null 2>&1 || need_apt+=(libtorch-dev)
# Gloo's headers: libtorch's c10d ProcessGroupGloo.hpp includes them (distributed data-parallel training)
dpkg -s libgloo-dev >/dev/null 2>&1 || need_apt+=(libgloo-dev)
# DejaVu Sans: the one font of every figure's text and the thickness maps' scale (src/data/figure-text.ts)
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need_apt+=(fonts-dejavu-core)
# PyTorch from Debian: the reference for parity checks and benchmarks (same libtorch)
dpkg -s python3-torch >/dev/null 2>&1 || need_apt+=(python3-torch python3-numpy python3-scipy)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++ make python3)
# headless Chromium for the viewer's browser tests (test/view/browser.test.ts)
dpkg -s chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

addon=native/build/Release/kneeseg_torch.node
if [ ! -f "$addon" ] || [ -n "$(find native/src native/binding.gyp -newer "$addon" 2>/dev/null)" ]; then
  echo "setup: building the libtorch binding (about a minute)"
  npm run --silent build:native >/tmp/kneeseg-native-build.log 2>&1 || {
    tail -40 /tmp/kneeseg-native-build.log
    echo "setup: the native build failed; full log in /tmp/kneeseg-native-build.log" >&2
    exit 1
  }
fi
if [ ! -f dist/view/app.js ] || [ -n "$(find src/view src/data/palette.ts -newer dist/view/app.js 2>/dev/null)" ]; then
  echo "setup: bundling the viewer page (npm run build:view)"
  npm run --silent build:view >/dev/null
fi
echo "setup: ready"
