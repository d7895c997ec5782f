# Test driver (test/pytorch/parity.test.ts): for each case folder, imports the generated PyTorch
# program, loads nnc's initial weights, writes the forward outputs (inference) and the weights
# after one training step per learning rate of case.json's `lrs`, taken with the program's own
# train_step and Optimizer.
import importlib.util
import json
import os
import sys

import torch

torch.set_num_threads(1)


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


for i, case in enumerate(sys.argv[1:]):
    with open(os.path.join(case, "case.json")) as f:
        cfg = json.load(f)
    prog = load(os.path.join(case, "program.py"), f"case_{i}")
    batch = prog.read_safetensors(os.path.join(case, "batch.safetensors"))
    x, y = batch["x"], batch["y"]
    model = prog.Model()
    prog.load_weights(model, os.path.join(case, "init.safetensors"))
    model.eval()
    with torch.no_grad():
        out = model(x)
    prog.write_safetensors(os.path.join(case, "forward.safetensors"), {"out": out})
    if cfg["lrs"]:
        model.train()
        state = prog.tensors_of(model)
        optimizer = prog.Optimizer([state[a] for _, a, _ in prog.WEIGHTS if state[a].requires_grad])
        for lr in cfg["lrs"]:
            prog.train_step(model, model, optimizer, x, y, x.shape[0], 1, lr)
        prog.write_safetensors(os.path.join(case, "after.safetensors"), prog.weights_of(model))
    print(f"ok {case}", flush=True)
