// The one safe way for text from a .nn file (file names, source lines, paths, separators) to
// enter a generated program, shared by every target: as a string literal or inside a one-line
// comment. Nothing a user writes can end a comment or a literal early: line breaks of every
// kind (CR, LF, U+2028, U+2029, NEL), NUL and other control characters are shown as escapes,
// and `*/` cannot close a block comment. Python targets use the same rules (`#` comments).

/** Characters that end a line in JavaScript, TypeScript or Python, or that a reader should not get raw. */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\r\n\t]/g;

const escapeChar = (c: string): string => {
  if (c === "\n") return "\\n";
  if (c === "\r") return "\\r";
  if (c === "\t") return " ";
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
};

/** Text that is safe inside a one-line comment of any target: no line ends, no control characters, no `*\/`. */
export function commentText(text: string): string {
  return text.replace(UNSAFE, escapeChar).replace(/\*\//g, "*\\/");
}

/** A one-line `//` comment holding `text`. */
export function comment(text: string): string {
  return "// " + commentText(text);
}

/** A one-line `#` comment (Python) holding `text`. */
export function hashComment(text: string): string {
  return "# " + commentText(text);
}

/**
 * A value from the .nn file (string, number, list, object) as a JavaScript/TypeScript literal:
 * JSON, with the line separators JSON leaves raw escaped too, so that no literal spans a line.
 * Template literals are never used for .nn text, so backticks and `${` are plain characters.
 */
export function lit(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f\u2028\u2029]/g, escapeChar);
}

/** A string as a Python literal (double-quoted, every non-printable or non-ASCII character escaped). */
export function pyStr(text: string): string {
  let out = '"';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (ch === "\\" || ch === '"') out += "\\" + ch;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c <= 0xff) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else if (c <= 0xffff) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += `\\U${c.toString(16).padStart(8, "0")}`;
  }
  return out + '"';
}

/**
 * The command that runs a generated TypeScript or JavaScript program, as its header and --help
 * show it: `command` when the caller knows the file written (`node model.js`, `npx tsx model.ts`),
 * else `npx tsx <name>.ts` for the default output name of the .nn file (examples/mlp.nn -> mlp.ts).
 */
export function programCommand(sourceFile: string, command?: string): string {
  if (command !== undefined) return command;
  const name = sourceFile.split(/[\\/]/).pop()!.replace(/\.nn$/, "");
  return `npx tsx ${name}.ts`;
}
