// Type stand-ins for the optional native TensorFlow.js packages, used only to type-check the
// generated tfjs programs (test/golden/tfjs/*.ts) on machines where those packages cannot be
// installed (their install script downloads libtensorflow). Both packages' real index.d.ts
// start with `export * from '@tensorflow/tfjs'` and add Node-only extras (tf.node.*, file://
// io handlers) that the generated programs do not use, so re-exporting @tensorflow/tfjs checks
// every call the programs make against the same declarations.
declare module "@tensorflow/tfjs-node-gpu" {
  export * from "@tensorflow/tfjs";
}
declare module "@tensorflow/tfjs-node" {
  export * from "@tensorflow/tfjs";
}
