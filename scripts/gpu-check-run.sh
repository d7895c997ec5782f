#!/usr/bin/env bash
# Runs nnc's GPU check from this folder (made by scripts/gpu-check-pack.sh): no Node, node_modules
# or network needed. Flags pass through to bench/gpu-check.ts (e.g. --train-limit 512). It runs in a
# copy under $TMPDIR (or NNC_GPU_CHECK_WORK); figures go to --out FILE, else that copy's bench/results/.
set -euo pipefail
src="${BASH_SOURCE[0]}"
[ "${src%/*}" = "$src" ] && here="$PWD" || here="$(cd "${src%/*}" && pwd)"
# The carried folder stays as packed (small enough to carry again): the run happens in a copy.
work="${NNC_GPU_CHECK_WORK:-${TMPDIR:-/tmp}/nnc-gpu-check}"
if [ ! -e "$work/run.sh" ] || [ "$here/run.sh" -nt "$work/run.sh" ]; then
  rm -rf "$work" && mkdir -p "$work" && cp -R "$here/." "$work/"
fi
here="$work"
# Unpacks FILE.xz once: with xz, else with Python's lzma module.
unpack() {
  [ -e "$1" ] && return 0
  if command -v xz >/dev/null 2>&1; then
    xz -d -c "$1.xz" >"$1.partial"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1.xz" "$1.partial"
  else
    echo "gpu-check: cannot unpack $1.xz: neither xz nor python3 is here" >&2
    exit 2
  fi
  chmod +x "$1.partial" && mv "$1.partial" "$1"
}
unpack "$here/node"
unpack "$here/node_modules/webgpu/dist/linux-x64/dawn.node"
unpack "$here/node_modules/esbuild/bin/esbuild"
have_loader() {
  local lib="${LD_LIBRARY_PATH:-}"
  for d in ${lib//:/ } /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /lib64 /usr/lib /lib; do [ -e "$d/libvulkan.so.1" ] && return 0; done
  { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true; } | grep -q 'libvulkan\.so\.1'
}
if ! have_loader && [ -e "$here/lib/libvulkan.so.1" ]; then
  export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "gpu-check: no system Vulkan loader; using the carried $here/lib/libvulkan.so.1"
fi
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && ! ls /etc/vulkan/icd.d/nvidia*.json /usr/share/vulkan/icd.d/nvidia*.json >/dev/null 2>&1; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/icd.d/nvidia_icd.json; do
    if [ -e "$f" ]; then export VK_DRIVER_FILES="$f"; echo "gpu-check: VK_DRIVER_FILES=$f"; break; fi
  done
fi
export ESBUILD_BINARY_PATH="$here/node_modules/esbuild/bin/esbuild"
export NNC_ROOT="$here" NNC_DATA="${NNC_DATA:-$here/data/mnist}"
cd "$here"
exec "$here/node" "$here/src/compiler/targets/standalone/gpu-check.mjs" --data "$NNC_DATA" "$@"
