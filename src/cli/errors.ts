// Errors the CLI reports as one paragraph and an exit code, never as a stack trace.

/** Exit codes (DESIGN.md): 0 ok, 1 diagnostics found / run failed, 2 usage or I/O problem. */
export const EXIT_OK = 0;
export const EXIT_DIAGNOSTICS = 1;
export const EXIT_USAGE = 2;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_USAGE,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/**
 * The exit code a command's action asks for (it returns normally; `main` reads this after the
 * action has run). Reset by `main` before each parse.
 */
export const exitStatus = { code: EXIT_OK };

export function setExitCode(code: number): void {
  exitStatus.code = Math.max(exitStatus.code, code);
}
