// `nnc lsp`: the language server on standard input and output (src/lsp/server.ts), for VS Code,
// Neovim, Emacs and any LSP client. The server itself loads only when this command runs.
import { format } from "node:util";
import type { Command } from "commander";
import { setExitCode } from "../errors.js";

export function registerLsp(program: Command): void {
  program
    .command("lsp")
    .description("run the language server on stdin/stdout (diagnostics, hover, completion, formatting, ...) for editors")
    .option("--stdio", "talk over stdin/stdout (the default and only transport; accepted for clients that pass it)")
    .action(async () => {
      // Standard output carries the protocol: anything else printed goes to standard error.
      for (const level of ["log", "info", "debug", "warn"] as const) {
        console[level] = (...args: unknown[]) => void process.stderr.write(`${format(...args)}\n`);
      }
      const { createServer } = await import("../../lsp/server.js");
      const code = await new Promise<number>((resolve) => {
        createServer(process.stdin, process.stdout, { onExit: resolve, watchClientProcess: true });
      });
      setExitCode(code);
      process.stdin.destroy();
      // Nothing should keep the process alive after `exit`; if something does, leave anyway.
      setTimeout(() => process.exit(code), 2000).unref();
    });
}
