// An in-process LSP client for the protocol tests: the real server (src/lsp/server.ts) over two
// PassThrough streams, spoken to with vscode-languageserver's own JSON-RPC connection.
import { PassThrough } from "node:stream";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  createProtocolConnection,
  PublishDiagnosticsNotification,
  StreamMessageReader,
  StreamMessageWriter,
  type Diagnostic,
  type InitializeResult,
  type ProtocolConnection,
  type PublishDiagnosticsParams,
  type TextDocumentContentChangeEvent,
} from "vscode-languageserver/node.js";
import { createServer } from "../../src/lsp/server.js";

export const root = join(import.meta.dirname, "../..");
export const example = (name: string): { uri: string; text: string } => {
  const path = join(root, "examples", name);
  return { uri: pathToFileURL(path).href, text: readFileSync(path, "utf8") };
};

/** Bounds every wait: a test fails with this message instead of hanging. */
export function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

export class TestClient {
  readonly published: PublishDiagnosticsParams[] = [];
  /** The server's window/logMessage lines (internal errors are logged there). */
  readonly logs: string[] = [];
  private waiters: { match: (p: PublishDiagnosticsParams) => boolean; resolve: (p: PublishDiagnosticsParams) => void }[] = [];
  exitCode: number | undefined;
  capabilities!: InitializeResult["capabilities"];

  private constructor(readonly conn: ProtocolConnection) {
    conn.onNotification(PublishDiagnosticsNotification.type, (p) => {
      this.published.push(p);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(p)) return true;
        w.resolve(p);
        return false;
      });
    });
    conn.onRequest("workspace/inlayHint/refresh", () => null);
    conn.onNotification("window/logMessage", (p: { message: string }) => this.logs.push(p.message));
  }

  static async start(initializationOptions: Record<string, unknown> = { debounceMs: 0 }): Promise<TestClient> {
    const toServer = new PassThrough();
    const fromServer = new PassThrough();
    let client!: TestClient;
    createServer(toServer, fromServer, { onExit: (code) => (client.exitCode = code) });
    const conn = createProtocolConnection(new StreamMessageReader(fromServer), new StreamMessageWriter(toServer));
    client = new TestClient(conn);
    conn.listen();
    const init = await within(5000, "initialize", conn.sendRequest("initialize", {
      processId: null,
      rootUri: null,
      capabilities: { workspace: { inlayHint: { refreshSupport: true } } },
      initializationOptions,
    }) as Promise<InitializeResult>);
    client.capabilities = init.capabilities;
    await conn.sendNotification("initialized", {});
    return client;
  }

  /** The next diagnostics published for `uri` (at `version`, when given). */
  diagnostics(uri: string, version?: number): Promise<Diagnostic[]> {
    const match = (p: PublishDiagnosticsParams) => p.uri === uri && (version === undefined || p.version === version);
    const already = [...this.published].reverse().find(match);
    if (already) return Promise.resolve(already.diagnostics);
    return within(5000, `diagnostics of ${uri}${version === undefined ? "" : ` v${version}`}`, new Promise<PublishDiagnosticsParams>((resolve) => this.waiters.push({ match, resolve }))).then((p) => p.diagnostics);
  }

  async open(uri: string, text: string, version = 1): Promise<Diagnostic[]> {
    await this.conn.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "nn", version, text } });
    return this.diagnostics(uri, version);
  }

  async change(uri: string, version: number, contentChanges: TextDocumentContentChangeEvent[]): Promise<void> {
    await this.conn.sendNotification("textDocument/didChange", { textDocument: { uri, version }, contentChanges });
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return within(5000, method, this.conn.sendRequest(method, params) as Promise<R>);
  }

  async stop(): Promise<void> {
    await this.request("shutdown", null);
    await this.conn.sendNotification("exit");
    await within(2000, "the server's exit", new Promise<void>((resolve) => {
      const check = () => (this.exitCode !== undefined ? resolve() : setTimeout(check, 5));
      check();
    }));
    this.conn.dispose();
  }
}

/** 0-based position of the `n`th occurrence of `needle` in `text` (plus `delta` characters). */
export function positionOf(text: string, needle: string, delta = 0, n = 0): { line: number; character: number } {
  let at = -1;
  for (let i = 0; i <= n; i++) {
    at = text.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`\`${needle}\` not found`);
  }
  const offset = at + delta;
  const before = text.slice(0, offset);
  const line = before.split("\n").length - 1;
  return { line, character: offset - (before.lastIndexOf("\n") + 1) };
}
