/** Bounds every side checks alike (the config's validation, merges, the UI's fields). */

/**
 * The largest |scaling| (alpha / r, or alpha / √r) an adapter may have. Real adapters
 * sit between 0.01 and a few hundred; beyond this, scaling × weights leaves float32.
 */
export const MAX_SCALING = 10_000;

/** |weight| of one adapter in a merge (the API's and the UI's bound). */
export const MAX_MERGE_WEIGHT = 100;
