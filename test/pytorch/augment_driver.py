# Test driver (test/pytorch/augment.test.ts): for each generated program (one per fill mode),
# applies its affine_matrix and augment to the images and parameters in case.safetensors.
import importlib.util
import sys

import torch

for i, (program, case, out) in enumerate(zip(sys.argv[1::3], sys.argv[2::3], sys.argv[3::3])):
    spec = importlib.util.spec_from_file_location(f"aug_{i}", program)
    prog = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prog)
    t = prog.read_safetensors(case)
    p = t["params"].to(torch.float64)  # [n, 6]: theta, tx, ty, shear, zx, zy
    m = prog.affine_matrix(*(p[:, k] for k in range(6)))
    images = prog.augment(t["images"], m)
    # a draw from the program's own random transforms: finite, and the identity only when asked for none
    g = torch.Generator()
    g.manual_seed(1)
    drawn = prog.random_affine(5, g)
    prog.write_safetensors(out, {"matrix": m, "images": images, "drawn": drawn})
