// The CLI's exit status. The errors it reports as one paragraph and an exit code (CliError, the
// EXIT_* codes) live in src/runtime/errors.ts, since the runtime throws them too.
import { EXIT_OK } from "../runtime/errors.js";

export { CliError, EXIT_DIAGNOSTICS, EXIT_OK, EXIT_USAGE } from "../runtime/errors.js";

/**
 * The exit code a command's action asks for (it returns normally; `main` reads this after the
 * action has run). Reset by `main` before each parse.
 */
export const exitStatus = { code: EXIT_OK };

export function setExitCode(code: number): void {
  exitStatus.code = Math.max(exitStatus.code, code);
}
