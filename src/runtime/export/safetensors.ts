// `nnc export --format safetensors` writes with the one safetensors writer, src/runtime/safetensors.ts
// (also the PyTorch engine's weight exchange). Tensors keep model.json's names and Keras layouts.
export { safetensorsBytes } from "../safetensors.js";
