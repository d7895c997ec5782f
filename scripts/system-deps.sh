#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real (listed in scripts/system-packages.txt):
# Neovim (language-server client), Chromium (browser tests), PyTorch (the pytorch target),
# Mesa's EGL/GL/Vulkan software drivers (WebGPU through Dawn on the software adapter).
# Quick when everything is present; needs root (or sudo) only when something is missing.
set -euo pipefail
cd "$(dirname "$0")"
mapfile -t wanted < <(grep -v '^\s*#' system-packages.txt | awk 'NF {print $1}')
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "nnc: missing system packages (${missing[*]}) and no apt-get here: install them by hand; the tests that drive them will fail" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "nnc: missing system packages (${missing[*]}); run as root: apt-get install -y ${missing[*]}" >&2
    exit 0
  fi
fi
echo "nnc: installing system packages the tests need: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
