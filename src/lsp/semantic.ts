// Semantic tokens: colours for what the checker resolves and a TextMate grammar cannot know:
// a name in a chain is a catalog layer, one of the file's blocks, or a named tensor; a value is
// an activation, an enum value or a parameter.
import { SemanticTokensBuilder, type SemanticTokens, type SemanticTokensLegend } from "vscode-languageserver";
import type { Analysis } from "./analysis.js";
import type { OccurrenceKind } from "./symbols.js";

export const TOKEN_TYPES = ["class", "function", "variable", "parameter", "property", "enumMember", "type", "macro"] as const;
export const TOKEN_MODIFIERS = ["declaration", "defaultLibrary"] as const;

export const legend: SemanticTokensLegend = { tokenTypes: [...TOKEN_TYPES], tokenModifiers: [...TOKEN_MODIFIERS] };

type TokenType = (typeof TOKEN_TYPES)[number];

/** The token type of each kind of name, and whether it is the catalog's (defaultLibrary). */
export const TOKEN_OF: Record<OccurrenceKind, { type: TokenType; library: boolean }> = {
  model: { type: "class", library: false },
  block: { type: "macro", library: false },
  layer: { type: "function", library: true },
  tensor: { type: "variable", library: false },
  param: { type: "parameter", library: false },
  setting: { type: "property", library: true },
  entry: { type: "function", library: true },
  argName: { type: "property", library: false },
  enumValue: { type: "enumMember", library: true },
  inputShape: { type: "type", library: true },
};

export function semanticTokens(a: Analysis): SemanticTokens {
  const b = new SemanticTokensBuilder();
  for (const o of a.occurrences) {
    const start = a.doc.positionAt(o.span.startOffset);
    const end = a.doc.positionAt(o.span.endOffset);
    if (start.line !== end.line) continue;
    const t = TOKEN_OF[o.kind];
    const mods = (o.def ? 1 : 0) | (t.library ? 2 : 0);
    b.push(start.line, start.character, end.character - start.character, TOKEN_TYPES.indexOf(t.type), mods);
  }
  return b.build();
}
