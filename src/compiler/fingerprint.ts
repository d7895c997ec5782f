// What makes two trainings the same: the model (its layers, their arguments and weights) and the
// training section (data, loss, optimizer, schedule, callbacks, batch, seed, ...) but not the
// number of epochs, which a resumed run may raise. Source positions and comments do not count,
// so a file reformatted or commented after a run still resumes it. `nnc run --resume` and the
// standalone program's resume/ state compare these.
import { createHash } from "node:crypto";
import type { IR } from "./ir.js";

export interface Fingerprint {
  /** sha256 of the model without source positions. */
  model: string;
  /** sha256 of the training section without the epochs. */
  training: string;
}

function sha256(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex");
}

export function fingerprint(ir: IR): Fingerprint {
  const model = { ...ir.model, layers: ir.model.layers.map(({ source: _source, ...layer }) => layer) };
  const training = ir.training === null ? null : { ...ir.training, epochs: undefined };
  return { model: sha256(model), training: sha256(training) };
}
