// A generated TypeScript program as JavaScript that plain `node` runs (`nnc compile -o model.js`):
// esbuild strips the types into an ES module, keeping the comments, then prettier formats it
// like the TypeScript program.
//
// esbuild keeps only "legal" comments (`//!`, `/*!`), so every comment is marked as one first
// and unmarked after. A comment at the end of a line of code moves to its own line above that
// code (esbuild would put it below). Blank lines, which esbuild drops, come back before each
// top-level comment and declaration.
import { transformSync } from "esbuild";
import prettier from "prettier";

const LINE = "//!~";
const BLOCK = "/*!~";

/** Where a `//` comment starts on a line of code, outside string literals; -1 if none. */
function trailingComment(line: string): number {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== null) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === "`") {
      quote = c;
    } else if (c === "/" && line[i + 1] === "/") {
      return i;
    } else if (c === "/" && line[i + 1] === "*") {
      return -1; // a block comment in code: left as it is
    }
  }
  return -1;
}

function markComments(source: string): string {
  const out: string[] = [];
  for (const line of source.split("\n")) {
    const indent = /^\s*/.exec(line)![0];
    const text = line.slice(indent.length);
    if (text.startsWith("//")) {
      out.push(`${indent}${LINE}${text.slice(2)}`);
    } else if (text.startsWith("/*")) {
      out.push(`${indent}${BLOCK}${text.slice(2)}`);
    } else {
      const at = trailingComment(text);
      // (a line that closes a multi-line template literal would mislead the scan: only plain code)
      if (at > 0 && !text.includes("`")) {
        out.push(`${indent}${LINE}${text.slice(at + 2)}`, `${indent}${text.slice(0, at).trimEnd()}`);
      } else {
        out.push(line);
      }
    }
  }
  return out.join("\n");
}

/** Blank lines before top-level comments and declarations that follow other code. */
function spaceTopLevel(code: string): string {
  const lines = code.split("\n");
  const out: string[] = [];
  const starts = /^(\/\/|\/\*|function |async function |class |const |let |var |export |if \()/;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const prev = out[out.length - 1];
    const prevIsComment = prev !== undefined && /^(\/\/|\/\*| \*)/.test(prev);
    const prevIsDecl = prev !== undefined && /^(const |let |var |import )/.test(prev) && /^(const |let |var |import )/.test(line);
    if (prev !== undefined && prev.trim() !== "" && starts.test(line) && !prevIsComment && !prevIsDecl) out.push("");
    out.push(line);
  }
  return out.join("\n");
}

/** The TypeScript program `source` as a formatted JavaScript ES module with its comments. */
export async function toJavaScript(source: string): Promise<string> {
  if (source.includes(LINE) || source.includes(BLOCK)) throw new Error(`the program contains ${LINE} or ${BLOCK}, which the JavaScript output uses as markers`);
  const { code } = transformSync(markComments(source), {
    loader: "ts",
    format: "esm",
    target: "es2022",
    legalComments: "inline",
    logLevel: "silent",
  });
  const unmarked = code.split(LINE).join("//").split(BLOCK).join("/*");
  return prettier.format(spaceTopLevel(unmarked), { parser: "babel", printWidth: 110 });
}
