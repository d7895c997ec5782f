import { describe, expect, it } from "vitest";
import {
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
