// `nnc fmt`: placeholder until its issue lands; the command exists so scripts can call it.
import type { Command } from "commander";
import { CliError } from "../errors.js";

export function registerFmt(program: Command): void {
  program
    .command("fmt")
    .description("fmt (not implemented yet)")
    .allowUnknownOption()
    .argument("[args...]")
    .action(() => {
      throw new CliError("`nnc fmt` is not implemented yet", 2);
    });
}
