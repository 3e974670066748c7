// Trains the phishing model: node --import tsx scripts/train-phishing.ts [--corpus DIR]
// 1. extracts features of every corpus message (phishing_pot, USRP list, SpamAssassin ham),
// 2. default thresholds from the training data alone (evaluate.ts thresholdsFromTraining): nested
//    leave-one-legitimate-set-out scores (each legitimate set scored by a model that never saw
//    it) → phishing: lowest score with ≤ 1 % false positives on every set, never below 50;
//    suspicious: ≤ 2 %, never below 34,
// 3. 3 × 5-fold cross-validation for the in-distribution figures stored in the model's meta,
// 4. trains on everything and writes src/phishing/model/phishing-model.json with the thresholds,
//    the cross-validated figures and the top features (check them for collection fingerprints).
// The figures the quality goal is judged on (other source, later date) come from bench/phishing.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { thresholdsFromTraining } from '../src/phishing/evaluate.ts';
import {
  DEFAULT_CORPUS,
  kFolds,
  listCorpus,
  loadExamples,
  predictExample,
  rocAuc,
  topFeatures,
  trainModel,
} from '../src/phishing/train.ts';

const args = process.argv.slice(2);
const corpus = args.includes('--corpus') ? args[args.indexOf('--corpus') + 1] : DEFAULT_CORPUS;
const out = new URL('../src/phishing/model/phishing-model.json', import.meta.url).pathname;

async function main() {
  const list = listCorpus(corpus);
  if (!list.some((f) => f.label === 1)) {
    console.error(`no phishing corpus under ${corpus}`);
    process.exit(1);
  }
  console.log(`extracting features of ${list.length} messages…`);
  const ex = await loadExamples(list, (n) => process.stderr.write(`\r${n}/${list.length}`));
  process.stderr.write('\n');
  // In-distribution figures for the model's meta: out-of-fold scores averaged over three fold
  // assignments (less sensitive to which few hard_ham newsletters land in which fold).
  const k = 5;
  const seeds = [7, 21, 63];
  const oof = new Array<number>(ex.length).fill(0);
  for (const seed of seeds) {
    const folds = kFolds(ex, k, seed);
    for (let f = 0; f < k; f++) {
      const m = trainModel(ex.filter((_, i) => folds[i] !== f));
      ex.forEach((e, i) => {
        if (folds[i] === f) oof[i] += predictExample(m, e.features) / seeds.length;
      });
    }
  }
  const { method, ...thresholds } = thresholdsFromTraining(ex);
  const auc = rocAuc(ex.map((e, i) => ({ p: oof[i], y: e.label })));
  const rate = (set: string) => {
    const idx = ex.map((_, i) => i).filter((i) => ex[i].set === set);
    return idx.filter((i) => oof[i] * 100 >= thresholds.phishing).length / idx.length;
  };
  const sets = [...new Set(ex.map((e) => e.set))];
  const cv = Object.fromEntries(sets.map((s) => [s, Math.round(rate(s) * 10000) / 100]));
  const model = trainModel(ex);
  model.thresholds = thresholds;
  const top = topFeatures(model, 30);
  model.meta = {
    ...model.meta,
    trainedAt: new Date().toISOString().slice(0, 10),
    thresholdRule: `${method}: phishing = lowest score with ≤ 1 % FP on every held-out legitimate set (≥ 50), suspicious ≤ 2 % (≥ 34)`,
    cv: {
      folds: k,
      repeats: seeds.length,
      auc: Math.round(auc * 10000) / 10000,
      flaggedPercentAtPhishingThreshold: cv,
    },
    topPositive: top.positive.slice(0, 15),
    topNegative: top.negative.slice(0, 15),
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(model)}\n`);
  console.log(
    `thresholds (${method}): suspicious ${thresholds.suspicious}, phishing ${thresholds.phishing}; CV AUC ${auc.toFixed(4)}`,
  );
  console.log('cross-validated % flagged per set:', cv);
  console.log('top phishing features:', top.positive.map(([f, w]) => `${f} ${w.toFixed(2)}`).join(', '));
  console.log('top legitimate features:', top.negative.map(([f, w]) => `${f} ${w.toFixed(2)}`).join(', '));
  console.log(`wrote ${out} (${Object.keys(model.weights).length} weights)`);
}

await main();
