// STUB (owner: tfjs target). IR -> a readable TypeScript program that trains with TensorFlow.js.
import type { IR } from "../../ir.js";

export interface TfjsTargetOptions {
  /** The tfjs package the program imports. */
  package?: "@tensorflow/tfjs-node-gpu" | "@tensorflow/tfjs-node" | "@tensorflow/tfjs";
}

export async function generateTfjs(_ir: IR, _options: TfjsTargetOptions = {}): Promise<string> {
  throw new Error("tfjs target not implemented yet");
}
