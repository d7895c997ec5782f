// `nnc serve [RUN_DIR...] [--port N] [--host ADDR]`: the drawing pad and the runs view in a
// browser (src/serve/). `nnc run FILE --serve` uses serveUntilStopped from here too.
import { existsSync, statSync } from "node:fs";
import { InvalidArgumentError, Option, type Command } from "commander";
import { CliError, EXIT_USAGE } from "../errors.js";
import type { RunningServer, ServeOptions } from "../../serve/server.js";

export const DEFAULT_PORT = 8765;
export const DEFAULT_HOST = "127.0.0.1";

export function portNumber(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError(`--port must be a port number from 0 (any free port) to 65535, not "${value}"`);
  }
  return n;
}

/** --port (shared by `nnc serve` and `nnc run --serve`). */
export function portOption(prefix = ""): Option {
  return new Option("--port <n>", `${prefix}port to listen on (0: any free port)`)
    .argParser(portNumber)
    .default(DEFAULT_PORT);
}

/** --host (shared by `nnc serve` and `nnc run --serve`). */
export function hostOption(prefix = ""): Option {
  return new Option(
    "--host <addr>",
    `${prefix}interface to listen on; anything but 127.0.0.1 makes the runs readable from other machines`,
  ).default(DEFAULT_HOST);
}

/** Starts the server (lazily loaded: esbuild and the page load only here); a clear CliError when it cannot. */
export async function startServing(options: ServeOptions): Promise<RunningServer> {
  const { startServer, ServeError } = await import("../../serve/server.js");
  try {
    return await startServer(options);
  } catch (err) {
    if (err instanceof ServeError) throw new CliError(err.message, EXIT_USAGE);
    throw err;
  }
}

/** Resolves on Ctrl-C or SIGTERM, after closing the server. */
export function untilStopped(server: RunningServer): Promise<void> {
  return new Promise((done) => {
    const stop = () => {
      process.removeListener("SIGINT", stop);
      process.removeListener("SIGTERM", stop);
      void server.close().then(done);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description(
      "open the trained models and their runs in a browser: a drawing pad that runs the model, curves, live training",
    )
    .argument("[run_dirs...]", "run directories, or folders of them (default: runs/)")
    .addOption(portOption())
    .addOption(hostOption())
    .action(async (dirs: string[], flags: { port: number; host: string }) => {
      const roots = dirs.length > 0 ? dirs : ["runs/"];
      for (const d of dirs) {
        if (!existsSync(d))
          throw new CliError(`${d} does not exist (give run directories written by \`nnc run\`, or folders of them)`);
        if (!statSync(d).isDirectory()) throw new CliError(`${d} is a file, not a run directory`);
      }
      const server = await startServing({ roots, port: flags.port, host: flags.host });
      const { discoverRuns } = await import("../../serve/runs.js");
      const n = discoverRuns(roots).length;
      const where = roots.join(", ");
      process.stderr.write(
        `${n === 0 ? `no runs in ${where} yet: they appear as \`nnc run\` writes them` : `${n} run${n === 1 ? "" : "s"} in ${where}`}\n`,
      );
      if (flags.host !== DEFAULT_HOST && flags.host !== "localhost") {
        process.stderr.write(`warning: listening on ${flags.host}: other machines that reach it can read these runs\n`);
      }
      process.stdout.write(`nnc serve: ${server.url}  (Ctrl-C to stop)\n`);
      await untilStopped(server);
    });
}
