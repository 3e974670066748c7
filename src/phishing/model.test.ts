import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chooseThresholds, MIN_PHISHING_THRESHOLD, MIN_SUSPICIOUS_THRESHOLD, unseenSetScores } from './evaluate.ts';
import { buildFeatures, DILUTION_WORDS } from './features.ts';
import { type Model, predict } from './model.ts';
import { DEFAULT_WORD_EVIDENCE_CAP, type Example, predictExample, trainModel } from './train.ts';

const model: Model = {
  version: 1,
  bias: Math.log(0.2 / 0.8),
  weights: { 'w:alpha': 2, 'w:beta': 2, 'w:gamma': -1, 'sig:lang.credentials': 2 },
  thresholds: { suspicious: 34, phishing: 50 },
  wordEvidenceCap: 1,
};

describe('word evidence cap', () => {
  test('words add at most the cap, shares scaled alike, and agree with predictExample', () => {
    const f = new Map([
      ['w:alpha', 0.5],
      ['w:beta', 0.5],
      ['w:gamma', 0.5],
    ]);
    const p = predict(f, model);
    // Uncapped the words would add 2 × 0.5 × 2 − 0.5 = 1.5 log-odds; capped: 1.
    assert.ok(Math.abs(p.z - (model.bias + 1)) < 1e-9);
    const words = [...p.contributions.values()].reduce((s, c) => s + c, 0);
    assert.ok(Math.abs(words - 1) < 1e-9);
    assert.ok(Math.abs(predictExample(model, f) - p.probability) < 1e-12);
    assert.ok(p.probability < MIN_PHISHING_THRESHOLD / 100, 'words alone never reach the phishing floor');
  });

  test('signals are not capped and analyst adjustments are added on top', () => {
    const f = new Map([
      ['w:alpha', 1],
      ['sig:lang.credentials', 1],
    ]);
    assert.ok(Math.abs(predict(f, model).z - (model.bias + 1 + 2)) < 1e-9);
    const adj = { version: 1 as const, bias: 0, weights: { 'w:alpha': 1 }, examples: 1 };
    assert.ok(Math.abs(predict(f, model, [], adj).z - (model.bias + 1 + 1 + 2)) < 1e-9);
  });
});

describe('dilution of lure signals in long texts', () => {
  const hits = [
    { id: 'lang.credentials', detail: '' },
    { id: 'sender.display_name_address', detail: '' },
  ];
  const words = (n: number) =>
    Array.from({ length: n }, (_, i) => `word${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}x`);
  test('a short message keeps full values', () => {
    const f = buildFeatures({ subject: 'Hello', bodyText: words(40).join(' ') }, hits);
    assert.equal(f.get('sig:lang.credentials'), 1);
  });
  test('a long text scales lure signals by DILUTION_WORDS / n, other signals untouched', () => {
    const n = DILUTION_WORDS * 4;
    const f = buildFeatures({ subject: '', bodyText: words(n).join(' ') }, hits);
    const toks = [...f.keys()].filter((k) => k.startsWith('w:')).length;
    assert.ok(toks > DILUTION_WORDS);
    assert.ok(Math.abs((f.get('sig:lang.credentials') ?? 0) - DILUTION_WORDS / toks) < 1e-12);
    assert.equal(f.get('sig:sender.display_name_address'), 1);
  });
});

describe('threshold rule', () => {
  const ex = (set: string, label: 0 | 1, i: number): Example => ({
    file: `${set}/${i}`,
    set,
    collection: label ? 'phishing_pot' : set === 'a' ? 'usrp' : 'spamassassin',
    label,
    features: new Map(label ? [['sig:lang.credentials', 1]] : [['sig:links.sender_site', 1]]),
    signals: [],
    time: Number.NaN,
  });
  test('lowest score with ≤ maxFp on every legitimate set, never below the floor', () => {
    const data = [...Array.from({ length: 100 }, (_, i) => ex('a', 0, i)), ...Array.from({ length: 10 }, (_, i) => ex('p', 1, i))];
    const scores = data.map((e, i) => (e.label ? 0.95 : i < 2 ? 0.8 : 0.1));
    assert.equal(chooseThresholds(data, scores, 0.01).phishing, 81);
    assert.equal(chooseThresholds(data, scores, 0.02).phishing, MIN_PHISHING_THRESHOLD);
  });
  test('training-data scores leave each legitimate set out when there are several', () => {
    const data = [
      ...Array.from({ length: 20 }, (_, i) => ex('a', 0, i)),
      ...Array.from({ length: 20 }, (_, i) => ex('b', 0, i)),
      ...Array.from({ length: 20 }, (_, i) => ex('p', 1, i)),
    ];
    assert.match(unseenSetScores(data).method, /leave-one-legitimate-set-out \(2 sets\)/);
    assert.match(unseenSetScores(data.filter((e) => e.set !== 'b')).method, /CV/);
    assert.equal(trainModel(data).wordEvidenceCap, DEFAULT_WORD_EVIDENCE_CAP);
    // The shipped cap keeps words alone below the suspicious floor: from the prior they reach at most 34.
    const prior = 0.2;
    const wordsAlone = 1 / (1 + Math.exp(-(Math.log(prior / (1 - prior)) + DEFAULT_WORD_EVIDENCE_CAP)));
    assert.ok(wordsAlone * 100 < MIN_SUSPICIOUS_THRESHOLD, `words alone reach ${wordsAlone * 100}`);
  });
});
