// IR model -> tf.LayersModel, built by tfjs's own deserializer from the Keras topology that nnc
// saves as model.json (src/compiler/targets/keras.ts): the model `tf.loadLayersModel` reads back,
// with nnc's initial weights (src/runtime/random.ts, the standalone engine's values). The tfjs
// program (src/compiler/targets/tfjs), which the tfjs engine runs, builds the same model with
// tf.layers calls from the same mapping; the per-feature tests compare both with the standalone
// forward pass. Layer names are the IR layer ids, so weight names are `${id}/${role}`.
import type * as tfTypes from "@tensorflow/tfjs";
import type { IRModel } from "../../../compiler/ir.js";
import { kerasTopology } from "../../../compiler/targets/keras.js";
import { initialWeights } from "../../random.js";
import type { Tf } from "./backends.js";
import { eluLayer } from "../../training/tfjs-layers.js";

type Layer = tfTypes.layers.Layer;

export interface BuiltModel {
  model: tfTypes.LayersModel;
  ir: IRModel;
}

/** Builds the tf.LayersModel of an IR model from its Keras topology and sets its initial weights from `seed`. */
export async function buildModel(tf: Tf, irModel: IRModel, seed: number): Promise<BuiltModel> {
  registerNncLayers(tf);
  const model = await tf.models.modelFromJSON({ modelTopology: kerasTopology(irModel) } as unknown as tfTypes.ModelAndWeightsConfig);
  setInitialWeights(tf, model, irModel, seed);
  return { model, ir: irModel };
}

/** Sets every weight named in the IR from random.ts's initialWeights (the standalone engine's values). */
export function setInitialWeights(tf: Tf, model: tfTypes.LayersModel, irModel: IRModel, seed: number): void {
  const values = initialWeights(irModel, seed);
  const shapes = new Map(irModel.layers.flatMap((l) => l.weights.map((w) => [w.name, w.shape] as const)));
  for (const w of model.weights) {
    const v = values.get(w.originalName);
    const shape = shapes.get(w.originalName);
    // Both come from the same IR: a mismatch is a bug in the Keras mapping, not a user error.
    if (!v || !shape || shape.join("x") !== w.shape.join("x")) {
      throw new Error(`internal: tfjs weight ${w.originalName} [${w.shape}] does not match the IR's [${shape ?? "none"}]`);
    }
    const t = tf.tensor(v, w.shape as number[], "float32");
    w.write(t);
    t.dispose();
  }
}

/**
 * Registers nnc's layer classes with tfjs's serialization, so that tf.loadLayersModel (and the
 * engine's own build) reads every model nnc saves. Call before loading a model.json.
 * ELU with any alpha: tfjs's own ELU layer refuses alpha != 1 ("not supported yet"), so nnc
 * registers an ELU class of its own under the same class name: model.json then reads exactly as
 * Keras writes it ({"class_name": "ELU", "config": {"alpha": 0.5}}).
 */
export function registerNncLayers(tf: Tf): void {
  eluClass(tf);
}

const eluClasses = new WeakMap<object, new (args: { name?: string; alpha: number }) => Layer>();
/** The ELU class registered with this tfjs module (src/runtime/training/tfjs-layers.ts), made once per module. */
function eluClass(tf: Tf): new (args: { name?: string; alpha: number }) => Layer {
  let C = eluClasses.get(tf);
  if (!C) eluClasses.set(tf, (C = eluLayer(tf) as unknown as new (args: { name?: string; alpha: number }) => Layer));
  return C;
}
