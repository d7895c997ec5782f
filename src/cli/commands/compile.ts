// `nnc compile FILE [--target standalone|tfjs|pytorch] [--emit code|ir] [-o, --out PATH]`
//   --emit code (default): a TypeScript program for the target, written to FILE.ts beside the
//   input unless --out says otherwise (`-o model.js`: JavaScript that plain `node` runs; the
//   pytorch target writes .py); --emit ir: the JSON IR, printed to stdout unless --out.
//   `--out -` prints to stdout. Files are written to a temporary name and renamed, so an
//   interrupted or failed compile never leaves a half-written file.
import type { Command } from "commander";
import { basename, extname } from "node:path";
// The targets (and prettier) load only when code is generated, to keep `nnc check` and
// `nnc --help` quick to start.
import { CliError, EXIT_DIAGNOSTICS, EXIT_USAGE } from "../errors.js";
import { compileFileOrFail } from "./summary.js";
import { writeAtomic } from "../write-atomic.js";
import type { Limits } from "../../compiler/checker/limits.js";
import { MAX_KERNEL_THREADS } from "../../compiler/targets/standalone/threads.js";
import { limitOption } from "../limit-option.js";

const TFJS_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node", "@tensorflow/tfjs"] as const;
type TfjsPackage = (typeof TFJS_PACKAGES)[number];

interface CompileFlags {
  target: string;
  emit: string;
  out?: string;
  kernels: string;
  threads: string;
  tfjsPackage: string;
  limit?: Partial<Limits>;
}

/** examples/mlp.nn -> examples/mlp.ts (examples/mlp.py for the pytorch target) */
export function defaultOutPath(file: string, ext = ".ts"): string {
  return file.endsWith(".nn") ? `${file.slice(0, -3)}${ext}` : `${file}${ext}`;
}

export function registerCompile(program: Command): void {
  program
    .command("compile")
    .description("compile a .nn file to a TypeScript program (standalone or TensorFlow.js), or print its IR")
    .argument("<file>", ".nn file")
    .option("--target <target>", "standalone (no dependencies), tfjs, or pytorch (a Python program, DistributedDataParallel-ready)", "standalone")
    .option("--emit <what>", "code (a TypeScript program) or ir (the checked IR as JSON)", "code")
    .option("-o, --out <path>", "output file (`-`: stdout); default FILE.ts beside the input, stdout for --emit ir")
    .option("--kernels <mode>", "standalone target: simd (WebAssembly SIMD, as nnc run trains) or ts (readable TypeScript loops, for reading)", "simd")
    .option("--threads <n>", "standalone target: worker threads for the kernels", "1")
    .option(
      "--tfjs-package <name>",
      "tfjs target: the package the program imports (@tensorflow/tfjs, @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu)",
      "@tensorflow/tfjs",
    )
    .addOption(limitOption())
    .action(async (file: string, opts: CompileFlags, cmd: Command) => {
      // Flags of the other target are errors, not silently ignored.
      const given = (flag: string) => cmd.getOptionValueSource(flag) === "cli";
      const foreign = opts.target === "tfjs" ? ["kernels", "threads"].filter(given) : opts.target !== "tfjs" && given("tfjsPackage") ? ["tfjsPackage"] : opts.target === "pytorch" ? ["kernels", "threads"].filter(given) : [];
      if (foreign.length > 0) {
        const names = foreign.map((f) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(" and ");
        throw new CliError(`${names} ${foreign.length === 1 ? "does" : "do"} not apply to --target ${opts.target} (drop ${foreign.length === 1 ? "it" : "them"}, or use --target ${opts.target === "tfjs" ? "standalone" : "tfjs"})`, EXIT_USAGE);
      }
      if (opts.target !== "standalone" && opts.target !== "tfjs" && opts.target !== "pytorch") {
        throw new CliError(`unknown --target \`${opts.target}\`: use standalone, tfjs or pytorch`, EXIT_USAGE);
      }
      if (opts.emit !== "code" && opts.emit !== "ir") {
        throw new CliError(`unknown --emit \`${opts.emit}\`: use code or ir`, EXIT_USAGE);
      }
      if (opts.kernels !== "ts" && opts.kernels !== "simd") {
        throw new CliError(`unknown --kernels \`${opts.kernels}\`: use ts or simd`, EXIT_USAGE);
      }
      const threads = Number(opts.threads);
      if (!Number.isInteger(threads) || threads < 1 || threads > MAX_KERNEL_THREADS) {
        throw new CliError(`--threads must be a whole number from 1 to ${MAX_KERNEL_THREADS}, not \`${opts.threads}\``, EXIT_USAGE);
      }
      if (!TFJS_PACKAGES.includes(opts.tfjsPackage as TfjsPackage)) {
        throw new CliError(`unknown --tfjs-package \`${opts.tfjsPackage}\`: use ${TFJS_PACKAGES.join(", ")}`, EXIT_USAGE);
      }
      // The program's language follows the file name: .ts or .js (.py for the pytorch target).
      const out = opts.out ?? (opts.emit === "ir" ? "-" : defaultOutPath(file, opts.target === "pytorch" ? ".py" : ".ts"));
      const ext = out === "-" ? (opts.target === "pytorch" ? ".py" : ".ts") : extname(out);
      if (opts.emit === "code" && !(opts.target === "pytorch" ? [".py"] : [".ts", ".js"]).includes(ext)) {
        throw new CliError(
          opts.target === "pytorch"
            ? `-o ${out}: the pytorch target writes a Python program; name it with .py (e.g. -o ${basename(out, ext)}.py)`
            : `-o ${out}: the ${opts.target} target writes TypeScript (.ts, run with npx tsx) or JavaScript (.js, run with node); name it e.g. -o ${basename(out, ext)}.js`,
          EXIT_USAGE,
        );
      }
      // what runs the written program, for its header and --help
      const command = out === "-" ? undefined : `${ext === ".js" ? "node" : "npx tsx"} ${basename(out)}`;
      const { ir, text } = compileFileOrFail(file, opts.limit);
      let output: string;
      if (opts.emit === "ir") {
        output = `${JSON.stringify(ir, null, 2)}\n`;
      } else if (opts.target === "pytorch") {
        const { generatePytorch, PytorchTargetError } = await import("../../compiler/targets/pytorch/index.js");
        try {
          output = generatePytorch(ir, { sourceText: text });
        } catch (err) {
          if (!(err instanceof PytorchTargetError)) throw err;
          const { renderDiagnostics, countSummary } = await import("../../compiler/codeframe.js");
          const color = Boolean(process.stderr.isTTY) && !process.env.NO_COLOR;
          process.stderr.write(`${renderDiagnostics(err.diagnostics, text, file, { color })}\n`);
          throw new CliError(`${file}: ${countSummary(err.diagnostics)}; the pytorch target cannot express this file`, EXIT_DIAGNOSTICS);
        }
      } else {
        try {
          output =
            opts.target === "standalone"
              ? await (await import("../../compiler/targets/standalone/index.js")).generateStandalone(ir, {
                  sourceText: text,
                  kernels: opts.kernels,
                  threads,
                  command,
                })
              : await (await import("../../compiler/targets/tfjs/index.js")).generateTfjs(ir, {
                  package: opts.tfjsPackage as TfjsPackage,
                  command,
                });
          if (ext === ".js") output = await (await import("../../compiler/targets/javascript.js")).toJavaScript(output);
        } catch (err) {
          const why = err instanceof Error ? err.message : String(err);
          throw new CliError(`cannot generate the ${opts.target} program for ${file}: ${why}`, EXIT_DIAGNOSTICS);
        }
      }
      if (out === "-") {
        process.stdout.write(output);
        return;
      }
      writeAtomic(out, output);
      process.stderr.write(`wrote ${out}\n`);
    });
}
