/**
 * The most threads a standalone program's kernels take (`nnc compile --threads`, $NNC_THREADS):
 * a job's parts, 8 a thread at most, are claimed through one shared integer whose low bits hold
 * the part's index (kernels/index.ts, KERNEL_PART_BITS). A module of its own, so that the command
 * line checks the flag without loading the kernels.
 */
export const MAX_KERNEL_THREADS = 64;
