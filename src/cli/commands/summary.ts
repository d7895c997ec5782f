// `nnc summary`: placeholder until its issue lands; the command exists so scripts can call it.
import type { Command } from "commander";
import { CliError } from "../errors.js";

export function registerSummary(program: Command): void {
  program
    .command("summary")
    .description("summary (not implemented yet)")
    .allowUnknownOption()
    .argument("[args...]")
    .action(() => {
      throw new CliError("`nnc summary` is not implemented yet", 2);
    });
}
