/**
 * The figures of one layer's update, stated once for every view that shows them (the
 * Adapter page's layer cards, Compare's side-by-side table): label, what it means (a
 * tooltip), the value as text and a muted note after it.
 */
import type { LayerAnalysis } from '../../src-main/contract/analysis.ts';
import { fmtNum, fmtPct } from './format.ts';

export type LayerFigureKey = 'effectiveRank' | 'stableRank' | 'rank90' | 'relativeNorm' | 'amplification' | 'intruders';

export interface LayerFigure {
  key: LayerFigureKey;
  label: string;
  title: (l: LayerAnalysis) => string;
  /** The value, or null where this layer's analysis does not have it (intruders not computed). */
  text: (l: LayerAnalysis) => string | null;
  note?: (l: LayerAnalysis) => string;
}

export const LAYER_FIGURES: readonly LayerFigure[] = [
  { key: 'effectiveRank', label: 'effective rank', title: () => 'exp(−Σ pᵢ ln pᵢ) with pᵢ = σᵢ / Σσ: how many directions the update really uses', text: (l) => fmtNum(l.effectiveRank, 3) },
  { key: 'stableRank', label: 'stable rank', title: () => '‖ΔW‖²_F / ‖ΔW‖²₂ = Σσᵢ² / σ₁²', text: (l) => fmtNum(l.stableRank, 3) },
  { key: 'rank90', label: 'rank for 90%', title: () => 'the fewest leading singular values holding 90% of Σσᵢ²', text: (l) => String(l.rank90) },
  { key: 'relativeNorm', label: '‖ΔW‖ / ‖W0‖', title: () => '‖ΔW‖_F / ‖W0‖_F: how large the update is against the weight it changes', text: (l) => fmtPct(l.relativeNorm) },
  {
    key: 'amplification',
    label: 'amplification',
    title: (l) => `‖ΔW‖_F / ‖Uᵀ·W0·V‖_F with U, V the top ${l.amplification.rank} singular vectors of ΔW (LoRA paper §7.3): large when ΔW amplifies directions W0 barely uses`,
    text: (l) => (Number.isFinite(l.amplification.factor) ? `${fmtNum(l.amplification.factor, 3)}×` : '∞'),
    note: (l) => `top ${l.amplification.rank}`,
  },
  {
    key: 'intruders',
    label: 'intruder dimensions',
    title: (l) =>
      l.intruders
        ? `top ${l.intruders.k} left singular vectors of W0 + ΔW whose |cosine| with every left singular vector of W0 is below ε = ${l.intruders.epsilon} (Shuttleworth et al. 2024)`
        : 'not computed: turn on intruder dimensions',
    text: (l) => (l.intruders ? String(l.intruders.count) : null),
    note: (l) => (l.intruders ? `of ${l.intruders.k}` : ''),
  },
];
