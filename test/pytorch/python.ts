// The Python the PyTorch tests run: $NNC_PYTHON, else Debian's /usr/bin/python3 with python3-torch
// (.ci/run), the same default as the pytorch engine.
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { pythonCommand } from "../../src/runtime/engines/pytorch.js";

export const PYTHON = pythonCommand();
export const HERE = dirname(fileURLToPath(import.meta.url));
