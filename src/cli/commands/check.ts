// `nnc check`: placeholder until its issue lands; the command exists so scripts can call it.
import type { Command } from "commander";
import { CliError } from "../errors.js";

export function registerCheck(program: Command): void {
  program
    .command("check")
    .description("check (not implemented yet)")
    .allowUnknownOption()
    .argument("[args...]")
    .action(() => {
      throw new CliError("`nnc check` is not implemented yet", 2);
    });
}
