// `nnc predict`: placeholder until its issue lands; the command exists so scripts can call it.
import type { Command } from "commander";
import { CliError } from "../errors.js";

export function registerPredict(program: Command): void {
  program
    .command("predict")
    .description("predict (not implemented yet)")
    .allowUnknownOption()
    .argument("[args...]")
    .action(() => {
      throw new CliError("`nnc predict` is not implemented yet", 2);
    });
}
