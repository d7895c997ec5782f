// STUB (owner: standalone target). IR -> one dependency-free TypeScript program (prettier-formatted).
import type { IR } from "../../ir.js";

export interface StandaloneOptions {
  /** Kernel implementation emitted into the program: readable TypeScript loops, or WebAssembly SIMD. */
  kernels?: "ts" | "simd";
  /** The .nn source, for comments quoting the lines each section comes from. */
  sourceText?: string;
}

export async function generateStandalone(_ir: IR, _options: StandaloneOptions = {}): Promise<string> {
  throw new Error("standalone target not implemented yet");
}
