/**
 * The name the Lab gives a run left unnamed, from the parts of its config that tell runs
 * apart at a glance. Pure: the renderer shows the same name as the form's default.
 */
import type { RunConfig } from '../contract/config.ts';

export function defaultName(cfg: Pick<RunConfig, 'kind' | 'sizes' | 'seed' | 'digits' | 'lora'>): string {
  if (cfg.kind === 'base' || !cfg.lora) return `base ${cfg.sizes.join('→')} seed ${cfg.seed}`;
  const l = cfg.lora;
  return `LoRA r${l.r} α${l.alpha} on ${cfg.digits ? `digit${cfg.digits.length > 1 ? 's' : ''} ${cfg.digits.join(',')}` : 'all digits'} seed ${cfg.seed}`;
}

/**
 * The name a clone of `source` gets by default: "<its name> (copy)" while the parts of
 * the config the default name tells (kind, widths, rank, alpha, digits, seed) are as in
 * the source, and the default name of the edited config once they are not, so a clone
 * whose rank changed is not called "… r1 … (copy)". Never longer than a name may be.
 */
export function cloneName(source: { name: string; config: Parameters<typeof defaultName>[0] }, edited: Parameters<typeof defaultName>[0]): string {
  if (defaultName(edited) !== defaultName(source.config)) return defaultName(edited);
  const room = MAX_NAME - COPY.length;
  const kept = source.name.length > room ? source.name.slice(0, room).replace(/[\uD800-\uDBFF]$/, '').trimEnd() : source.name;
  return `${kept}${COPY}`;
}

/** Names are at most this many characters (checks.ts refuses longer). */
export const MAX_NAME = 200;
const COPY = ' (copy)';
