// Datasets, augmentations and input shapes.
import type { CatalogEntry } from "./types.js";
import { int, num, obj, oneOf } from "./schema.js";

export interface DatasetEntry extends CatalogEntry {
  classes: number;
  /** One example as stored: [28, 28, 1]. */
  exampleShape: number[];
  trainSamples: number;
  testSamples: number;
}

const datasetSchema = obj({
  validation: oneOf(["test", "none"], "none"),
  validation_split: num(undefined, { exMin: 0, exMax: 1 }),
  augment: { type: "object" },
});

export const datasets: DatasetEntry[] = [
  {
    name: "mnist", category: "dataset", doc: "MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28 grey, 10 classes.",
    schema: datasetSchema, positional: [], aliases: { val_split: "validation_split" }, example: "mnist(validation: test)",
    classes: 10, exampleShape: [28, 28, 1], trainSamples: 60000, testSamples: 10000,
  },
  {
    name: "fashion_mnist", category: "dataset", doc: "Fashion-MNIST clothing images: same format and sizes as MNIST, 10 classes.",
    schema: datasetSchema, positional: [], aliases: { val_split: "validation_split" },
    classes: 10, exampleShape: [28, 28, 1], trainSamples: 60000, testSamples: 10000,
  },
];

/** Keys of `augment: { ... }`; each entry's schema describes its value. */
function aug(name: string, doc: string, schema: Record<string, unknown>): CatalogEntry {
  return { name, category: "augmentation", doc, schema, positional: [], aliases: {} };
}
export const augmentations: CatalogEntry[] = [
  aug("rotation", "Random rotation, degrees, uniform in [-rotation, rotation].", num(0, { min: 0, max: 180 })),
  aug("width_shift", "Random horizontal shift, a fraction of the width, uniform in [-x, x].", num(0, { min: 0, max: 1 })),
  aug("height_shift", "Random vertical shift, a fraction of the height, uniform in [-x, x].", num(0, { min: 0, max: 1 })),
  aug("shift", "Sets both width_shift and height_shift.", num(0, { min: 0, max: 1 })),
  aug("zoom", "Random zoom factor, uniform in [1 - zoom, 1 + zoom].", num(0, { min: 0, exMax: 1 })),
  aug("shear", "Random shear angle, degrees, uniform in [-shear, shear] (Keras semantics).", num(0, { min: 0, max: 90 })),
  aug("fill", "How points outside the image are filled: nearest, constant, reflect or wrap.", oneOf(["nearest", "constant", "reflect", "wrap"], "nearest")),
  aug("cval", "The fill value for fill: constant (pixel scale 0..1).", num(0)),
];

/** `input image(28, 28, 1)`, `input vector(784)`. */
export interface InputShapeEntry extends CatalogEntry {
  toShape(args: Record<string, unknown>): number[];
}
export const inputShapes: InputShapeEntry[] = [
  {
    name: "image", category: "input_shape", doc: "An image input [height, width, channels] (channels default 1).",
    schema: obj({ height: int(undefined, 1), width: int(undefined, 1), channels: int(1, 1) }, ["height", "width"]),
    positional: ["height", "width", "channels"], aliases: {},
    toShape: (a) => [a.height as number, a.width as number, a.channels as number],
  },
  {
    name: "vector", category: "input_shape", doc: "A flat input of `size` features (MNIST images flattened: vector(784)).",
    schema: obj({ size: int(undefined, 1) }, ["size"]), positional: ["size"], aliases: {},
    toShape: (a) => [a.size as number],
  },
];
