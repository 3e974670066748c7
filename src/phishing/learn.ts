// Learning from analysts' verdicts: a per-workspace additive weight adjustment on top of the
// shipped model. Pure: (labelled raw messages, base model, previous adjustment) → adjustment.
// A few epochs of logistic-loss gradient steps on the *delta* only, with L2 pulling the delta to
// zero, so a handful of verdicts shifts the patterns they share (sender signals, wording) without
// rewriting the model. The bias is untouched: feedback never moves every message's score.
import { offlineAuth } from './auth.ts';
import { buildFeatures, type Features } from './features.ts';
import { bundledModel, type Model, predict } from './model.ts';
import { parseMessage } from './parse.ts';
import { collectSignals } from './scan.ts';
import type { ModelAdjustment, WorkspaceConfig } from './types.ts';

export interface LabelledMessage {
  raw: Buffer | string;
  label: 'phishing' | 'legitimate';
}

export interface LearnOptions {
  base?: Model;
  previous?: ModelAdjustment;
  workspace?: WorkspaceConfig;
  epochs?: number;
  learningRate?: number;
  /** L2 strength on the delta (higher = more conservative). */
  l2?: number;
  /** Largest absolute delta per feature. */
  maxDelta?: number;
}

export async function featuresOf(raw: Buffer | string, ws: WorkspaceConfig = {}): Promise<Features> {
  const msg = await parseMessage(raw);
  return buildFeatures(msg, collectSignals(msg, offlineAuth(msg), ws));
}

export function updateAdjustment(
  examples: { features: Features; label: 0 | 1 }[],
  opts: Omit<LearnOptions, 'workspace'> = {},
): ModelAdjustment {
  const base = opts.base ?? bundledModel();
  const delta = new Map<string, number>(Object.entries(opts.previous?.weights ?? {}));
  const epochs = opts.epochs ?? 30;
  const lr = opts.learningRate ?? 0.5;
  const l2 = opts.l2 ?? 0.01;
  const maxDelta = opts.maxDelta ?? 6;
  // The shipped model's part of each example's log-odds (its word evidence capped as in scoring).
  const baseZ = examples.map((ex) => predict(ex.features, base).z + (opts.previous?.bias ?? 0));
  for (let ep = 0; ep < epochs; ep++) {
    for (const [n, ex] of examples.entries()) {
      let z = baseZ[n];
      for (const [k, v] of ex.features) z += (delta.get(k) ?? 0) * v;
      const p = 1 / (1 + Math.exp(-z));
      const g = p - ex.label;
      for (const [k, v] of ex.features) {
        const d = delta.get(k) ?? 0;
        let nd = d - lr * (g * v + l2 * d);
        nd = Math.max(-maxDelta, Math.min(maxDelta, nd));
        delta.set(k, nd);
      }
    }
  }
  const weights: Record<string, number> = {};
  for (const [k, v] of delta) if (Math.abs(v) >= 1e-3) weights[k] = Math.round(v * 10000) / 10000;
  return { version: 1, weights, bias: opts.previous?.bias ?? 0, examples: (opts.previous?.examples ?? 0) + examples.length };
}

/** Turns analysts' verdicts into a workspace adjustment that scanMessage accepts as `options.adjustment`. */
export async function learnFromVerdicts(examples: LabelledMessage[], opts: LearnOptions = {}): Promise<ModelAdjustment> {
  const feats = [];
  for (const e of examples)
    feats.push({ features: await featuresOf(e.raw, opts.workspace), label: (e.label === 'phishing' ? 1 : 0) as 0 | 1 });
  return updateAdjustment(feats, opts);
}
