/**
 * The name the Lab gives a run left unnamed, from the parts of its config that tell runs
 * apart at a glance. Pure: the renderer shows the same name as the form's default.
 */
import type { RunConfig } from '../contract/config.ts';
import { MNIST_DATASET_ID } from '../contract/dataset.ts';
import { variantShort } from '../contract/variant-label.ts';

/** What a name says of the data set: its name, and its class names (MNIST's are its digits). */
export interface NamedData {
  name: string;
  classes: readonly string[];
}

type Named = Pick<RunConfig, 'kind' | 'sizes' | 'seed' | 'classes' | 'lora' | 'data'>;

/** MNIST runs read as before ("on digit 7"); other data sets name their classes and themselves. */
export function defaultName(cfg: Named, data: NamedData | null = null): string {
  const mnist = cfg.data === MNIST_DATASET_ID || !data;
  const on = mnist ? '' : ` on ${data.name}`;
  if (cfg.kind === 'base') return `base ${cfg.sizes.join('→')}${on} seed ${cfg.seed}`;
  const slice = mnist
    ? cfg.classes ? `digit${cfg.classes.length > 1 ? 's' : ''} ${cfg.classes.join(',')}` : 'all digits'
    : cfg.classes ? cfg.classes.map((c) => data.classes[c] ?? String(c)).join(',') : `all of ${data.name}`;
  const l = cfg.lora;
  if (cfg.kind === 'full' || !l) return `full fine-tune on ${slice} seed ${cfg.seed}`;
  return `${variantShort(l)} r${l.r} α${l.alpha} on ${slice} seed ${cfg.seed}`; // "LoRA r1 …", "DoRA·PiSSA r1 …"
}

/**
 * The name a clone of `source` gets by default: "<its name> (copy)" while the parts of
 * the config the default name tells (kind, widths, rank, alpha, classes, data set, seed) are as in
 * the source, and the default name of the edited config once they are not, so a clone
 * whose rank changed is not called "… r1 … (copy)". Never longer than a name may be.
 */
export function cloneName(source: { name: string; config: Named }, edited: Named, data: NamedData | null = null, sourceData: NamedData | null = data): string {
  if (defaultName(edited, data) !== defaultName(source.config, sourceData)) return defaultName(edited, data);
  const room = MAX_NAME - COPY.length;
  const kept = source.name.length > room ? source.name.slice(0, room).replace(/[\uD800-\uDBFF]$/, '').trimEnd() : source.name;
  return `${kept}${COPY}`;
}

/** Names are at most this many characters (checks.ts refuses longer). */
export const MAX_NAME = 200;
const COPY = ' (copy)';
