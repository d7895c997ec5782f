// The fuzz campaign's worker thread (bench/fuzz.ts): judges each input it is sent, in a thread
// of its own as a language server would, so that a hang can be timed out and the worker replaced.
import { register } from "node:module";
import { parentPort } from "node:worker_threads";

register("../bin/ts-hooks.mjs", import.meta.url);
const { judge } = await import("./fuzz-lib.ts");
parentPort.on("message", (text) => parentPort.postMessage(judge(text)));
parentPort.postMessage("ready");
