// `nnc serve`: a small read-only web server for the run directories. It serves the page
// (src/serve/web/: index.html, style.css, and app.ts bundled by esbuild at the first request,
// then cached), TensorFlow.js's browser bundle from node_modules (no CDN: the page works
// offline), a JSON API over the runs, their files (the model for the drawing pad), and a
// Server-Sent Events stream of every run's events.jsonl as it grows.
//
// Safe by default: it listens on 127.0.0.1 unless told otherwise; answers GET and HEAD only
// (405 otherwise); refuses request bodies, long URLs and large headers; checks the Host header
// (a defence against DNS rebinding) while bound to loopback; and serves nothing but its own
// assets and the files inside the run directories (runs.ts: resolveInside refuses `..`,
// encoded or not, absolute paths, hidden files and symlinks that lead out).
import { createReadStream, readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PathRefused, discoverRuns, readEvents, resolveInside, runDetails, runEntry, type RunInfo } from "./runs.js";
import { EVENTS_FILE } from "../runtime/run/events.js";

const WEB = join(dirname(fileURLToPath(import.meta.url)), "web");
export const MAX_URL = 2048;
const MAX_HEADER_BYTES = 8192;
const MAX_LIVE_CLIENTS = 32;
const POLL_MS = 250;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".jsonl": "application/x-ndjson; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".bin": "application/octet-stream",
};

const SECURITY_HEADERS: Record<string, string> = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

export interface ServeOptions {
  /** Folders of runs, or run directories. */
  roots: string[];
  port: number;
  host: string;
  /** Where the page opens: "draw" or "runs" (`nnc run --serve` opens the runs view). */
  view?: "draw" | "runs";
}

export interface RunningServer {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A clear, one-paragraph reason the server could not start. */
export class ServeError extends Error {}

let bundle: Promise<string> | null = null;

/** The page's script: src/serve/web/app.ts and what it imports (digits.ts, ...), for browsers. */
export function pageBundle(): Promise<string> {
  if (bundle === null) {
    bundle = (async () => {
      const esbuild = await import("esbuild");
      const out = await esbuild.build({
        entryPoints: [join(WEB, "app.ts")],
        bundle: true,
        write: false,
        format: "iife",
        platform: "browser",
        target: "es2020",
        legalComments: "none",
        logLevel: "silent",
      });
      return out.outputFiles[0].text;
    })();
    bundle.catch(() => {
      bundle = null;
    });
  }
  return bundle;
}

function tfjsBundle(): string {
  const require = createRequire(import.meta.url);
  // the ES2017 build: the ES5 one carries a polyfill that evaluates a string, which the CSP refuses
  return join(dirname(require.resolve("@tensorflow/tfjs")), "tf.es2017.min.js");
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

function send(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  type: string,
  head: boolean,
  extra = {},
): void {
  const data = typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": type, "Content-Length": data.length, ...extra });
  res.end(head ? undefined : data);
}

function sendError(res: ServerResponse, status: number, message: string, head: boolean, extra = {}): void {
  send(res, status, `${message}\n`, "text/plain; charset=utf-8", head, { "Cache-Control": "no-store", ...extra });
}

function sendJson(res: ServerResponse, value: unknown, head: boolean): void {
  send(res, 200, JSON.stringify(value), TYPES[".json"], head, { "Cache-Control": "no-store" });
}

/** Splits a raw (still percent-encoded) path into decoded segments; null when one does not decode. */
function decodeSegments(raw: string[]): string[] | null {
  try {
    return raw.map((s) => decodeURIComponent(s));
  } catch {
    return null;
  }
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const roots = options.roots;
  // a scan is a few readdir and stat calls: every request and every poll sees the folders as they are
  let runs: RunInfo[] = discoverRuns(roots);
  const rescan = (): RunInfo[] => (runs = discoverRuns(roots));
  const findRun = (id: string): RunInfo | undefined =>
    runs.find((r) => r.id === id) ?? rescan().find((r) => r.id === id);

  // --- live: tail every run's events.jsonl while a page listens
  const clients = new Set<ServerResponse>();
  const offsets = new Map<string, number>();
  let listSignature = "";
  let timer: NodeJS.Timeout | null = null;
  let polls = 0;
  const broadcast = (event: string, data: unknown) => {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of clients) c.write(text);
  };
  const poll = () => {
    const list = rescan();
    const entries = list.map(runEntry);
    const signature = JSON.stringify(entries.map((e) => [e.id, e.status, e.hasModel]));
    if (signature !== listSignature) {
      listSignature = signature;
      broadcast("runs", entries);
    }
    for (const run of list) {
      let size: number;
      try {
        size = statSync(join(run.dir, EVENTS_FILE)).size;
      } catch {
        continue;
      }
      let from = offsets.get(run.dir) ?? 0;
      if (size < from) from = 0; // rewritten: start over
      if (size <= from) continue;
      const { records, ends, end } = readEvents(run.dir, from);
      offsets.set(run.dir, end);
      if (records.length > 0) broadcast("events", { id: run.id, records, ends });
    }
    // a comment now and then keeps proxies and idle timers from closing the stream
    if (++polls % 60 === 0) for (const c of clients) c.write(": keep-alive\n\n");
  };
  const startPolling = () => {
    if (timer) return;
    // what is already in the files is in /api/run; the stream carries what comes next
    for (const run of rescan()) offsets.set(run.dir, readEvents(run.dir).end);
    listSignature = JSON.stringify(
      rescan()
        .map(runEntry)
        .map((e) => [e.id, e.status, e.hasModel]),
    );
    timer = setInterval(poll, POLL_MS);
  };
  const stopPolling = () => {
    if (timer && clients.size === 0) {
      clearInterval(timer);
      timer = null;
    }
  };

  const loopbackOnly = LOOPBACK.has(options.host);
  let allowedHosts = new Set<string>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? "";
    const head = method === "HEAD";
    if (method !== "GET" && !head) {
      sendError(res, 405, `${method} is not allowed: this server is read-only (GET and HEAD)`, false, {
        Allow: "GET, HEAD",
      });
      return;
    }
    const url = req.url ?? "/";
    if (url.length > MAX_URL) return sendError(res, 414, "the URL is too long", head);
    if (
      (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0") ||
      req.headers["transfer-encoding"] !== undefined
    ) {
      return sendError(res, 413, "requests to this server carry no body", head);
    }
    if (loopbackOnly && !allowedHosts.has((req.headers.host ?? "").toLowerCase())) {
      return sendError(res, 403, "unexpected Host header: open the URL nnc serve printed", head);
    }
    // the path, still percent-encoded: split first, decode each segment after
    const rawPath = url.startsWith("/") ? url.split("?")[0]!.split("#")[0]! : "";
    if (rawPath === "") return sendError(res, 400, "bad request target", head);
    const query = new URLSearchParams(url.includes("?") ? url.slice(url.indexOf("?") + 1) : "");
    const rawSegments = rawPath.split("/").slice(1);

    // page assets
    if (rawPath === "/" || rawPath === "/index.html") {
      const html = readFileSync(join(WEB, "index.html"), "utf8").replace(
        "<body>",
        `<body data-view="${options.view ?? "draw"}">`,
      );
      return send(res, 200, html, TYPES[".html"], head, { "Cache-Control": "no-store" });
    }
    if (rawPath === "/style.css") {
      return send(res, 200, readFileSync(join(WEB, "style.css")), TYPES[".css"], head, { "Cache-Control": "no-store" });
    }
    if (rawPath === "/app.js") {
      let js: string;
      try {
        js = await pageBundle();
      } catch (err) {
        return sendError(res, 500, `cannot bundle the page: ${(err as Error).message}`, head);
      }
      return send(res, 200, js, TYPES[".js"], head, { "Cache-Control": "no-store" });
    }
    if (rawPath === "/tf.min.js") {
      return send(res, 200, readFileSync(tfjsBundle()), TYPES[".js"], head, { "Cache-Control": "max-age=3600" });
    }
    if (rawPath === "/favicon.ico") {
      res.writeHead(204, SECURITY_HEADERS);
      res.end();
      return;
    }

    // API
    if (rawPath === "/api/runs") return sendJson(res, rescan().map(runEntry), head);
    if (rawPath === "/api/run") {
      const run = findRun(query.get("id") ?? "");
      if (!run) return sendError(res, 404, `no run ${JSON.stringify(query.get("id") ?? "")}`, head);
      return sendJson(res, runDetails(run), head);
    }
    if (rawPath === "/api/live") {
      if (clients.size >= MAX_LIVE_CLIENTS) return sendError(res, 503, "too many live views open", head);
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-store",
        Connection: "keep-alive",
      });
      if (head) {
        res.end();
        return;
      }
      res.write("retry: 1000\n\n");
      startPolling();
      clients.add(res);
      res.on("close", () => {
        clients.delete(res);
        stopPolling();
      });
      return;
    }

    // a run's files: /run/<percent-encoded id>/<path inside the run directory>
    if (rawSegments[0] === "run" && rawSegments.length >= 3) {
      const decoded = decodeSegments(rawSegments.slice(1));
      if (decoded === null) return sendError(res, 400, "bad percent-encoding in the path", head);
      const run = findRun(decoded[0]!);
      if (!run) return sendError(res, 404, "no such run", head);
      let file: string;
      try {
        file = resolveInside(run.dir, decoded.slice(1));
      } catch (err) {
        if (err instanceof PathRefused) return sendError(res, err.status, err.message, head);
        throw err;
      }
      const size = statSync(file).size;
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
        "Content-Length": size,
        "Cache-Control": "no-store",
      });
      if (head) {
        res.end();
        return;
      }
      createReadStream(file)
        .on("error", () => res.destroy())
        .pipe(res);
      return;
    }
    return sendError(res, 404, "not found", head);
  };

  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, `internal error: ${(err as Error).message}`, false);
      else res.destroy();
    });
  });
  // CONNECT (a proxy tunnel) bypasses the request handler: refuse it here
  server.on("connect", (_req: IncomingMessage, socket: import("node:net").Socket) => {
    socket.end("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  });
  server.headersTimeout = 10_000;
  server.maxHeadersCount = 64;
  server.maxConnections = 128;

  await new Promise<void>((resolveListen, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") {
        reject(
          new ServeError(
            `port ${options.port} on ${options.host} is already in use (another \`nnc serve\`?): choose another with --port N, or --port 0 for any free port`,
          ),
        );
      } else if (err.code === "EACCES") {
        reject(
          new ServeError(
            `not allowed to listen on port ${options.port} (ports below 1024 need privileges): use --port with a higher number`,
          ),
        );
      } else if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND") {
        reject(new ServeError(`cannot listen on ${options.host}: no such address on this machine`));
      } else reject(new ServeError(`cannot listen on ${options.host}:${options.port}: ${err.message}`));
    });
    server.listen(options.port, options.host, () => resolveListen());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  const shownHost = options.host.includes(":") ? `[${options.host}]` : options.host;
  const url = `http://${options.host === "0.0.0.0" || options.host === "::" ? "127.0.0.1" : shownHost}:${port}/`;
  return {
    server,
    url,
    port,
    close: () =>
      new Promise<void>((done) => {
        if (timer) clearInterval(timer);
        timer = null;
        for (const c of clients) c.end();
        clients.clear();
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
