// The typed AST of a .nn file. Built by src/parser/fast-parser.ts (files with no syntax error)
// or by src/parser/build-ast.ts from chevrotain's CST;
// consumed by the checker (src/compiler/checker) and the formatter (src/compiler/format.ts).
// Every node carries the span of source text it came from.

/** A range of source text. Lines and columns are 1-based; `end*` points just past the last character. */
export interface Span {
  startOffset: number;
  endOffset: number;
  startLine: number;
  startColumn: number;
  endLine: number;
  endColumn: number;
}

// ---------------------------------------------------------------- expressions

export interface NumberLit { kind: "number"; value: number; raw: string; span: Span }
export interface StringLit { kind: "string"; value: string; span: Span }
export interface BoolLit { kind: "bool"; value: boolean; span: Span }
/** A bare name: a catalog entry (`relu`, `same`), a block/model parameter, a loop variable or a tensor. */
export interface Ident { kind: "ident"; name: string; span: Span }
export interface ListExpr { kind: "list"; items: Expr[]; span: Span }
export interface ObjectEntry { key: string; keySpan: Span; value: Expr; span: Span }
/** `{ rotation: 30, shift: 0.3 }` */
export interface ObjectExpr { kind: "object"; entries: ObjectEntry[]; span: Span }
/** `l2(1e-4)`, `adam(lr: 1e-3)`, `image(28, 28, 1)` */
export interface CallExpr { kind: "call"; callee: string; calleeSpan: Span; args: Arg[]; span: Span }
export interface BinaryExpr { kind: "binary"; op: "+" | "-" | "*" | "/"; left: Expr; right: Expr; span: Span }
export interface UnaryExpr { kind: "unary"; op: "-"; operand: Expr; span: Span }

export type Expr = NumberLit | StringLit | BoolLit | Ident | ListExpr | ObjectExpr | CallExpr | BinaryExpr | UnaryExpr;

/** A call argument: positional (`8`) or named (`kernel: 5`). */
export interface Arg { name?: string; nameSpan?: Span; value: Expr; span: Span }

// ---------------------------------------------------------------- model bodies

/** `input image(28, 28, 1)` or `input x: image(28, 28, 1)` */
export interface InputStmt { kind: "input"; name?: string; nameSpan?: Span; shape: CallExpr; span: Span }

/**
 * One step of a chain: a layer or block application (`conv2d(8, kernel: 5)`, `flatten`),
 * or a reference to a named tensor (`x`). `args` is null when written without parentheses.
 * Which of these a name is, is decided by the checker, not the parser.
 */
export interface Step { name: string; nameSpan: Span; args: Arg[] | null; span: Span }

/**
 * `[target =] step (-> step)*`. A chain whose first step is not a tensor name applies to the
 * current tensor (the output of the previous statement). Its output becomes the current tensor,
 * and is bound to `target` when one is given.
 */
export interface ChainStmt { kind: "chain"; target?: string; targetSpan?: Span; steps: Step[]; span: Span }

/** `for units in [1024, 512] { ... }` */
export interface ForStmt { kind: "for"; variable: string; variableSpan: Span; iterable: Expr; body: Stmt[]; span: Span }

/** `repeat 3 { ... }` */
export interface RepeatStmt { kind: "repeat"; count: Expr; body: Stmt[]; span: Span }

export type Stmt = InputStmt | ChainStmt | ForStmt | RepeatStmt;

// ---------------------------------------------------------------- declarations

/** A parameter of a model or block: `units` or `rate = 0.5`. */
export interface Param { name: string; nameSpan: Span; default?: Expr; span: Span }

/** `model cnn { ... }` or `model scratch(hidden = 200) { ... }` */
export interface ModelDecl { kind: "model"; name: string; nameSpan: Span; params: Param[]; body: Stmt[]; span: Span }

/** `block hidden(units, rate = 0.5) { ... }` */
export interface BlockDecl { kind: "block"; name: string; nameSpan: Span; params: Param[]; body: Stmt[]; span: Span }

/** `epochs 10`, `optimizer adam(lr: 1e-3)`: the key is an identifier resolved by the checker. */
export interface SettingStmt { kind: "setting"; key: string; keySpan: Span; value: Expr; span: Span }

/** `sweep hidden in [100, 200, 300]`: trains one variant per value of a model parameter. */
export interface SweepStmt { kind: "sweep"; variable: string; variableSpan: Span; values: Expr; span: Span }

export type TrainStmt = SettingStmt | SweepStmt;

/** `train cnn { ... }` */
export interface TrainDecl { kind: "train"; model: string; modelSpan: Span; body: TrainStmt[]; span: Span }

export type Decl = ModelDecl | BlockDecl | TrainDecl;

export interface Comment { text: string; span: Span }

export interface Program { kind: "program"; decls: Decl[]; comments: Comment[]; span: Span }
