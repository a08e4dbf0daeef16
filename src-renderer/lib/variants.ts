/**
 * The LoRA variants as the app offers and shows them: the New run form's choices with a
 * one-line hint each, and the compact tags ("DoRA", "PiSSA", "LoRA-FA") that runs and
 * adapters carry wherever they are listed. Pure; the names are the contract's.
 */
import { LORA_INITS, LORA_VARIANTS, type LoraInit, type LoraVariant } from '../../src-main/contract/config.ts';
import { INIT_HINTS, INIT_NAMES, VARIANT_HINTS, VARIANT_NAMES, type VariantFields, variantLabel, variantTags } from '../../src-main/contract/variant-label.ts';

export { variantLabel, variantTags };

export interface Choice<T extends string> {
  value: T;
  label: string;
  hint: string;
}

export const VARIANT_CHOICES: readonly Choice<LoraVariant>[] = LORA_VARIANTS.map((value) => ({
  value,
  label: value === 'dora' ? 'DoRA' : 'LoRA',
  hint: VARIANT_HINTS[value],
}));

export const INIT_CHOICES: readonly Choice<LoraInit>[] = LORA_INITS.map((value) => ({
  value,
  label: value === 'kaiming' ? 'Kaiming uniform (PEFT)' : value === 'pissa' ? 'PiSSA (SVD of W0)' : value === 'olora' ? 'OLoRA (QR of W0)' : INIT_NAMES[value],
  hint: INIT_HINTS[value],
}));

/** What each tag means, for its tooltip. */
export function tagTitle(tag: string): string {
  if (tag === VARIANT_NAMES.dora) return `DoRA: ${VARIANT_HINTS.dora}`;
  if (tag === INIT_NAMES.pissa) return `PiSSA init: ${INIT_HINTS.pissa}`;
  if (tag === INIT_NAMES.olora) return `OLoRA init: ${INIT_HINTS.olora}`;
  if (tag === 'LoRA-FA') return 'LoRA-FA: A frozen after its init, only B trains';
  return tag;
}

/** Tags with their tooltips, for a run's `lora` config or an adapter's info (none for plain LoRA). */
export function variantBadges(v: VariantFields | null | undefined): { tag: string; title: string }[] {
  return variantTags(v).map((tag) => ({ tag, title: tagTitle(tag) }));
}
