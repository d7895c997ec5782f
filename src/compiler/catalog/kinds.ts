// The kinds of every catalog category as TypeScript unions, read off the catalog's own lists, and
// each entry's resolved argument type, read off its schema. Every target's table of a category is
// a `Record<Kind, ...>` (or a mapped type over it), so an entry without an implementation in some
// target fails the typecheck rather than a user's run.
import type { layers } from "./layers.js";
import type { activations, initializers, regularizers } from "./functions.js";
import type { callbacks, losses, metrics, optimizers, schedules } from "./training.js";
import type { CatalogEntry } from "./types.js";

type Entries<L extends readonly CatalogEntry<string, unknown>[]> = L[number];
type KindOf<L extends readonly CatalogEntry<string, unknown>[]> = Entries<L>["name"];
type ArgsOfEntry<E> = E extends CatalogEntry<string, infer A> ? A : never;
type ArgsIn<L extends readonly CatalogEntry<string, unknown>[], K> = ArgsOfEntry<Extract<Entries<L>, { name: K }>>;

export type LayerKind = KindOf<typeof layers>;
export type ActivationKind = KindOf<typeof activations>;
/** The activations that are also layers (their catalog entry has a `layer` doc): one implementation applies each. */
export type ActivationLayerKind = Extract<Entries<typeof activations>, { layer: string }>["name"];
export type InitializerKind = KindOf<typeof initializers>;
export type RegularizerKind = KindOf<typeof regularizers>;
export type LossKind = KindOf<typeof losses>;
export type MetricKind = KindOf<typeof metrics>;
export type OptimizerKind = KindOf<typeof optimizers>;
export type ScheduleKind = KindOf<typeof schedules>;
export type CallbackKind = KindOf<typeof callbacks>;

/** The resolved arguments of a layer kind: `LayerArgs<"dense">` is `{units: number, activation: Ref<ActivationKind>, ...}`. */
export type LayerArgs<K extends LayerKind> = ArgsIn<typeof layers, K>;
export type ActivationArgs<K extends ActivationKind> = ArgsIn<typeof activations, K>;
export type InitializerArgs<K extends InitializerKind> = ArgsIn<typeof initializers, K>;
export type RegularizerArgs<K extends RegularizerKind> = ArgsIn<typeof regularizers, K>;
export type LossArgs<K extends LossKind> = ArgsIn<typeof losses, K>;
export type OptimizerArgs<K extends OptimizerKind> = ArgsIn<typeof optimizers, K>;
export type ScheduleArgs<K extends ScheduleKind> = ArgsIn<typeof schedules, K>;
export type CallbackArgs<K extends CallbackKind> = ArgsIn<typeof callbacks, K>;
