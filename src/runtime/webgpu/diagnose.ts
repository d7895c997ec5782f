// Why Dawn found no WebGPU adapter, in one paragraph: what is missing on this machine (the Vulkan
// loader, a driver's ICD manifest, a GPU device node, EGL/Mesa for the software adapter), how to
// get it, and what Dawn itself said. Reads only the filesystem and the environment.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import type { ProbeResult } from "./dawn.js";

const LIB_DIRS = [
  "/usr/lib/x86_64-linux-gnu",
  "/lib/x86_64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/lib/aarch64-linux-gnu",
  "/usr/lib64",
  "/lib64",
  "/usr/lib",
  "/lib",
  "/usr/local/lib",
];

/** Whether a shared library is where the dynamic linker looks (LD_LIBRARY_PATH, the usual dirs, ld.so.cache). */
export function hasSharedLibrary(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const dirs = [...(env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean), ...LIB_DIRS];
  if (dirs.some((d) => existsSync(join(d, name)))) return true;
  try {
    return readFileSync("/etc/ld.so.cache").includes(name);
  } catch {
    return false;
  }
}

/** Whether the Vulkan loader library (libvulkan.so.1) is present (Linux). */
export function hasVulkanLoader(env: NodeJS.ProcessEnv = process.env): boolean {
  return hasSharedLibrary("libvulkan.so.1", env);
}

export interface VulkanDriver {
  /** The ICD manifest (e.g. /usr/share/vulkan/icd.d/nvidia_icd.json). */
  manifest: string;
  /** Its library_path, when readable. */
  library: string;
  /** lavapipe or SwiftShader: Vulkan on the CPU. */
  software: boolean;
}

/** Where the Vulkan loader looks for driver manifests (ICDs), as it does: an override, else the XDG dirs. */
export function vulkanIcdSearch(env: NodeJS.ProcessEnv = process.env): {
  override: string | null;
  paths: string[];
} {
  const override = env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES;
  if (override)
    return {
      override: env.VK_DRIVER_FILES ? "VK_DRIVER_FILES" : "VK_ICD_FILENAMES",
      paths: override.split(":").filter(Boolean),
    };
  const config = (env.XDG_CONFIG_DIRS || "/etc/xdg").split(":").filter(Boolean);
  const data = (env.XDG_DATA_DIRS || "/usr/local/share:/usr/share").split(":").filter(Boolean);
  const home = env.XDG_DATA_HOME || join(env.HOME || homedir(), ".local/share");
  return {
    override: null,
    paths: [
      ...config.map((d) => join(d, "vulkan/icd.d")),
      "/etc/vulkan/icd.d",
      ...data.map((d) => join(d, "vulkan/icd.d")),
      join(home, "vulkan/icd.d"),
    ],
  };
}

/** The Vulkan driver manifests the loader would find. */
export function vulkanDrivers(env: NodeJS.ProcessEnv = process.env): VulkanDriver[] {
  const files: string[] = [];
  for (const p of vulkanIcdSearch(env).paths) {
    try {
      if (statSync(p).isDirectory()) {
        for (const f of readdirSync(p).sort()) if (f.endsWith(".json")) files.push(join(p, f));
      } else files.push(p);
    } catch {
      // absent: the loader skips it too
    }
  }
  return [...new Set(files)].map((manifest) => {
    let library = "";
    try {
      library = String(
        (
          JSON.parse(readFileSync(manifest, "utf8")) as {
            ICD?: { library_path?: string };
          }
        ).ICD?.library_path ?? "",
      );
    } catch {
      // unreadable manifest: named by its file alone
    }
    const software = /lvp|lavapipe|swiftshader/i.test(basename(manifest) + " " + library);
    return { manifest, library, software };
  });
}

/** Where NVIDIA's Vulkan manifest sits when a container mounts the driver in a folder of its own. */
const NVIDIA_ICD_ELSEWHERE = ["/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json", "/usr/local/nvidia/icd.d/nvidia_icd.json"];

/** GPU device nodes: DRM render nodes (AMD, Intel, ...) and NVIDIA's. */
export function gpuDeviceNodes(): string[] {
  const nodes: string[] = [];
  try {
    for (const f of readdirSync("/dev/dri")) if (f.startsWith("renderD")) nodes.push(`/dev/dri/${f}`);
  } catch {
    // no DRM devices
  }
  try {
    for (const f of readdirSync("/dev")) if (/^nvidia\d+$/.test(f)) nodes.push(`/dev/${f}`);
  } catch {
    // unreadable /dev
  }
  return nodes;
}

/** The loaded NVIDIA kernel driver's version line, if any. */
export function nvidiaDriver(): string | null {
  try {
    const v = readFileSync("/proc/driver/nvidia/version", "utf8").split("\n")[0]!;
    const m = /Kernel Module\s+(?:for \S+\s+)?([\d.]+)/.exec(v);
    return m ? m[1]! : v.trim();
  } catch {
    return null;
  }
}

function list(xs: string[]): string {
  return xs.length <= 1 ? (xs[0] ?? "") : `${xs.slice(0, -1).join(", ")} and ${xs.at(-1)}`;
}

function dawnSaid(probe: ProbeResult): string {
  const said = probe.dawnSaid.filter((s) => !s.startsWith("loader_get_json")).slice(0, 4);
  return said.length ? ` Dawn said: ${said.map((s) => `"${s.replace(/\.$/, "")}"`).join("; ")}.` : "";
}

/** The paragraph for a machine where `probe` found no usable adapter. */
export function diagnoseNoAdapter(probe: ProbeResult, env: NodeJS.ProcessEnv = process.env): string {
  return probe.kind === "gpu" ? noGpu(probe, env) : noSoftware(probe, env);
}

function noGpu(probe: ProbeResult, env: NodeJS.ProcessEnv): string {
  const head = "WebGPU (Dawn, from the `webgpu` package) found no GPU adapter";
  const software = probe.tried.map((t) => t.adapter).find((a) => a?.software);
  const orSoftware = " To train through WebGPU on the CPU anyway (slow; for testing), set NNC_WEBGPU_ADAPTER=software.";
  if (process.platform !== "linux") {
    const backend = process.platform === "darwin" ? "Metal" : "D3D12 or Vulkan";
    return `${head}: Dawn reaches GPUs through ${backend} here, and none answered.${dawnSaid(probe)}${orSoftware}`;
  }
  if (software) {
    return (
      `${head}: the only adapter is ${software.device || software.description}, a software implementation (the CPU), which nnc does not use for --gpu unless asked. ` +
      `Install your GPU's Vulkan driver (NVIDIA: the driver's Vulkan ICD, nvidia_icd.json; AMD/Intel: mesa-vulkan-drivers).${orSoftware.replace(" anyway", "")}`
    );
  }
  if (!hasVulkanLoader(env)) {
    return (
      `${head}: on Linux Dawn reaches GPUs through Vulkan, and the Vulkan loader (libvulkan.so.1) is missing. ` +
      `Install it (Debian/Ubuntu: \`apt-get install libvulkan1\`) with your GPU's Vulkan driver (NVIDIA: the driver's Vulkan ICD, nvidia_icd.json; AMD/Intel: mesa-vulkan-drivers).${dawnSaid(probe)}${orSoftware}`
    );
  }
  const search = vulkanIcdSearch(env);
  const drivers = vulkanDrivers(env);
  const hardware = drivers.filter((d) => !d.software);
  const nodes = gpuDeviceNodes();
  const nvidia = nvidiaDriver();
  const nvidiaIcd = drivers.some((d) => /nvidia/i.test(d.manifest + d.library));
  const mounted = NVIDIA_ICD_ELSEWHERE.find((f) => existsSync(f));
  let why: string;
  if (!nvidiaIcd && mounted && !search.override) {
    why = `the NVIDIA driver's Vulkan manifest is at ${mounted} (where containers mount the driver), outside the Vulkan loader's search path: \`export VK_DRIVER_FILES=${mounted}\` and run again.`;
  } else if (nvidia && !nvidiaIcd) {
    why =
      `the NVIDIA kernel driver ${nvidia} is loaded but its Vulkan driver (ICD manifest nvidia_icd.json) is not among the Vulkan drivers (${search.override ? `${search.override}=${search.paths.join(":")}` : list(search.paths.filter((p) => existsSync(p))) || "no icd.d folder"}). ` +
      `Install the driver's Vulkan part (Debian: nvidia-vulkan-icd; Ubuntu: libnvidia-gl-${nvidia.split(".")[0]}); in a container, the NVIDIA container toolkit mounts it only with NVIDIA_DRIVER_CAPABILITIES including \`graphics\` (e.g. \`all\`).`;
  } else if (drivers.length === 0) {
    why = search.override
      ? `no Vulkan driver: ${search.override}=${search.paths.join(":")} names no driver manifest that exists.`
      : `no Vulkan driver is installed: there is no ICD manifest (*.json) in ${list(search.paths.filter((p) => !p.includes(".local")))}. ` +
        `Install your GPU's Vulkan driver (NVIDIA: the driver with its Vulkan ICD, Debian nvidia-vulkan-icd / Ubuntu libnvidia-gl-<version>; AMD/Intel: mesa-vulkan-drivers).`;
  } else if (hardware.length === 0) {
    why = `the only Vulkan driver is software (${list(drivers.map((d) => basename(d.manifest)))}). Install your GPU's Vulkan driver (NVIDIA: nvidia_icd.json from the NVIDIA driver; AMD/Intel: mesa-vulkan-drivers).`;
  } else if (nodes.length === 0) {
    why =
      `Vulkan drivers are installed (${list(hardware.map((d) => basename(d.manifest)))}) but there is no GPU device (no /dev/dri/renderD* or /dev/nvidia*): this machine (or container) has no GPU it can reach. ` +
      `In a container, pass the GPU through (e.g. \`docker run --gpus all\` with the NVIDIA container toolkit, or \`--device /dev/dri\`).`;
  } else {
    why = `Vulkan drivers (${list(hardware.map((d) => basename(d.manifest)))}) and GPU devices (${list(nodes)}) are present, but no driver gave Dawn an adapter; check them with \`vulkaninfo --summary\` (package vulkan-tools).`;
  }
  return `${head}: ${why}${dawnSaid(probe)}${orSoftware}`;
}

function noSoftware(probe: ProbeResult, env: NodeJS.ProcessEnv): string {
  const head = "NNC_WEBGPU_ADAPTER=software: Dawn found no software adapter";
  if (process.platform !== "linux") {
    return `${head}; nnc's software adapter is Mesa's (lavapipe or llvmpipe), found on Linux only.${dawnSaid(probe)} Unset NNC_WEBGPU_ADAPTER to use the GPU.`;
  }
  const missing: string[] = [];
  if (!hasSharedLibrary("libEGL.so.1", env)) missing.push("the EGL loader libEGL.so.1 (package libegl1)");
  if (!hasSharedLibrary("libEGL_mesa.so.0", env)) missing.push("Mesa's EGL libEGL_mesa.so.0 (libegl-mesa0)");
  if (!hasSharedLibrary("libGLESv2.so.2", env)) missing.push("the GLES loader libGLESv2.so.2 (libgles2)");
  if (!LIB_DIRS.some((d) => existsSync(join(d, "dri", "swrast_dri.so"))))
    missing.push("Mesa's software rasteriser swrast_dri.so (libgl1-mesa-dri)");
  const vendors = env.__EGL_VENDOR_LIBRARY_FILENAMES
    ? env.__EGL_VENDOR_LIBRARY_FILENAMES.split(":").filter((f) => existsSync(f))
    : (env.__EGL_VENDOR_LIBRARY_DIRS || "/etc/glvnd/egl_vendor.d:/usr/share/glvnd/egl_vendor.d").split(":").flatMap((d) => {
        try {
          return readdirSync(d).filter((f) => f.endsWith(".json"));
        } catch {
          return [];
        }
      });
  if (vendors.length === 0) {
    missing.push(
      env.__EGL_VENDOR_LIBRARY_FILENAMES || env.__EGL_VENDOR_LIBRARY_DIRS
        ? `an EGL vendor (the ${env.__EGL_VENDOR_LIBRARY_FILENAMES ? "__EGL_VENDOR_LIBRARY_FILENAMES" : "__EGL_VENDOR_LIBRARY_DIRS"} setting names none that exists)`
        : "an EGL vendor manifest (50_mesa.json from libegl-mesa0)",
    );
  }
  const lavapipe = vulkanDrivers(env).some((d) => d.software);
  const search = vulkanIcdSearch(env);
  const what = missing.length
    ? `Mesa's OpenGL ES over EGL needs ${list(missing)}`
    : "Mesa's OpenGL ES over EGL (EGL_PLATFORM=surfaceless) gave no adapter";
  const vulkan = lavapipe
    ? ", and Dawn did not accept the lavapipe Vulkan driver"
    : search.override
      ? `, and ${search.override}=${search.paths.join(":")} names no lavapipe Vulkan driver`
      : ", and there is no lavapipe Vulkan driver (mesa-vulkan-drivers)";
  return (
    `${head}: ${what}${vulkan}. ` +
    `Install them (Debian/Ubuntu: \`apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri mesa-vulkan-drivers\`; nnc's .ci/run does).${dawnSaid(probe)}`
  );
}
