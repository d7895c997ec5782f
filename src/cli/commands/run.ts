// `nnc run`: placeholder until its issue lands; the command exists so scripts can call it.
import type { Command } from "commander";
import { CliError } from "../errors.js";

export function registerRun(program: Command): void {
  program
    .command("run")
    .description("run (not implemented yet)")
    .allowUnknownOption()
    .argument("[args...]")
    .action(() => {
      throw new CliError("`nnc run` is not implemented yet", 2);
    });
}
