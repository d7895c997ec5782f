// `--limit NAME=N` (repeatable) on check, summary, compile and run: raises (or lowers) one of
// the checker's limits (src/compiler/checker/limits.ts; listed in grammar/README.md, "Limits").
import { InvalidArgumentError, Option } from "commander";
import { DEFAULT_LIMITS, parseLimit, type Limits } from "../compiler/checker/limits.js";

export function limitOption(): Option {
  return new Option("--limit <name=n>", `raise a checker limit, e.g. layers=50000 (repeatable; ${Object.keys(DEFAULT_LIMITS).join(", ")})`).argParser(
    (value: string, previous: Partial<Limits> | undefined): Partial<Limits> => {
      const parsed = parseLimit(value);
      if (typeof parsed === "string") throw new InvalidArgumentError(parsed);
      return { ...(previous ?? {}), [parsed[0]]: parsed[1] };
    },
  );
}
