/**
 * How a LoRA variant is named wherever a person reads it (CLI tables, `runs show`, the
 * app's tags): "DoRA r=1, PiSSA init, LoRA-FA". Works on a run's `lora` config and on a
 * stored adapter's `AdapterInfo` alike (both carry r, init, variant and freezeA); fields
 * missing from configs stored before variants existed read as plain LoRA. Pure.
 */
import { LORA_INITS, LORA_VARIANTS, type LoraInit, type LoraVariant } from './config.ts';

export interface VariantFields {
  variant?: LoraVariant | undefined;
  init?: LoraInit | undefined;
  freezeA?: boolean | undefined;
}

export const VARIANT_NAMES: Record<LoraVariant, string> = { lora: 'LoRA', dora: 'DoRA' };
export const INIT_NAMES: Record<LoraInit, string> = { kaiming: 'Kaiming', gaussian: 'Gaussian', pissa: 'PiSSA', olora: 'OLoRA' };
/** LoRA-FA's name (A frozen after its init, only B trains). */
export const FREEZE_A_NAME = 'LoRA-FA';

/** One line on what each init does, for help texts and the form's hints. */
export const INIT_HINTS: Record<LoraInit, string> = {
  kaiming: 'A Kaiming-uniform, B = 0 (PEFT\'s default)',
  gaussian: 'A Gaussian, B = 0',
  pissa: 'A, B from the top-r SVD of W0; the base trains as the residual',
  olora: 'A, B from the QR of W0; the base trains as the residual',
};

/** One line on each variant. */
export const VARIANT_HINTS: Record<LoraVariant, string> = {
  lora: 'W0 + s·B·A',
  dora: 'm ⊙ (W0 + s·B·A) / ‖·‖ per output row; the magnitude m trains too',
};

const known = <T extends string>(list: readonly T[], v: unknown, dflt: T): T => (typeof v === 'string' && (list as readonly string[]).includes(v) ? (v as T) : dflt);

/** The fields with their defaults filled in (plain LoRA, Kaiming, A trained). */
export function variantOf(v: VariantFields | null | undefined): { variant: LoraVariant; init: LoraInit; freezeA: boolean } {
  return { variant: known(LORA_VARIANTS, v?.variant, 'lora'), init: known(LORA_INITS, v?.init, 'kaiming'), freezeA: v?.freezeA === true };
}

/**
 * What sets an adapter apart from plain LoRA, as short tags: ["DoRA", "PiSSA", "LoRA-FA"].
 * Empty for plain LoRA with a Kaiming or Gaussian init (the init then is a detail, not a variant).
 */
export function variantTags(v: VariantFields | null | undefined): string[] {
  const f = variantOf(v);
  const tags: string[] = [];
  if (f.variant !== 'lora') tags.push(VARIANT_NAMES[f.variant]);
  if (f.init === 'pissa' || f.init === 'olora') tags.push(INIT_NAMES[f.init]);
  if (f.freezeA) tags.push(FREEZE_A_NAME);
  return tags;
}

/** "DoRA r=1, PiSSA init, LoRA-FA"; "LoRA r=4, Kaiming init" for plain LoRA. */
export function variantLabel(v: (VariantFields & { r?: number | undefined }) | null | undefined): string {
  const f = variantOf(v);
  const rank = typeof v?.r === 'number' ? ` r=${v.r}` : '';
  return `${VARIANT_NAMES[f.variant]}${rank}, ${INIT_NAMES[f.init]} init${f.freezeA ? `, ${FREEZE_A_NAME}` : ''}`;
}

/** The compact form for a table cell: "DoRA·PiSSA·LoRA-FA", "LoRA" for plain LoRA. */
export function variantShort(v: VariantFields | null | undefined): string {
  const tags = variantTags(v);
  if (tags.length === 0) return VARIANT_NAMES.lora;
  return tags.join('·');
}
