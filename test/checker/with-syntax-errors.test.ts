// A file with syntax errors still gets the semantic diagnostics of the declarations the errors
// leave intact (what an editor shows as you type), never follow-on errors of the broken ones.
import { describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";

const TRAIN = `train m {
  data mnist(validation: test)
  loss categorical_crossentropy
  optimizer adam(lr: 1e-3)
  epochs 10
  batch 32
}
`;

function codes(text: string): string[] {
  const r = compileSource(text, "t.nn");
  expect(r.ir).toBeNull();
  return r.diagnostics.map((d) => `${d.code}@${d.span.startLine}`);
}

describe("semantic checks beside syntax errors", () => {
  it("checks an intact model when the train section is broken", () => {
    const text = `model m {
  input image(28, 28, 1)
  flatten
  dense(64, activation: relux)
  dense(10, activation: softmax)
}

train m {
  data mnist(validation: test)
  optimizer adam(lr: 1e-3 +)
}
`;
    expect(codes(text)).toEqual(["E203@4", "E114@10"]);
  });

  it("says nothing more about a broken model, nor about the train section that names it", () => {
    const text = `model m {
  input image(28, 28, 1)
  dense(64, activation: relu
  dense(10, activation: softmax)
}

${TRAIN.replace("epochs 10", "epochs -3")}`;
    expect(codes(text)).toEqual(["E111@3"]);
  });

  it("does not call a broken block an unknown layer, and still checks the rest of the model", () => {
    const text = `block hidden(units) {
  dense(units, activation: relu
}

model m {
  input image(28, 28, 1)
  flatten
  hidden(64)
  dense(10, activation: softmaxx)
}
`;
    expect(codes(text)).toEqual(["E111@2", "E203@9"]);
  });

  it("checks an intact model beside a broken one", () => {
    const text = `model a {
  input image(28, 28, 1)
  dense(64 activation: relu)
}

model b {
  input image(28, 28, 1)
  dense(10)
}
`;
    // b: a dense layer fed a 3-D tensor (no flatten): E401 on its line.
    const got = codes(text);
    expect(got[0]).toMatch(/^E1\d\d@3$/);
    expect(got.slice(1)).toEqual(["E401@8"]);
  });
});
