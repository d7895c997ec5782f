// nnc serve's server: what it serves, what it refuses (traversal in every spelling, symlinks out
// of a run directory, other methods, bodies, long URLs, foreign Host headers), that it listens on
// loopback only, the port-taken message, and the live stream of events.jsonl.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect, createServer as createTcpServer } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { discoverRuns, resolveInside, PathRefused } from "../../src/serve/runs.js";
import { main } from "../../src/cli/main.js";

const tmp = mkdtempSync(join(tmpdir(), "nnc-serve-"));
const runsDir = join(tmp, "runs");
const secret = join(tmp, "secret.txt");
let srv: RunningServer;

function writeRun(dir: string, status: "done" | "training"): void {
  mkdirSync(join(dir, "model"), { recursive: true });
  writeFileSync(join(dir, "model", "model.json"), '{"modelTopology":{}}');
  writeFileSync(join(dir, "summary.txt"), "Model: mlp\n");
  writeFileSync(join(dir, "history.json"), '{"epochs":1,"history":[{"epoch":1,"loss":0.5}]}');
  const lines = [
    { type: "start", time: "2026-01-01T00:00:00Z", model: "mlp", pid: process.pid, settings: {} },
    { type: "begin", epochs: 3, stepsPerEpoch: 2, trainSamples: 4, validationSamples: 0 },
    { type: "epoch", epoch: 0, logs: { loss: 0.5 } },
    ...(status === "done" ? [{ type: "end", status: "done" }] : []),
  ];
  writeFileSync(join(dir, "events.jsonl"), lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
  if (status === "done") writeFileSync(join(dir, "result.json"), '{"model":"mlp","testAccuracy":0.9,"epochs":1}');
}

/** A raw HTTP request (no client-side path normalisation), to this machine only. */
function raw(
  path: string,
  options: { method?: string; host?: string; headers?: Record<string, string>; body?: string; address?: string } = {},
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: options.address ?? "127.0.0.1",
        port: srv.port,
        path,
        method: options.method ?? "GET",
        headers: { Host: options.host ?? `127.0.0.1:${srv.port}`, ...options.headers },
      },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on("error", reject);
    // a CONNECT's answer comes as "connect", whatever its status
    req.on("connect", (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: "", headers: res.headers });
    });
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

beforeAll(async () => {
  writeRun(join(runsDir, "mlp-1"), "done");
  writeRun(join(runsDir, "live-2"), "training");
  writeRun(join(runsDir, "mlp-1", "sweep", "1-width=64"), "done");
  mkdirSync(join(runsDir, "not-a-run"));
  writeFileSync(join(runsDir, "notes.txt"), "not a run file");
  writeFileSync(secret, "top secret");
  writeFileSync(join(runsDir, "mlp-1", ".hidden"), "dot file");
  symlinkSync(secret, join(runsDir, "mlp-1", "escape.txt"));
  symlinkSync(tmp, join(runsDir, "mlp-1", "up"));
  symlinkSync(join(runsDir, "mlp-1", "summary.txt"), join(runsDir, "mlp-1", "inside.txt"));
  srv = await startServer({ roots: [runsDir], port: 0, host: "127.0.0.1" });
});
afterAll(async () => {
  await srv?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("nnc serve: the server", () => {
  it("finds the runs, with sweep variants, and skips folders that are not runs", () => {
    expect(discoverRuns([runsDir]).map((r) => r.id)).toEqual(["live-2", "mlp-1", "mlp-1/sweep/1-width=64"]);
  });

  it("serves the page, tfjs's browser bundle, the bundled page script and the runs API", async () => {
    const page = await raw("/");
    expect(page.status).toBe(200);
    expect(page.body).toContain('<canvas id="pad" width="280" height="280"');
    expect(page.headers["content-security-policy"]).toMatch(/default-src 'self'/);
    expect(page.body).not.toMatch(/(src|href)="(https?:)?\/\//); // every asset from this server
    const tfjs = await raw("/tf.min.js");
    expect(tfjs.status).toBe(200);
    expect(tfjs.body.length).toBeGreaterThan(500_000);
    const app = await raw("/app.js");
    expect(app.status).toBe(200);
    expect(app.body).toContain("preprocessDigit"); // the same code as `nnc predict`
    const runs = JSON.parse((await raw("/api/runs")).body) as { id: string; status: string }[];
    expect(runs.map((r) => [r.id, r.status])).toEqual([
      ["live-2", "training"],
      ["mlp-1", "done"],
      ["mlp-1/sweep/1-width=64", "done"],
    ]);
    const run = JSON.parse((await raw("/api/run?id=mlp-1")).body);
    expect(run.summary).toBe("Model: mlp\n");
    expect(run.result.testAccuracy).toBe(0.9);
    expect(run.events.map((e: { type: string }) => e.type)).toEqual(["start", "begin", "epoch", "end"]);
    expect((await raw("/api/run?id=nope")).status).toBe(404);
  });

  it("serves files inside a run directory, the variant's too, and a symlink that stays inside", async () => {
    const model = await raw("/run/mlp-1/model/model.json");
    expect(model.status).toBe(200);
    expect(model.headers["content-type"]).toMatch(/application\/json/);
    expect(model.body).toBe('{"modelTopology":{}}');
    expect((await raw(`/run/${encodeURIComponent("mlp-1/sweep/1-width=64")}/summary.txt`)).body).toBe("Model: mlp\n");
    expect((await raw("/run/mlp-1/inside.txt")).body).toBe("Model: mlp\n");
    const head = await raw("/run/mlp-1/summary.txt", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
  });

  it.each([
    ["/run/mlp-1/../../secret.txt", 403],
    ["/run/mlp-1/model/../../../secret.txt", 403],
    ["/run/mlp-1/%2e%2e/%2e%2e/secret.txt", 403],
    ["/run/mlp-1/%2E%2E/%2E%2E/secret.txt", 403],
    ["/run/mlp-1/..%2f..%2fsecret.txt", 403],
    ["/run/mlp-1/..%5c..%5csecret.txt", 403],
    ["/run/mlp-1/%252e%252e/secret.txt", 404], // decoded once: "%2e%2e", a name that is not there
    ["/run/mlp-1//etc/passwd", 403],
    ["/run/mlp-1/%2Fetc%2Fpasswd", 403],
    ["/run/%2Fetc/passwd", 404],
    [`/run/${encodeURIComponent(tmp)}/secret.txt`, 404],
    ["/run/..%2F..%2Fsecret.txt/x", 404],
    ["/etc/passwd", 404],
    ["/run/mlp-1/escape.txt", 403], // symlink to a file outside
    ["/run/mlp-1/up/secret.txt", 403], // symlink to a folder outside
    ["/run/mlp-1/.hidden", 404],
    ["/run/mlp-1/model", 404], // a folder, not a file
    ["/run/mlp-1/%00", 403],
    ["/run/mlp-1/%zz", 400],
    ["/run/not-a-run/x", 404],
    ["/../secret.txt", 404],
    ["/notes.txt", 404],
    ["/run/live-2/../mlp-1/summary.txt", 403],
  ])("refuses %s with %i and never leaks the file", async (path, status) => {
    const res = await raw(path);
    expect(res.status).toBe(status);
    expect(res.body).not.toContain("top secret");
    expect(res.body).not.toContain("root:");
  });

  it("refuses an absolute-form request target for another file", async () => {
    const res = await raw(`http://127.0.0.1:${srv.port}${secret}`);
    expect([400, 404]).toContain(res.status);
    expect(res.body).not.toContain("top secret");
  });

  it("resolveInside: the rules on their own", () => {
    const dir = join(runsDir, "mlp-1");
    expect(resolveInside(dir, ["summary.txt"])).toMatch(/summary\.txt$/);
    for (const segs of [[".."], ["model", "..", "..", "x"], ["a/b"], [""], ["escape.txt"], ["up", "secret.txt"]]) {
      expect(() => resolveInside(dir, segs)).toThrow(PathRefused);
    }
  });

  it.each(["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"])(
    "refuses %s with 405 and an Allow header",
    async (method) => {
      const res = await raw(method === "CONNECT" ? "127.0.0.1:1" : "/api/runs", { method });
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe("GET, HEAD");
    },
  );

  it("refuses a body, a long URL, large headers and a foreign Host header", async () => {
    expect((await raw("/api/runs", { headers: { "Content-Length": "5" }, body: "hello" })).status).toBe(413);
    expect((await raw(`/api/runs?${"x".repeat(3000)}`)).status).toBe(414);
    expect((await raw("/", { headers: { "X-Big": "y".repeat(20_000) } })).status).toBe(431);
    const rebinding = await raw("/api/runs", { host: `evil.example:${srv.port}` });
    expect(rebinding.status).toBe(403);
    expect(rebinding.body).toMatch(/Host header/);
    expect((await raw("/api/runs", { host: `localhost:${srv.port}` })).status).toBe(200);
  });

  /** Opens a TCP connection to this machine's `address` and says how it went. */
  function tryConnect(address: string, port: number): Promise<string> {
    return new Promise<string>((resolve) => {
      const s = connect({ host: address, port });
      s.setTimeout(3000, () => {
        s.destroy();
        resolve("timeout");
      });
      s.on("connect", () => {
        s.destroy();
        resolve("connected");
      });
      s.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
    });
  }
  const others = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && !a.internal && a.family === "IPv4")
    .map((a) => a!.address);

  it("is not reachable on this machine's other interfaces (and is with --host 0.0.0.0)", async () => {
    // where the machine has no other interface the claim holds trivially; where it has, it is tried for real
    for (const address of others) {
      expect(await tryConnect(address, srv.port), `connecting to ${address}:${srv.port}`).toBe("ECONNREFUSED");
    }
    expect((await raw("/api/runs")).status).toBe(200);
    // the same probe does reach a server that opted into every interface: the probe can fail
    const open = await startServer({ roots: [runsDir], port: 0, host: "0.0.0.0" });
    try {
      for (const address of others) expect(await tryConnect(address, open.port)).toBe("connected");
    } finally {
      await open.close();
    }
  });

  it("streams what a run appends to events.jsonl (Server-Sent Events), and announces a new run", async () => {
    const received: string[] = [];
    const req = request({
      host: "127.0.0.1",
      port: srv.port,
      path: "/api/live",
      headers: { Host: `127.0.0.1:${srv.port}` },
    });
    const done = new Promise<void>((resolve, reject) => {
      req.on("response", (res) => {
        expect(res.headers["content-type"]).toBe("text/event-stream");
        res.on("data", (c: Buffer) => {
          received.push(c.toString());
          const all = received.join("");
          if (all.includes('"loss":0.25') && all.includes('"id":"late-3"')) resolve();
        });
      });
      req.on("error", reject);
    });
    req.end();
    await new Promise((r) => setTimeout(r, 400));
    appendFileSync(
      join(runsDir, "live-2", "events.jsonl"),
      `${JSON.stringify({ type: "epoch", epoch: 1, logs: { loss: 0.25 } })}\n{"type":"epo`, // and a torn line
    );
    writeRun(join(runsDir, "late-3"), "training");
    await done;
    req.destroy();
    const all = received.join("");
    expect(all).toMatch(/event: events\ndata: \{"id":"live-2","records":\[\{"type":"epoch","epoch":1/);
    expect(all).toMatch(/event: runs\ndata: \[.*"late-3"/);
    expect(all).not.toContain('"type":"epo"');
  });

  it("says clearly when the port is taken", async () => {
    await expect(startServer({ roots: [runsDir], port: srv.port, host: "127.0.0.1" })).rejects.toThrow(
      new RegExp(`port ${srv.port} on 127.0.0.1 is already in use .*--port`),
    );
  });
});

describe("nnc serve: the command", () => {
  it("exits 2 with a clear message for a missing folder, a bad port, and a taken port", async () => {
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      errors.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    const busy = createTcpServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
    const busyPort = (busy.address() as { port: number }).port;
    try {
      expect(await main(["node", "nnc", "serve", join(tmp, "nope")])).toBe(2);
      expect(await main(["node", "nnc", "serve", runsDir, "--port", "99999"])).toBe(2);
      expect(await main(["node", "nnc", "serve", runsDir, "--port", String(busyPort)])).toBe(2);
    } finally {
      process.stderr.write = write;
      busy.close();
    }
    const text = errors.join("");
    expect(text).toMatch(/nope does not exist/);
    expect(text).toMatch(/--port must be a port number from 0 \(any free port\) to 65535, not "99999"/);
    expect(text).toMatch(new RegExp(`port ${busyPort} on 127.0.0.1 is already in use`));
  });
});
