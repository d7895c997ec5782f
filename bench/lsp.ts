// The language server's speed and memory (issue 15: diagnostics under 10 ms warm after a
// one-character edit in a 1,000-line file; no memory growth over 10,000 edits). The server runs
// in this process (src/lsp/server.ts over PassThrough streams, no debounce), spoken to over
// JSON-RPC as an editor would: each edit is a didChange of one character, timed until the
// diagnostics of that version arrive. Run alone: `node --import ./bin/register.mjs bench/lsp.ts
// [--edits N]`; `bench/run.ts` calls benchLsp().
import { PassThrough } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { fileURLToPath } from "node:url";
import { createProtocolConnection, PublishDiagnosticsNotification, StreamMessageReader, StreamMessageWriter } from "vscode-languageserver/node.js";
import { createServer } from "../src/lsp/server.js";
import { generatedSource } from "./check.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const mb = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;
const round = (ms: number) => Math.round(ms * 100) / 100;

/** `lsp.*` figures: diagnostics latency (ms) after a one-character edit, and heap (MB) before and after `edits` edits. */
export async function benchLsp(edits = 10_000, log: (line: string) => void = () => {}): Promise<Record<string, number>> {
  const toServer = new PassThrough();
  const fromServer = new PassThrough();
  let exited = false;
  createServer(toServer, fromServer, { onExit: () => (exited = true) });
  const conn = createProtocolConnection(new StreamMessageReader(fromServer), new StreamMessageWriter(toServer));
  const waiting = new Map<number, () => void>();
  conn.onNotification(PublishDiagnosticsNotification.type, (p) => {
    if (p.version !== undefined) waiting.get(p.version)?.();
  });
  conn.listen();
  await conn.sendRequest("initialize", { processId: null, rootUri: null, capabilities: {}, initializationOptions: { debounceMs: 0 } });
  await conn.sendNotification("initialized", {});

  const text = generatedSource(1000);
  const uri = "file:///bench/generated.nn";
  // The edit: a digit of `dense(width / 2 + 32, ...)` on a line in the middle, 2 <-> 3 and back.
  const lines = text.split("\n");
  const line = lines.findIndex((l, i) => i > 480 && l.includes("width / 2 + 32"));
  const character = lines[line]!.indexOf("+ 32") + 3;
  let version = 1;
  const diagnosed = (v: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no diagnostics for version ${v} after 30 s`)), 30_000);
      waiting.set(v, () => {
        clearTimeout(timer);
        waiting.delete(v);
        resolve();
      });
    });
  const opened = diagnosed(1);
  await conn.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "nn", version: 1, text } });
  await opened;
  const edit = async (): Promise<number> => {
    const v = ++version;
    const done = diagnosed(v);
    const t0 = performance.now();
    await conn.sendNotification("textDocument/didChange", {
      textDocument: { uri, version: v },
      contentChanges: [{ range: { start: { line, character }, end: { line, character: character + 1 } }, text: v % 2 === 0 ? "3" : "2" }],
    });
    await done;
    return performance.now() - t0;
  };

  for (let i = 0; i < 40; i++) await edit(); // V8 tiers the parser, checker and server up
  const times: number[] = [];
  for (let i = 0; i < 200; i++) times.push(await edit());
  times.sort((a, b) => a - b);
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const rssBefore = process.memoryUsage().rss;
  const t0 = Date.now();
  // V8 still compiles and optimises code over the first edits: the heap after a fifth of them is
  // the baseline that growth (a leak) is measured from.
  let heapAtFifth = heapBefore;
  for (let i = 0; i < edits; i++) {
    await edit();
    if ((i + 1) % 2000 === 0) log(`  lsp: ${i + 1} / ${edits} edits (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    if (i + 1 === Math.floor(edits / 5)) {
      gc();
      heapAtFifth = process.memoryUsage().heapUsed;
    }
  }
  gc();
  const heapAfter = process.memoryUsage().heapUsed;
  const rssAfter = process.memoryUsage().rss;
  await conn.sendRequest("shutdown");
  await conn.sendNotification("exit");
  await new Promise((r) => setTimeout(r, 20));
  conn.dispose();
  if (!exited) throw new Error("the server did not exit after `exit`");
  return {
    "lsp.diagnostics_after_edit_1000_lines_median_ms": round(times[Math.floor(times.length / 2)]!),
    "lsp.diagnostics_after_edit_1000_lines_p90_ms": round(times[Math.floor(times.length * 0.9)]!),
    "lsp.edits": edits,
    "lsp.heap_before_edits_mb": mb(heapBefore),
    "lsp.heap_after_edits_mb": mb(heapAfter),
    "lsp.heap_after_first_fifth_mb": mb(heapAtFifth),
    "lsp.heap_growth_over_last_four_fifths_mb": mb(heapAfter - heapAtFifth),
    "lsp.rss_before_edits_mb": mb(rssBefore),
    "lsp.rss_after_edits_mb": mb(rssAfter),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf("--edits");
  const r = await benchLsp(i > 0 ? Number(process.argv[i + 1]) : 10_000, (l) => console.log(l));
  for (const [k, v] of Object.entries(r)) console.log(`${k}: ${v}`);
}
