// Optimizers for the tfjs engine, with Keras's update rules and defaults, written as tf ops.
// tfjs has most of them, but with different epsilon placement (Adam), no Nadam at all, and a
// learning rate fixed at construction; nnc's loop changes the rate every step (schedules,
// reduce_on_plateau), so every optimizer here takes `lr` per call. The rules match the
// standalone engine's (both follow Keras 3: keras/src/optimizers/*.py).
import type * as tfTypes from "@tensorflow/tfjs";
import type { IRRef } from "../../../compiler/ir.js";
import type { OptimizerKind } from "../../../compiler/catalog/kinds.js";
import type { Tf } from "./backends.js";

type Tensor = tfTypes.Tensor;
type Variable = tfTypes.Variable;

export interface NncOptimizer {
  readonly kind: string;
  /** The initial learning rate (the file's `lr`). */
  readonly lr: number;
  /** One update of `vars` by `grads` (same order) at learning rate `lr`. */
  apply(vars: Variable[], grads: Tensor[], lr: number): void;
  dispose(): void;
}

export function makeOptimizer(tf: Tf, ref: IRRef<OptimizerKind>): NncOptimizer {
  const a = ref.args as Record<string, unknown>;
  const lr0 = a.lr as number;
  const slots = new Map<string, Variable[]>();
  /** Per-variable state tensors, created zero (or `fill`) on first use. */
  const slot = (v: Variable, n: number, fill = 0): Variable[] => {
    let s = slots.get(v.name);
    if (!s) {
      s = [];
      for (let i = 0; i < n; i++) s.push(tf.variable(tf.fill(v.shape, fill), false));
      slots.set(v.name, s);
    }
    return s;
  };
  let t = 0; // steps taken (Keras's `iterations`)
  const dispose = () => {
    for (const s of slots.values()) for (const x of s) x.dispose();
    slots.clear();
  };
  const each = (vars: Variable[], grads: Tensor[], f: (v: Variable, g: Tensor, i: number) => void) => {
    t++;
    tf.tidy(() => vars.forEach((v, i) => f(v, grads[i]!, i)));
  };

  switch (ref.kind) {
    case "sgd": {
      const momentum = a.momentum as number;
      const nesterov = a.nesterov as boolean;
      return {
        kind: "sgd",
        lr: lr0,
        apply: (vars, grads, lr) =>
          each(vars, grads, (v, g) => {
            if (momentum === 0) {
              v.assign(v.sub(g.mul(lr)));
              return;
            }
            const [m] = slot(v, 1);
            const mNew = m!.mul(momentum).sub(g.mul(lr)); // m = momentum*m - lr*g
            m!.assign(mNew);
            v.assign(nesterov ? v.add(mNew.mul(momentum)).sub(g.mul(lr)) : v.add(mNew));
          }),
        dispose,
      };
    }
    case "adam":
    case "adamw": {
      const b1 = a.beta1 as number;
      const b2 = a.beta2 as number;
      const eps = a.epsilon as number;
      // AdamW: Keras decays every weight by lr * weight_decay before the Adam update.
      const wd = ref.kind === "adamw" ? (a.weight_decay as number) : 0;
      return {
        kind: ref.kind,
        lr: lr0,
        apply: (vars, grads, lr) =>
          each(vars, grads, (v, g) => {
            const [m, u] = slot(v, 2);
            if (wd > 0) v.assign(v.sub(v.mul(lr * wd)));
            // Keras: alpha = lr * sqrt(1 - b2^t) / (1 - b1^t); w -= alpha * m / (sqrt(v) + eps)
            const alpha = (lr * Math.sqrt(1 - Math.pow(b2, t))) / (1 - Math.pow(b1, t));
            m!.assign(m!.add(g.sub(m!).mul(1 - b1)));
            u!.assign(
              u!.add(
                g
                  .square()
                  .sub(u!)
                  .mul(1 - b2),
              ),
            );
            v.assign(v.sub(m!.mul(alpha).div(u!.sqrt().add(eps))));
          }),
        dispose,
      };
    }
    case "nadam": {
      // Keras 3 Nadam: momentum schedule u_t = b1 * (1 - 0.5 * 0.96^(0.004 t)).
      const b1 = a.beta1 as number;
      const b2 = a.beta2 as number;
      const eps = a.epsilon as number;
      let uProduct = 1;
      let lastT = 0;
      let uT = 0;
      let uT1 = 0;
      let uProductT = 1;
      return {
        kind: "nadam",
        lr: lr0,
        apply: (vars, grads, lr) =>
          each(vars, grads, (v, g) => {
            if (lastT !== t) {
              lastT = t;
              uT = b1 * (1 - 0.5 * Math.pow(0.96, 0.004 * t));
              uT1 = b1 * (1 - 0.5 * Math.pow(0.96, 0.004 * (t + 1)));
              uProductT = uProduct * uT;
              uProduct = uProductT;
            }
            const uProductT1 = uProductT * uT1;
            const beta2Power = Math.pow(b2, t);
            const [m, u] = slot(v, 2);
            m!.assign(m!.add(g.sub(m!).mul(1 - b1)));
            u!.assign(
              u!.add(
                g
                  .square()
                  .sub(u!)
                  .mul(1 - b2),
              ),
            );
            const mHat = m!.mul(uT1 / (1 - uProductT1)).add(g.mul((1 - uT) / (1 - uProductT)));
            const vHat = u!.div(1 - beta2Power);
            v.assign(v.sub(mHat.mul(lr).div(vHat.sqrt().add(eps))));
          }),
        dispose,
      };
    }
    case "rmsprop": {
      const rho = a.rho as number;
      const momentum = a.momentum as number;
      const eps = a.epsilon as number;
      const centered = a.centered as boolean;
      return {
        kind: "rmsprop",
        lr: lr0,
        apply: (vars, grads, lr) =>
          each(vars, grads, (v, g) => {
            const [vel, mom, avg] = slot(v, 3);
            vel!.assign(vel!.mul(rho).add(g.square().mul(1 - rho)));
            let denom = vel!.add(eps) as Tensor;
            if (centered) {
              avg!.assign(avg!.mul(rho).add(g.mul(1 - rho)));
              denom = vel!.sub(avg!.square()).add(eps);
            }
            const inc = g.mul(lr).div(denom.sqrt());
            if (momentum > 0) {
              mom!.assign(mom!.mul(momentum).add(inc));
              v.assign(v.sub(mom!));
            } else v.assign(v.sub(inc));
          }),
        dispose,
      };
    }
    case "adagrad": {
      const init = a.initial_accumulator_value as number;
      const eps = a.epsilon as number;
      return {
        kind: "adagrad",
        lr: lr0,
        apply: (vars, grads, lr) =>
          each(vars, grads, (v, g) => {
            const [acc] = slot(v, 1, init);
            acc!.assign(acc!.add(g.square()));
            v.assign(v.sub(g.mul(lr).div(acc!.add(eps).sqrt())));
          }),
        dispose,
      };
    }
    case "adadelta": {
      const rho = a.rho as number;
      const eps = a.epsilon as number;
      return {
        kind: "adadelta",
        lr: lr0,
        apply: (vars, grads, lr) =>
          each(vars, grads, (v, g) => {
            const [accG, accD] = slot(v, 2);
            accG!.assign(accG!.mul(rho).add(g.square().mul(1 - rho)));
            const delta = accD!.add(eps).sqrt().div(accG!.add(eps).sqrt()).mul(g);
            accD!.assign(accD!.mul(rho).add(delta.square().mul(1 - rho)));
            v.assign(v.sub(delta.mul(lr)));
          }),
        dispose,
      };
    }
    case "adamax": {
      const b1 = a.beta1 as number;
      const b2 = a.beta2 as number;
      const eps = a.epsilon as number;
      return {
        kind: "adamax",
        lr: lr0,
        apply: (vars, grads, lr) =>
          each(vars, grads, (v, g) => {
            const [m, u] = slot(v, 2);
            m!.assign(m!.add(g.sub(m!).mul(1 - b1)));
            u!.assign(tf.maximum(u!.mul(b2), g.abs()));
            v.assign(v.sub(m!.mul(lr / (1 - Math.pow(b1, t))).div(u!.add(eps))));
          }),
        dispose,
      };
    }
    default: {
      const missing: never = ref.kind; // a catalog optimizer without an update rule here fails the typecheck
      throw new Error(`internal: the tfjs engine has no optimizer "${String(missing)}"`);
    }
  }
}
