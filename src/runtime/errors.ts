// Errors reported to the user as one paragraph and an exit code, never as a stack trace: thrown by
// the runtime (engines, the GPU adapter, run directories) and the CLI alike; the CLI's main turns
// them into its message and exit status (src/cli/errors.ts adds the exit status of a command).

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
