#!/usr/bin/env bash
# `npm run gpu-check:pack`: everything scripts/gpu-check.sh needs, in one folder small enough to
# carry to a GPU machine that has neither Node, node_modules nor network (.gpu-check/, git-ignored,
# about 50 MB): the check and nnc bundled into one file by esbuild, the few native packages it
# loads at run time (Dawn from `webgpu`, esbuild, resvg), the .nn files, MNIST, the Vulkan loader
# and Node itself (xz-compressed; from .node/, so run `npm run fetch-node` first).
# On the GPU machine: `bash .gpu-check/run.sh [gpu-check flags]` (see bench/README.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.gpu-check"
data="${1:-${NNC_DATA:-$root/../shared/data/mnist}}"
cd "$root"
[ -x .node/bin/node ] || { echo "gpu-check-pack: no .node/bin/node: run \`npm run fetch-node\` first" >&2; exit 2; }
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  [ -e "$data/$f" ] || { echo "gpu-check-pack: $data/$f is missing: give the MNIST folder as the argument (or \$NNC_DATA)" >&2; exit 2; }
done
rm -rf "$out.partial"
mkdir -p "$out.partial"
p="$out.partial"
# The bundle sits where src/compiler/targets/standalone/embed.ts expects to find src/runtime/ (../../../runtime).
npx esbuild bench/gpu-check.ts --bundle --minify --platform=node --format=esm --target=node20 --log-level=warning \
  --outfile="$p/src/compiler/targets/standalone/gpu-check.mjs" \
  --external:webgpu --external:esbuild --external:@resvg/resvg-js --external:dejavu-fonts-ttf \
  --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --external:@tensorflow/tfjs-backend-wasm \
  '--banner:js=import { createRequire as __nncRequire } from "node:module"; const require = __nncRequire(import.meta.url);'
# src/version.ts reads ../package.json next to itself: in the bundle, next to the bundle's folder.
.node/bin/node -e 'const p = require("./package.json"); process.stdout.write(JSON.stringify({ name: p.name, version: p.version }) + "\n")' >"$p/src/compiler/targets/package.json"
mkdir -p "$p/src/runtime" "$p/examples" "$p/test/gpu/fixtures" "$p/data/mnist" "$p/lib" "$p/node_modules"
(cd src/runtime && find . -name '*.ts' -exec cp --parents {} "$p/src/runtime/" \;)
cp examples/*.nn "$p/examples/"
cp test/gpu/fixtures/*.nn "$p/test/gpu/fixtures/"
cp "$data"/*-ubyte.gz "$p/data/mnist/"
[ -e .node/lib/libvulkan.so.1 ] && cp .node/lib/libvulkan.so.1 "$p/lib/"
copy() { mkdir -p "$p/node_modules/$(dirname "$1")" && cp -r "node_modules/$1" "$p/node_modules/$1"; }
mkdir -p "$p/node_modules/webgpu/dist"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$p/node_modules/webgpu/"
cp -r node_modules/webgpu/dist/linux-x64 "$p/node_modules/webgpu/dist/"
copy esbuild
# (@esbuild/linux-x64 is left out: run.sh points ESBUILD_BINARY_PATH at the unpacked binary)
copy @resvg/resvg-js
copy @resvg/resvg-js-linux-x64-gnu
mkdir -p "$p/node_modules/dejavu-fonts-ttf/ttf"
cp node_modules/dejavu-fonts-ttf/package.json "$p/node_modules/dejavu-fonts-ttf/"
cp node_modules/dejavu-fonts-ttf/ttf/DejaVuSans.ttf node_modules/dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf "$p/node_modules/dejavu-fonts-ttf/ttf/"
echo "gpu-check-pack: compressing Node (xz) ..." >&2
xz -6 -T0 -c .node/bin/node >"$p/node.xz"
xz -6 -T0 -c node_modules/webgpu/dist/linux-x64/dawn.node >"$p/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
rm "$p/node_modules/webgpu/dist/linux-x64/dawn.node"
xz -6 -T0 -c node_modules/esbuild/bin/esbuild >"$p/node_modules/esbuild/bin/esbuild.xz"
rm "$p/node_modules/esbuild/bin/esbuild"
cp scripts/gpu-check-run.sh "$p/run.sh"
chmod +x "$p/run.sh"
rm -rf "$out"
mv "$p" "$out"
echo "gpu-check-pack: $(du -sh "$out" | cut -f1) in .gpu-check/; on the GPU machine: bash .gpu-check/run.sh" >&2
