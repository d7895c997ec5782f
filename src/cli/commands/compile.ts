// `nnc compile`: placeholder until its issue lands; the command exists so scripts can call it.
import type { Command } from "commander";
import { CliError } from "../errors.js";

export function registerCompile(program: Command): void {
  program
    .command("compile")
    .description("compile (not implemented yet)")
    .allowUnknownOption()
    .argument("[args...]")
    .action(() => {
      throw new CliError("`nnc compile` is not implemented yet", 2);
    });
}
