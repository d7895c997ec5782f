// A real run directory for the tests of commands that read one (evaluate, export): `nnc run`
// through the CLI's main(), the standalone engine with its plain TypeScript kernels on one thread
// (the same numbers on every machine), output captured.
import { Writable } from "node:stream";
import { main } from "../../src/cli/main.js";
import { runDeps } from "../../src/cli/commands/run.js";

class Capture extends Writable {
  text = "";
  isTTY = false;
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** Trains `nnFile` into `outDir`; returns the exit code and what the run printed. */
export async function trainRun(nnFile: string, outDir: string, args: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const saved = { ...runDeps };
  const threads = process.env.NNC_THREADS;
  const out = new Capture();
  const err = new Capture();
  runDeps.stdout = out;
  runDeps.stderr = err;
  runDeps.handleSigint = false;
  process.env.NNC_THREADS = "1";
  try {
    const code = await main(["node", "nnc", "run", nnFile, "--kernels", "ts", "--out", outDir, "--quiet", ...args]);
    return { code, stdout: out.text, stderr: err.text };
  } finally {
    Object.assign(runDeps, saved);
    if (threads === undefined) delete process.env.NNC_THREADS;
    else process.env.NNC_THREADS = threads;
  }
}

/** Runs an `nnc` command with process.stdout/stderr captured; returns its exit code and output. */
export async function nnc(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const outWrite = process.stdout.write;
  const errWrite = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += chunk.toString()), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += chunk.toString()), true)) as typeof process.stderr.write;
  try {
    const code = await main(["node", "nnc", ...args]);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = outWrite;
    process.stderr.write = errWrite;
  }
}
