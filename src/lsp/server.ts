// `nnc lsp`: the language server. One long-lived process keeps each open document's text
// (incremental sync) and its latest analysis (analysis.ts: the compiler run once per version),
// and answers every request from that analysis:
//
//   diagnostics.ts  published after each change, debounced      hover.ts        hover
//   completion.ts   completion (context.ts finds the slot)      signature.ts    signature help
//   inlay.ts        output shapes after each step               navigation.ts   definition, references, outline
//   formatting.ts   whole-document formatting (nnc fmt)         actions.ts      quick fixes from the hints
//   semantic.ts     semantic tokens
//
// createServer() builds the server over any pair of streams and never exits the process: the
// CLI (src/cli/commands/lsp.ts) wires it to stdin/stdout and decides what exiting means, and the
// tests run it in-process over PassThrough streams.
import {
  CodeActionKind,
  createProtocolConnection,
  TextDocuments,
  TextDocumentSyncKind,
  type Connection,
  type InitializeParams,
  type InitializeResult,
} from "vscode-languageserver/node.js";
import { createConnection as createServerConnection, type WatchDog } from "vscode-languageserver/lib/common/server.js";
import { TextDocument } from "vscode-languageserver-textdocument";
import { NNC_VERSION } from "../version.js";
import { analyze, type Analysis } from "./analysis.js";
import { lspDiagnostics } from "./diagnostics.js";
import { hover } from "./hover.js";
import { completion } from "./completion.js";
import { signatureHelp } from "./signature.js";
import { inlayHints } from "./inlay.js";
import { definition, documentSymbols, references } from "./navigation.js";
import { formatDocument } from "./formatting.js";
import { codeActions } from "./actions.js";
import { legend, semanticTokens } from "./semantic.js";

export interface ServerOptions {
  /** Called once when the client sends `exit` or closes the connection: 0 after `shutdown`, else 1. */
  onExit?: (code: number) => void;
  /** Exit (through onExit) when the client process named in `initialize` is gone (the CLI sets it). */
  watchClientProcess?: boolean;
}

/** Settings, from `initializationOptions` or `workspace/didChangeConfiguration` (`{ nnc: {...} }`). */
export interface Settings {
  inlayHints: { shapes: boolean };
  /** Milliseconds of quiet after a change before the diagnostics are recomputed. */
  debounceMs: number;
}

export const DEFAULT_SETTINGS: Settings = { inlayHints: { shapes: true }, debounceMs: 100 };

function merge(s: Settings, from: unknown): Settings {
  if (!from || typeof from !== "object") return s;
  const o = from as { inlayHints?: { shapes?: unknown }; debounceMs?: unknown };
  return {
    inlayHints: { shapes: typeof o.inlayHints?.shapes === "boolean" ? o.inlayHints.shapes : s.inlayHints.shapes },
    debounceMs: typeof o.debounceMs === "number" && o.debounceMs >= 0 ? o.debounceMs : s.debounceMs,
  };
}

export function createServer(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, options: ServerOptions = {}): Connection {
  let shutdownReceived = false;
  let exited = false;
  let watcher: NodeJS.Timeout | undefined;
  const exit = (code: number): void => {
    if (exited) return;
    exited = true;
    if (watcher) clearInterval(watcher);
    for (const t of timers.values()) clearTimeout(t);
    timers.clear();
    options.onExit?.(code);
  };
  const watchDog: WatchDog = {
    get shutdownReceived() {
      return shutdownReceived;
    },
    set shutdownReceived(v: boolean) {
      shutdownReceived = v;
    },
    initialize(params: InitializeParams) {
      const pid = params.processId;
      if (!options.watchClientProcess || typeof pid !== "number") return;
      watcher = setInterval(() => {
        try {
          process.kill(pid, 0);
        } catch {
          exit(shutdownReceived ? 0 : 1);
        }
      }, 3000);
      watcher.unref();
    },
    exit,
  };
  const connection = createServerConnection((logger) => {
    const pc = createProtocolConnection(input, output, logger);
    pc.onClose(() => exit(shutdownReceived ? 0 : 1));
    return pc;
  }, watchDog) as unknown as Connection;

  const documents = new TextDocuments(TextDocument);
  const analyses = new Map<string, Analysis>();
  const timers = new Map<string, NodeJS.Timeout>();
  let settings = DEFAULT_SETTINGS;
  let canRefreshInlayHints = false;

  /** The analysis of the document's current version (computed now if the debounce has not run yet). */
  const analysisOf = (uri: string): Analysis | undefined => {
    const doc = documents.get(uri);
    if (!doc) return undefined;
    const cached = analyses.get(uri);
    if (cached && cached.version === doc.version) return cached;
    const a = analyze(doc);
    analyses.set(uri, a);
    return a;
  };

  const publish = (uri: string): void => {
    timers.delete(uri);
    try {
      const a = analysisOf(uri);
      if (!a) return;
      void connection.sendDiagnostics({ uri, version: a.version, diagnostics: lspDiagnostics(a) });
    } catch (err) {
      // A bug in nnc must not take the editor's server down: say so, and keep serving.
      connection.console.error(`nnc: internal error while checking ${uri}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  };

  const schedule = (uri: string): void => {
    const old = timers.get(uri);
    if (old) clearTimeout(old);
    timers.set(uri, setTimeout(() => publish(uri), settings.debounceMs));
  };

  /** A request handler that answers `fallback` rather than failing when nnc has a bug. */
  function safe<P extends { textDocument: { uri: string } }, R>(name: string, f: (a: Analysis, p: P) => R, fallback: R): (p: P) => R {
    return (p: P) => {
      const a = analysisOf(p.textDocument.uri);
      if (!a) return fallback;
      try {
        return f(a, p);
      } catch (err) {
        connection.console.error(`nnc: internal error in ${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        return fallback;
      }
    };
  }

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    settings = merge(DEFAULT_SETTINGS, params.initializationOptions);
    canRefreshInlayHints = params.capabilities.workspace?.inlayHint?.refreshSupport === true;
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        completionProvider: { triggerCharacters: ["(", ",", ":", "[", "{", ">"] },
        signatureHelpProvider: { triggerCharacters: ["(", ","], retriggerCharacters: [":"] },
        definitionProvider: true,
        referencesProvider: true,
        documentSymbolProvider: true,
        documentFormattingProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        semanticTokensProvider: { legend, full: true },
        inlayHintProvider: true,
      },
      serverInfo: { name: "nnc", version: NNC_VERSION },
    };
  });

  connection.onDidChangeConfiguration((params) => {
    const s = (params.settings as { nnc?: unknown } | null)?.nnc;
    if (!s) return;
    settings = merge(settings, s);
    if (canRefreshInlayHints) void connection.languages.inlayHint.refresh().catch(() => undefined);
  });

  documents.onDidOpen((e) => publish(e.document.uri));
  documents.onDidChangeContent((e) => {
    // onDidOpen has published this version at once; later changes wait for a quiet moment.
    if (analyses.get(e.document.uri)?.version !== e.document.version) schedule(e.document.uri);
  });
  documents.onDidClose((e) => {
    const uri = e.document.uri;
    const t = timers.get(uri);
    if (t) clearTimeout(t);
    timers.delete(uri);
    analyses.delete(uri);
    void connection.sendDiagnostics({ uri, diagnostics: [] });
  });

  connection.onHover(safe("hover", (a, p) => hover(a, p.position), null));
  connection.onCompletion(safe("completion", (a, p) => completion(a, p.position), []));
  connection.onSignatureHelp(safe("signature help", (a, p) => signatureHelp(a, p.position), null));
  connection.onDefinition(safe("definition", (a, p) => definition(a, p.position), null));
  connection.onReferences(safe("references", (a, p) => references(a, p.position, p.context.includeDeclaration), []));
  connection.onDocumentSymbol(safe("document symbols", (a) => documentSymbols(a), []));
  connection.onDocumentFormatting(safe("formatting", (a) => formatDocument(a), []));
  connection.onCodeAction(safe("code actions", (a, p) => codeActions(a, p.range), []));
  connection.languages.semanticTokens.on(safe("semantic tokens", (a) => semanticTokens(a), { data: [] }));
  connection.languages.inlayHint.on(safe("inlay hints", (a, p) => (settings.inlayHints.shapes ? inlayHints(a, p.range) : []), []));

  documents.listen(connection);
  connection.listen();
  return connection;
}
