// W6xx: likely mistakes that are not errors.
//   W601 sigmoid (an activation with catalog deepAlternatives) in a deep stack (vanishing gradients)
//   W602 dropout after the last layer with weights (drops predictions)
//   W603 softmax followed by a cross-entropy on logits (in training.ts)
//   W604 a layer whose output is never used (in model.ts)
//   W605 softmax in a hidden layer
import { activationOf, layerById, type IRLayer, type IRRef } from "../ir.js";
import { lookup } from "../catalog/index.js";
import type { BuiltModel } from "./model.js";
import type { Reporter } from "./report.js";
import { finalActivation } from "./training.js";


export function modelWarnings(built: BuiltModel, r: Reporter): void {
  const { model, info } = built;
  let weighted = 0;
  for (const l of model.layers) if (l.kind === "dense" || l.kind === "conv2d") weighted++;
  const final = finalActivation(model);
  const span = (l: IRLayer) => info.get(l.id)!.nameSpan;

  // W601
  if (weighted >= 4) {
    for (const l of model.layers) {
      if (l.id === final.layerId) continue;
      const kind = activationOf(l).kind;
      const [instead, ...also] = lookup("activation", kind)?.deepAlternatives ?? [];
      if (instead !== undefined) {
        const or = also.length ? ` (or ${also.map((a) => `\`${a}\``).join(", ")})` : "";
        r.warning("W601", span(l), `\`${kind}\` in a network ${weighted} layers deep: gradients vanish through stacked ${kind}s`, `use \`${instead}\`${or} in hidden layers`);
        break;
      }
    }
  }

  // W605
  for (const l of model.layers) {
    if (l.id !== final.layerId && activationOf(l).kind === "softmax") {
      r.warning("W605", span(l), "`softmax` in a hidden layer squashes its outputs into one probability distribution", "use `relu` here; keep `softmax` for the output");
    }
  }

  // W602
  let l: IRLayer | undefined = layerById(model, model.outputs[0]);
  while (l && l.weights.length === 0 && l.inputs.length === 1) {
    if (l.kind === "dropout") {
      r.warning("W602", span(l), "`dropout` after the last layer with weights drops the model's predictions at random during training", "move it before the last `dense`");
      break;
    }
    l = layerById(model, l.inputs[0]);
  }
}
