// Paths a .nn file names (tensorboard's `dir`, csv_logger's and checkpoint's `path`) are inside
// the run directory: relative, without `..` segments that climb out of it, without NUL, and not
// one of the files `nnc run` writes itself. The checker refuses any other with E314 at the path;
// `nnc run` checks the IR's paths again before it trains.
import { posix } from "node:path";

/** What `nnc run` writes at the top of a run directory (a path may not replace them). */
export const RUN_FILES = ["model", "history.json", "history.csv", "curves.svg", "curves.png", "summary.txt", "result.json", "sweep.json", "sweep"];

/** Why `p` cannot be a path inside the run directory (`"p" <problem>`), or null when it can. */
export function pathProblem(p: string): string | null {
  if (p.trim() === "") return "is empty";
  if (p.includes("\0")) return "holds a NUL character, which no file name can";
  const slashed = p.replace(/\\/g, "/");
  if (slashed.startsWith("/") || /^[A-Za-z]:/.test(slashed) || slashed.startsWith("~")) return "is absolute";
  const norm = posix.normalize(slashed);
  if (norm === ".." || norm.startsWith("../")) return "climbs out of it with `..`";
  if (norm === "." || norm === "./") return "is the run directory itself";
  const first = norm.replace(/^\.\//, "").split("/")[0]!;
  if (RUN_FILES.includes(first)) return `would replace \`${first}\`, which \`nnc run\` writes itself`;
  if (/\.tmp-\d+-[a-z0-9]+$/.test(norm)) return "looks like one of nnc's temporary files";
  return null;
}

/** The paths of an IR's callbacks: [callback kind, argument name, value]. */
export function callbackPaths(callbacks: readonly { kind: string; args: Record<string, unknown> }[]): [string, string, string][] {
  const out: [string, string, string][] = [];
  for (const c of callbacks) {
    if (c.kind === "tensorboard") out.push([c.kind, "dir", String(c.args.dir ?? "logs")]);
    else if (c.kind === "csv_logger" || c.kind === "checkpoint") out.push([c.kind, "path", String(c.args.path ?? (c.kind === "checkpoint" ? "checkpoint" : "log.csv"))]);
  }
  return out;
}
