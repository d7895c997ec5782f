import { describe, expect, it } from "vitest";
import { callbacks as catalogCallbacks } from "../../src/compiler/catalog/index.js";
import { callbackFactoryName } from "../../src/compiler/targets/standalone/index.js";
import {
  CALLBACK_FACTORIES,
  CallbackRunner,
  CheckpointDecider,
  EarlyStopping,
  exponentialDecay,
  inverseTimeDecay,
  piecewiseConstant,
  ReduceLROnPlateau,
  resolveMonitorMode,
  scheduledLearningRate,
  shouldTerminateOnNaN,
} from "../../src/runtime/training/callbacks.js";

describe("step-based schedules (Keras LearningRateSchedule values)", () => {
  it("piecewise_constant: values[i] while step <= boundaries[i]", () => {
    const at = (s: number) => piecewiseConstant([100, 200], [1, 0.5, 0.1], s);
    expect([0, 100, 101, 200, 201, 10_000].map(at)).toEqual([1, 1, 0.5, 0.5, 0.1, 0.1]);
  });
  it("exponential_decay, continuous and staircase", () => {
    expect(exponentialDecay(0.1, 1000, 0.96, false, 0)).toBe(0.1);
    expect(exponentialDecay(0.1, 1000, 0.96, false, 500)).toBeCloseTo(0.09797958971132712, 15);
    expect(exponentialDecay(0.1, 1000, 0.96, true, 500)).toBe(0.1);
    expect(exponentialDecay(0.1, 1000, 0.96, true, 2500)).toBeCloseTo(0.1 * 0.96 * 0.96, 15);
  });
  it("inverse_time_decay, continuous and staircase", () => {
    expect(inverseTimeDecay(0.1, 1, 0.5, false, 2)).toBeCloseTo(0.05, 15);
    expect(inverseTimeDecay(0.1, 10, 0.5, false, 15)).toBeCloseTo(0.1 / 1.75, 15);
    expect(inverseTimeDecay(0.1, 10, 0.5, true, 15)).toBeCloseTo(0.1 / 1.5, 15);
  });
  it("dispatches on the IR schedule", () => {
    expect(scheduledLearningRate(null, 0.01, 123)).toBe(0.01);
    expect(
      scheduledLearningRate(
        { kind: "exponential_decay", args: { decay_steps: 10, decay_rate: 0.5, staircase: false } },
        1,
        20,
      ),
    ).toBeCloseTo(0.25, 15);
    expect(
      scheduledLearningRate({ kind: "piecewise_constant", args: { boundaries: [5], values: [0.1, 0.01] } }, 1, 6),
    ).toBe(0.01);
    expect(() => scheduledLearningRate({ kind: "cosine", args: {} }, 1, 0)).toThrow(
      /unknown learning-rate schedule cosine/,
    );
  });
});

describe("monitor modes", () => {
  it("auto is max for accuracy-like names, else min", () => {
    expect(resolveMonitorMode("val_accuracy", "auto")).toBe("max");
    expect(resolveMonitorMode("val_loss", "auto")).toBe("min");
    expect(resolveMonitorMode("val_loss", "max")).toBe("max");
  });
});

describe("ReduceLROnPlateau", () => {
  const base = { monitor: "val_loss", factor: 0.5, patience: 2, min_delta: 1e-4, cooldown: 0, min_lr: 0, mode: "auto" };
  const run = (cb: ReduceLROnPlateau, values: number[], lr0: number) => {
    let lr = lr0;
    const lrs: number[] = [];
    for (const v of values) {
      lr = cb.onEpochEnd({ val_loss: v }, lr).lr;
      lrs.push(lr);
    }
    return lrs;
  };
  it("halves the lr after `patience` epochs without improvement", () => {
    const lrs = run(new ReduceLROnPlateau(base), [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.8], 1e-3);
    expect(lrs).toEqual([1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4]);
  });
  it("needs an improvement larger than min_delta", () => {
    const lrs = run(new ReduceLROnPlateau({ ...base, min_delta: 0.1 }), [1.0, 0.95, 0.92], 1);
    expect(lrs).toEqual([1, 1, 0.5]);
  });
  it("waits `cooldown` epochs after a reduction", () => {
    const lrs = run(new ReduceLROnPlateau({ ...base, patience: 1, cooldown: 2 }), [1, 2, 2, 2, 2, 2], 1);
    // e1 reduce; e2,e3 cooldown; e4 reduce; e5 cooldown
    expect(lrs).toEqual([1, 0.5, 0.5, 0.5, 0.25, 0.25]);
  });
  it("never goes below min_lr and stops reducing there", () => {
    const lrs = run(new ReduceLROnPlateau({ ...base, patience: 1, factor: 0.1, min_lr: 0.05 }), [1, 2, 2, 2], 1);
    expect(lrs).toEqual([1, 0.1, 0.05, 0.05]);
  });
  it("mode max, a message, and a warning when the monitor is missing", () => {
    const cb = new ReduceLROnPlateau({ ...base, monitor: "val_accuracy", patience: 1 });
    expect(cb.onEpochEnd({ val_accuracy: 0.5 }, 1).lr).toBe(1);
    const d = cb.onEpochEnd({ val_accuracy: 0.4 }, 1);
    expect(d.lr).toBe(0.5);
    expect(d.message).toBe("reduce_on_plateau: val_accuracy has not improved for 1 epochs; lr 1 -> 0.5");
    expect(cb.onEpochEnd({ loss: 1 }, 0.5).warning).toMatch(/val_accuracy is not available/);
  });
});

describe("EarlyStopping", () => {
  const base = { monitor: "val_loss", patience: 2, min_delta: 0, mode: "auto", restore_best: true };
  it("stops after `patience` epochs without improvement and restores the best", () => {
    const cb = new EarlyStopping(base);
    const ds = [1, 0.9, 0.95, 0.92].map((v, e) => cb.onEpochEnd(e, { val_loss: v }));
    expect(ds.map((d) => d.snapshot)).toEqual([true, true, false, false]);
    expect(ds.map((d) => d.stop)).toEqual([false, false, false, true]);
    expect(ds[3]).toMatchObject({ stop: true, restore: true });
    expect(ds[3].message).toMatch(/best 0\.9000 at epoch 2.*restoring the weights of epoch 2/);
    expect(cb.stoppedEpoch).toBe(3);
  });
  it("patience 0 stops at the first non-improvement (never at epoch 0)", () => {
    const cb = new EarlyStopping({ ...base, patience: 0, restore_best: false });
    expect(cb.onEpochEnd(0, { val_loss: 1 })).toMatchObject({ stop: false, snapshot: false });
    expect(cb.onEpochEnd(1, { val_loss: 1.1 })).toMatchObject({ stop: true, restore: false });
  });
  it("an improvement must exceed min_delta; mode max", () => {
    const cb = new EarlyStopping({ ...base, monitor: "val_accuracy", min_delta: 0.01, patience: 1 });
    expect(cb.onEpochEnd(0, { val_accuracy: 0.9 }).stop).toBe(false);
    expect(cb.onEpochEnd(1, { val_accuracy: 0.905 })).toMatchObject({ stop: true, restore: true, snapshot: false });
  });
  it("keeps the first epoch's weights even when it is no improvement (NaN)", () => {
    const cb = new EarlyStopping({ ...base, patience: 1 });
    expect(cb.onEpochEnd(0, { val_loss: NaN }).snapshot).toBe(true);
    expect(cb.onEpochEnd(1, { val_loss: NaN })).toMatchObject({ snapshot: false, stop: true, restore: true });
  });
  it("warns and carries on when the monitor is missing", () => {
    const d = new EarlyStopping(base).onEpochEnd(0, { loss: 1 });
    expect(d.stop).toBe(false);
    expect(d.warning).toMatch(/early_stopping: val_loss is not available \(logs have loss\)/);
  });
});

describe("CheckpointDecider", () => {
  it("saves every epoch without save_best_only", () => {
    const cb = new CheckpointDecider({ monitor: "val_loss", save_best_only: false, mode: "auto" });
    expect([1, 2, 3].map((v) => cb.onEpochEnd({ val_loss: v }).save)).toEqual([true, true, true]);
  });
  it("saves only strict improvements with save_best_only", () => {
    const cb = new CheckpointDecider({ monitor: "val_loss", save_best_only: true, mode: "min" });
    expect([0.5, 0.4, 0.45, 0.4, 0.3].map((v) => cb.onEpochEnd({ val_loss: v }).save)).toEqual([
      true,
      true,
      false,
      false,
      true,
    ]);
    const acc = new CheckpointDecider({ monitor: "val_accuracy", save_best_only: true, mode: "auto" });
    expect([0.5, 0.6, 0.55].map((v) => acc.onEpochEnd({ val_accuracy: v }).save)).toEqual([true, true, false]);
    expect(acc.onEpochEnd({ loss: 1 })).toMatchObject({ save: false, warning: expect.stringMatching(/val_accuracy/) });
  });
});

describe("terminate_on_nan", () => {
  it("flags NaN and infinite losses only", () => {
    expect([0.3, NaN, Infinity, -Infinity, 0].map(shouldTerminateOnNaN)).toEqual([false, true, true, true, false]);
  });
});

describe("CallbackRunner (both standalone engines run the callbacks through it)", () => {
  it("has a factory for every catalog callback, in the catalog's order, named as the standalone target embeds it", () => {
    expect(Object.keys(CALLBACK_FACTORIES)).toEqual(catalogCallbacks.map((c) => c.name));
    for (const [kind, factory] of Object.entries(CALLBACK_FACTORIES)) expect(factory.name).toBe(callbackFactoryName(kind));
  });

  const make = (refs: { kind: string; args: Record<string, unknown> }[]) => {
    const said: string[] = [];
    const calls: string[] = [];
    const runner = new CallbackRunner(refs, CALLBACK_FACTORIES, {
      say: (m) => said.push(m),
      snapshotWeights: () => calls.push("snapshot"),
      restoreWeights: () => calls.push("restore"),
      saveModel: (dir, epoch) => void calls.push(`save ${dir} ${epoch}`),
      writeText: (path, text) => void calls.push(`write ${path} ${JSON.stringify(text)}`),
    });
    return { runner, said, calls };
  };
  const plateau = { kind: "reduce_on_plateau", args: { monitor: "val_loss", factor: 0.5, patience: 1, min_delta: 0, cooldown: 0, min_lr: 0, mode: "min" } };
  const early = { kind: "early_stopping", args: { monitor: "val_loss", patience: 1, min_delta: 0, restore_best: true, mode: "min" } };
  const checkpoint = { kind: "checkpoint", args: { monitor: "val_loss", save_best_only: true, mode: "min", path: "ckpt" } };
  const csv = { kind: "csv_logger", args: { path: "log.csv", separator: ";", append: false } };

  it("decides at an epoch's end in a fixed order (loggers, checkpoint, learning rate, stop), whatever the section's order", async () => {
    const { runner, said, calls } = make([early, plateau, csv, checkpoint]);
    expect(await runner.onEpochEnd(0, { loss: 1, val_loss: 1 }, 0.1)).toEqual({ lr: 0.1, stop: false });
    const d = await runner.onEpochEnd(1, { loss: 1, val_loss: 2 }, 0.1);
    expect(d).toEqual({ lr: 0.05, stop: true });
    expect(calls).toEqual([
      `write log.csv "epoch;loss;val_loss\\n0;1;1\\n"`,
      "save ckpt 0",
      "snapshot",
      `write log.csv "epoch;loss;val_loss\\n0;1;1\\n1;1;2\\n"`,
      "restore",
    ]);
    expect(said[0]).toMatch(/^checkpoint: val_loss improved from Infinity to 1\.0000, saving$/);
    expect(said[1]).toMatch(/^reduce_on_plateau: val_loss has not improved for 1 epochs; lr 0\.1 -> 0\.05$/);
    expect(said[2]).toMatch(/^early_stopping: val_loss has not improved for 1 epochs .*restoring the weights of epoch 1$/);
  });

  it("runs the first of each kind only", async () => {
    const second = { ...plateau, args: { ...plateau.args, factor: 0.1 } };
    const { runner } = make([plateau, second]);
    await runner.onEpochEnd(0, { val_loss: 1 }, 1);
    expect((await runner.onEpochEnd(1, { val_loss: 1 }, 1)).lr).toBe(0.5);
  });

  it("keeps the state resume/ needs, in the catalog's order, and continues from it exactly", async () => {
    const epochs = [3, 2, 2.5, 2.4, 2.6, 1];
    const run = async (from: number, to: number, r: ReturnType<typeof make>, lr: number) => {
      for (let e = from; e < to; e++) lr = (await r.runner.onEpochEnd(e, { val_loss: epochs[e]! }, lr)).lr;
      return lr;
    };
    const whole = make([checkpoint, csv, plateau]);
    const lrWhole = await run(0, epochs.length, whole, 1);
    const first = make([checkpoint, csv, plateau]);
    const lrHalf = await run(0, 3, first, 1);
    const saved = JSON.parse(JSON.stringify({ state: first.runner.state(), lines: first.runner.lines() }));
    expect(Object.keys(saved.state)).toEqual(["reduce_on_plateau", "checkpoint"]);
    const resumed = make([checkpoint, csv, plateau]);
    resumed.runner.restore(saved.state, saved.lines);
    expect(await run(3, epochs.length, resumed, lrHalf)).toBe(lrWhole);
    expect(resumed.runner.state()).toEqual(whole.runner.state());
    expect(resumed.runner.lines()).toEqual(whole.runner.lines());
    expect(resumed.said).toEqual(whole.said.slice(first.said.length));
  });

  it("terminate_on_nan stops at a batch whose loss is not finite, saying where", () => {
    const { runner, said } = make([{ kind: "terminate_on_nan", args: {} }]);
    expect(runner.onBatchEnd(0, 3, 0.5)).toBe(false);
    expect(runner.onBatchEnd(1, 4, NaN)).toBe(true);
    expect(said).toEqual(["terminate_on_nan: the loss is NaN at epoch 2, step 5; stopping"]);
  });
});
