// `nnc run FILE --serve`: the server starts on the run directory before training, shows the run
// and a sweep's variants (each with its own events.jsonl), keeps serving after the run until
// Ctrl-C, and a taken port fails the run clearly, leaving nothing behind.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { runDeps } from "../../src/cli/commands/run.js";
import { fakeEngine, fakeIR, type FakeCall } from "../runtime/fake-engine.js";

const tmp = mkdtempSync(join(tmpdir(), "nnc-run-serve-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const nnFile = join(tmp, "mlp.nn");
writeFileSync(nnFile, "model mlp {}\n");

class Capture extends Writable {
  text = "";
  isTTY = false;
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

const saved = { ...runDeps };
let err: Capture;
let commanderErr = "";
beforeEach(() => {
  err = new Capture();
  commanderErr = "";
  runDeps.stdout = new Capture();
  runDeps.stderr = err;
  runDeps.handleSigint = false;
  const calls: FakeCall[] = [];
  runDeps.compileSource = () => ({ ir: fakeIR({ sweepUnits: [16, 64] }), diagnostics: [] });
  const engine = fakeEngine(calls);
  runDeps.selectEngine = async () => ({ engine, reason: "standalone engine: the fake one" });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    commanderErr += chunk.toString();
    return true;
  });
});
afterEach(() => {
  Object.assign(runDeps, saved);
  vi.restoreAllMocks();
});

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(check()).toBe(true);
}

describe("nnc run --serve", () => {
  it("serves the run and its sweep variants, keeps serving after training, stops on Ctrl-C", async () => {
    const dir = join(tmp, "swept");
    const exit = main(["node", "nnc", "run", nnFile, "--out", dir, "--serve", "--port", "0", "--quiet"]);
    await waitFor(() => /still serving/.test(err.text));
    const url = /nnc serve: (http:\/\/127\.0\.0\.1:\d+\/)  \(live view of this run\)/.exec(err.text)![1]!;
    expect(err.text.indexOf("live view of this run")).toBeLessThan(err.text.indexOf("training on"));
    const runs = (await (await fetch(`${url}api/runs`)).json()) as { id: string; status: string; hasModel: boolean }[];
    expect(runs.map((r) => [r.id, r.status, r.hasModel])).toEqual([
      ["swept", "done", true],
      ["swept/sweep/1-width=16", "done", true],
      ["swept/sweep/2-width=64", "done", true],
    ]);
    const variant = (await (
      await fetch(`${url}api/run?id=${encodeURIComponent("swept/sweep/1-width=16")}`)
    ).json()) as {
      events: { type: string; variant?: string }[];
    };
    expect(variant.events.filter((e) => e.type === "epoch")).toHaveLength(3);
    expect(variant.events[0]!.variant).toBe("width=16");
    expect((await fetch(`${url}run/swept/model/model.json`)).status).toBe(200);
    const page = await (await fetch(url)).text();
    expect(page).toContain('data-view="runs"'); // opens on the runs view
    process.emit("SIGINT");
    expect(await exit).toBe(0);
    await expect(fetch(`${url}api/runs`)).rejects.toThrow();
  });

  it("fails clearly when the port is taken, and leaves no run directory", async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
    const port = (busy.address() as { port: number }).port;
    const dir = join(tmp, "never");
    try {
      expect(await main(["node", "nnc", "run", nnFile, "--out", dir, "--serve", "--port", String(port)])).toBe(1);
    } finally {
      busy.close();
    }
    expect(commanderErr).toMatch(new RegExp(`nnc: port ${port} on 127\\.0\\.0\\.1 is already in use`));
    expect(existsSync(dir)).toBe(false);
  });
});
