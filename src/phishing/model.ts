// Logistic-regression model over signal and token features (trained by scripts/train-phishing.ts).
// Workspace-specific signals (ws.*) cannot be learned from public corpora; they carry fixed
// log-odds weights below. Analyst feedback arrives as a ModelAdjustment added on top.
import { readFileSync } from 'node:fs';
import type { Features } from './features.ts';
import type { ModelAdjustment } from './types.ts';

export interface Model {
  version: 1;
  bias: number;
  weights: Record<string, number>;
  thresholds: { suspicious: number; phishing: number };
  /** Largest total log-odds the words (w:*) of one message add; absent = uncapped. */
  wordEvidenceCap?: number;
  meta?: Record<string, unknown>;
}

export const FIXED_WEIGHTS: Record<string, number> = {
  'ws.staff_impersonation': 3.5,
  'ws.lookalike_own_domain': 4.5,
  'ws.link_lookalike_own_domain': 3.5,
  'ws.own_domain_external': 3,
};

let bundled: Model | undefined;

export function bundledModel(): Model {
  if (!bundled) {
    try {
      bundled = JSON.parse(readFileSync(new URL('./model/phishing-model.json', import.meta.url), 'utf8')) as Model;
    } catch {
      // Untrained checkout: a neutral model that only the rule weights drive.
      bundled = { version: 1, bias: -2, weights: {}, thresholds: { suspicious: 50, phishing: 80 } };
    }
  }
  return bundled;
}

export interface Prediction {
  z: number;
  probability: number;
  contributions: Map<string, number>;
}

export function predict(features: Features, model: Model, extraIds: string[] = [], adj?: ModelAdjustment): Prediction {
  let z = model.bias + (adj?.bias ?? 0);
  const contributions = new Map<string, number>();
  // The model's word evidence is capped in total (model.wordEvidenceCap); above the cap every
  // word's share is scaled down alike, so reasons still add up. Analyst adjustments are not capped.
  let words = 0;
  for (const [k, v] of features) if (k.startsWith('w:')) words += (model.weights[k] ?? 0) * v;
  const cap = model.wordEvidenceCap ?? Number.POSITIVE_INFINITY;
  const wordScale = words > cap ? cap / words : 1;
  for (const [k, v] of features) {
    const base = (model.weights[k] ?? 0) * (k.startsWith('w:') ? wordScale : 1);
    const w = base + (adj?.weights[k] ?? 0);
    if (w === 0) continue;
    z += w * v;
    contributions.set(k, w * v);
  }
  for (const id of extraIds) {
    const w = FIXED_WEIGHTS[id] ?? 0;
    if (!w) continue;
    z += w;
    contributions.set(`sig:${id}`, (contributions.get(`sig:${id}`) ?? 0) + w);
  }
  return { z, probability: sigmoid(z), contributions };
}

export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-Math.max(-40, Math.min(40, z))));
}
