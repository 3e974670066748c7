// Phishing quality + throughput bench: npm run bench -- phishing [--quick]
// Every quality figure comes from held-out data. The goal is judged on "other source, later date"
// splits (evaluate.ts): phishing before Apr 2024 trains, later phishing tests, and one legitimate
// source or set is never trained on; each split picks its own threshold with the shipped rule on
// its training data only (nested leave-one-legitimate-set-out, evaluate.ts thresholdsFromTraining). 5-fold cross-validation is shown for comparison (in-distribution).
// Throughput is measured through scanPaths (what `mailwarden scan` runs) on the corpus folders.
// Writes the phishing section of docs/benchmarks.md.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { scanPaths } from '../../src/phishing/cli.ts';
import {
  crossValidate,
  heldOutSplits,
  MIN_PHISHING_THRESHOLD,
  MIN_SUSPICIOUS_THRESHOLD,
  PHISHING_TIME_CUT,
  ratesBySet,
  type SetRate,
  thresholdsFromTraining,
} from '../../src/phishing/evaluate.ts';
import { CONTEXT_ONLY_SIGNALS, DILUTED_SIGNALS, DILUTION_WORDS, MIN_TOKEN_NORM } from '../../src/phishing/features.ts';
import { bundledModel, type Model } from '../../src/phishing/model.ts';
import { scanMessage } from '../../src/phishing/scan.ts';
import {
  DEFAULT_CORPUS,
  DEFAULT_TOKEN_CAP,
  DEFAULT_WORD_EVIDENCE_CAP,
  LEGIT_SIGNALS,
  listCorpus,
  loadExamples,
  predictExample,
  rocAuc,
  SA_DATA,
  SIGNAL_CAPS,
  topFeatures,
  trainModel,
} from '../../src/phishing/train.ts';
import { writeBenchSection } from '../lib/report.ts';

const quick = process.argv.includes('--quick');
const LEGIT_SETS = ['mailing-list', 'easy_ham', 'easy_ham_2', 'hard_ham'];
const ANCHORS = [
  { name: 'SpamAssassin 4.0.1 (threshold 5)', detection: 16.7, fp: 2.1 },
  { name: 'rspamd 3.4 (threshold 6)', detection: 20.2, fp: 1.2 },
];
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
const log = (...a: unknown[]) => console.log(...a);

function stripHeaders(raw: Buffer): Buffer {
  const s = raw.toString('latin1');
  const m = /\r?\n\r?\n/.exec(s);
  if (!m) return raw;
  const head = s.slice(0, m.index);
  const kept: string[] = [];
  let drop = false;
  for (const line of head.split(/(?<=\n)/)) {
    if (/^[ \t]/.test(line)) {
      if (!drop) kept.push(line);
      continue;
    }
    drop = /^(date|received|list-[a-z-]*|message-id)\s*:/i.test(line);
    if (!drop) kept.push(line);
  }
  return Buffer.from(kept.join('').replace(/\r?\n$/, '') + s.slice(m.index), 'latin1');
}

class NullSink extends Writable {
  override _write(_c: unknown, _e: BufferEncoding, cb: () => void) {
    cb();
  }
}

async function main() {
  const list = listCorpus();
  if (!list.some((f) => f.label === 1)) {
    console.error(`corpus not found under ${DEFAULT_CORPUS}`);
    process.exit(1);
  }
  const shipped: Model = bundledModel();
  const T = shipped.thresholds;
  log(
    `corpus: ${list.length} messages; shipped thresholds suspicious ${T.suspicious}, phishing ${T.phishing}`,
  );

  // ---- features (one pass) -------------------------------------------------------------
  const ex = await loadExamples(list);
  const counts = Object.fromEntries(
    ['phishing', ...LEGIT_SETS].map((s) => [s, ex.filter((e) => e.set === s).length]),
  );

  const load0 = os.loadavg()[0];
  // ---- 1. k-fold cross-validation (in-distribution, for comparison) ----------------------
  const cv = crossValidate(ex, 5, 1234); // different fold seed from the training script
  const cvAt = ratesBySet(ex, cv, T.phishing);
  const cvSusp = ratesBySet(ex, cv, T.suspicious);
  const auc = rocAuc(ex.map((e, i) => ({ p: cv[i], y: e.label })));
  log('5-fold CV at phishing threshold:', cvAt, 'AUC', auc.toFixed(4));

  // ---- 2. other source + later date (the goal) -------------------------------------------
  type Held = {
    name: string;
    heldOut: string;
    t: number;
    method: string;
    /** Lowest threshold that would have kept every held-out legitimate set ≤ 1 % (hindsight). */
    oracle: { t: number; detection: number } | null;
    rates: Record<string, SetRate>;
    auc: number;
    drivers: string;
    nTrain: number;
  };
  const held: Held[] = [];
  for (const sp of heldOutSplits(ex)) {
    const m = trainModel(sp.train);
    const th = thresholdsFromTraining(sp.train);
    const t = th.phishing;
    const sc = sp.test.map((e) => predictExample(m, e.features));
    let oracle: Held['oracle'] = null;
    for (let o = 1; o <= 100 && !oracle; o++) {
      const r = ratesBySet(sp.test, sc, o);
      if (Object.entries(r).every(([k, v]) => k === 'phishing' || v.rate <= 0.01))
        oracle = { t: o, detection: r.phishing?.rate ?? 0 };
    }
    // What pushes unseen legitimate mail over the threshold (mean log-odds per false positive).
    const fps = sp.test.filter((e, i) => e.label === 0 && sc[i] * 100 >= t);
    const agg = new Map<string, number>();
    for (const e of fps)
      for (const [k, v] of e.features) agg.set(k, (agg.get(k) ?? 0) + (m.weights[k] ?? 0) * v);
    const drivers = [...agg]
      .filter(([, v]) => v > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([k, v]) => `\`${k}\` +${(v / Math.max(1, fps.length)).toFixed(2)}`)
      .join(', ');
    const r = {
      name: sp.name,
      heldOut: sp.heldOut,
      t,
      method: th.method,
      oracle,
      rates: ratesBySet(sp.test, sc, t),
      auc: rocAuc(sp.test.map((e, i) => ({ p: sc[i], y: e.label }))),
      drivers,
      nTrain: sp.train.length,
    };
    held.push(r);
    log(sp.name, 'threshold', t, th.method, JSON.stringify(r.rates), 'AUC', r.auc.toFixed(4), 'oracle', oracle);
  }

  // ---- 4. which signals fired -------------------------------------------------------------
  const sigNames = [...new Set(ex.flatMap((e) => e.signals))].sort();
  const sigRows = sigNames
    .map((s) => {
      const share = (set: string) => {
        const sub = ex.filter((e) => e.set === set);
        return sub.filter((e) => e.signals.includes(s)).length / sub.length;
      };
      return {
        s,
        phishing: share('phishing'),
        legit: LEGIT_SETS.map(share),
        w: CONTEXT_ONLY_SIGNALS.has(s) ? Number.NaN : (shipped.weights[`sig:${s}`] ?? 0),
      };
    })
    .sort((a, b) => b.phishing - a.phishing);

  // ---- 5. verdict stability without Date/Received/List-*/Message-ID ----------------------
  const step = quick ? 8 : 2;
  let changed = 0;
  let compared = 0;
  const changedBySet: Record<string, number> = {};
  for (let i = 0; i < list.length; i += step) {
    const raw = readFileSync(list[i].path);
    const a = await scanMessage(raw);
    const b = await scanMessage(stripHeaders(raw));
    compared++;
    if (a.verdict !== b.verdict) {
      changed++;
      changedBySet[list[i].set] = (changedBySet[list[i].set] ?? 0) + 1;
    }
  }
  log(`header stripping changed ${changed}/${compared} verdicts`, changedBySet);

  // ---- 6. throughput through scanPaths ---------------------------------------------------
  const dirs = [
    join(DEFAULT_CORPUS, 'dev/phishing'),
    join(DEFAULT_CORPUS, 'dev/legit-mailing-list'),
    join(SA_DATA, 'easy-ham-1'),
    join(SA_DATA, 'easy-ham-2'),
    join(SA_DATA, 'hard-ham-1'),
  ];
  const loadT = os.loadavg()[0];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const summary = await scanPaths(dirs, {
    format: 'jsonl',
    out: new NullSink(),
    progress: false,
    concurrency: 4,
  });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  const perCore = summary.messages / cpuSec;
  const rssMiB = process.resourceUsage().maxRSS / 1024;
  log(
    `throughput: ${summary.messages} messages, ${(summary.messages / wall).toFixed(0)} msg/s wall, ${perCore.toFixed(0)} msg/s per core (CPU time), peak RSS ${rssMiB.toFixed(0)} MiB`,
  );

  // ---- report ----------------------------------------------------------------------------
  const top = topFeatures(shipped, 20);
  const det = cvAt.phishing.rate;
  const cut = new Date(PHISHING_TIME_CUT).toISOString().slice(0, 10);
  const nNew = held[0]?.rates.phishing?.n ?? 0;
  const legitOf = (h: Held) => LEGIT_SETS.filter((s) => h.rates[s]);
  const met = (h: Held) =>
    (h.rates.phishing?.rate ?? 0) >= 0.9 && legitOf(h).every((s) => h.rates[s].rate <= 0.01);
  const md: string[] = [];
  md.push('### Phishing detection (`npm run bench -- phishing`)');
  md.push('');
  md.push(
    `Corpus: ${counts.phishing} phishing (phishing_pot 2022–24), legitimate: ${counts['mailing-list']} mailing-list (USRP list 2019–22), ${counts.easy_ham} easy_ham, ${counts.easy_ham_2} easy_ham_2, ${counts.hard_ham} hard_ham (SpamAssassin 2002, newsletters included). ` +
      `Offline authentication (trusting the top-most Authentication-Results header). Shipped thresholds (the same rule on all the development data): suspicious ${T.suspicious}, phishing ${T.phishing} (floors ${MIN_SUSPICIOUS_THRESHOLD} / ${MIN_PHISHING_THRESHOLD}). Load average at the start of the run: ${load0.toFixed(1)} (2 cores shared with other jobs).`,
  );
  md.push('');
  md.push(
    `**Protocol: other source, later date.** Phishing dated before ${cut} trains (${counts.phishing - nNew}), the ${nNew} later messages test. ` +
      'Each row removes one legitimate source (strict: the model then knows a single kind of legitimate mail) or one legitimate set from training entirely and tests on it. ' +
      `Each row trains its own model and picks its own phishing threshold from its training data alone, with the rule the shipped model uses (\`thresholdsFromTraining\`): every legitimate set of the row's training data is scored by a model trained without it (nested leave-one-legitimate-set-out; plain 4-fold CV when the row trains on a single legitimate set), and the threshold is the lowest score with ≤ 1 % false positives on each of those sets, never below ${MIN_PHISHING_THRESHOLD} (= more likely phishing than not at the calibrated 20 % prior). The test mail plays no part in either. ` +
        'Caveat: the structural signals, the caps (the word cap of 0.5 among them, chosen on 2026-12-02: at 1.0 the strict row flagged 5 of 250 newsletters), the dilution of lure signals in long texts and the 1 % target were developed while these rows were being looked at, so they are validation rather than pristine test figures; the figures that count remain those on other real mail. ' +
        'The "hindsight" column is not a result: the lowest threshold at which the held-out legitimate mail would have stayed ≤ 1 %, and the detection there.',
  );
  md.push('');
  md.push(
    '| held out (never trained on) | threshold (from training data) | later phishing detected | FP mailing-list | FP easy_ham | FP easy_ham_2 | FP hard_ham | ROC AUC | goal met | hindsight: threshold for ≤ 1 % FP → detection |',
  );
  md.push('|---|---|---|---|---|---|---|---|---|---|');
  const cell = (r: Record<string, SetRate>, s: string) =>
    r[s] ? `${pct(r[s].rate)} (${r[s].flagged}/${r[s].n})` : '—';
  for (const h of held)
    md.push(
      `| ${h.name} | ${h.t} (${h.method}) | ${cell(h.rates, 'phishing')} | ${LEGIT_SETS.map((s) => cell(h.rates, s)).join(' | ')} | ${h.auc.toFixed(4)} | ${met(h) ? 'yes' : '**no**'} | ${h.oracle ? `${h.oracle.t} → ${pct(h.oracle.detection)}` : '—'} |`,
    );
  md.push('');
  const failing = held.filter((h) => !met(h));
  md.push(
    failing.length
      ? `**Goal (≥ 90 % detected, ≤ 1 % FP on every legitimate set) on unseen sources: met in ${held.length - failing.length} of ${held.length} rows; not met in ${failing.map((h) => h.name).join(', ')}.** ` +
          `False positives of those rows are driven by (mean log-odds per false positive): ${failing.map((h) => `${h.heldOut}: ${h.drivers || '—'}`).join('; ')}.`
      : `**Goal (≥ 90 % detected, ≤ 1 % FP on every legitimate set) met in every held-out row.**`,
  );
  md.push('');
  const fpOk = held.filter((h) => legitOf(h).every((s) => h.rates[s].rate <= 0.01)).length;
  const detOk = held.filter((h) => (h.rates.phishing?.rate ?? 0) >= 0.9).length;
  md.push(
    `Separately: false positives ≤ 1 % on the unseen legitimate mail in ${fpOk} of ${held.length} rows; ≥ 90 % of the later phishing detected in ${detOk} of ${held.length} rows.`,
  );
  md.push('');
  md.push(
    'For comparison, in-distribution 5-fold cross-validation with the shipped thresholds (optimistic: every legitimate collection is also in training):',
  );
  md.push('');
  md.push(
    '| 5-fold CV | phishing detected | FP mailing-list | FP easy_ham | FP easy_ham_2 | FP hard_ham | ROC AUC |',
  );
  md.push('|---|---|---|---|---|---|---|');
  md.push(
    `| score ≥ ${T.phishing} (verdict phishing) | ${cell(cvAt, 'phishing')} | ${LEGIT_SETS.map((s) => cell(cvAt, s)).join(' | ')} | ${auc.toFixed(4)} |`,
  );
  md.push(
    `| score ≥ ${T.suspicious} (suspicious or worse) | ${cell(cvSusp, 'phishing')} | ${LEGIT_SETS.map((s) => cell(cvSusp, s)).join(' | ')} | ${auc.toFixed(4)} |`,
  );
  md.push('');
  md.push('Against the anchors measured on the same corpus (detection ratio = ours / anchor):');
  md.push('');
  md.push('| engine | detection | FP on SpamAssassin ham | detection ratio |');
  md.push('|---|---|---|---|');
  const saFp =
    ['easy_ham', 'easy_ham_2', 'hard_ham'].reduce((s, k) => s + cvAt[k].flagged, 0) /
    ['easy_ham', 'easy_ham_2', 'hard_ham'].reduce((s, k) => s + cvAt[k].n, 0);
  md.push(`| mailwarden (5-fold CV) | ${pct(det)} | ${pct(saFp)} | 1.00 |`);
  for (const a of ANCHORS)
    md.push(`| ${a.name} | ${a.detection} % | ${a.fp} % | ${((det * 100) / a.detection).toFixed(2)}× |`);
  md.push('');
  md.push(
    `**Collection fingerprints.** Removing \`Date\`, \`Received\`, \`List-*\` and \`Message-ID\` headers changed ${changed} of ${compared} verdicts (${pct(changed / compared)}; goal ≤ 2 %)` +
      `${
        Object.keys(changedBySet).length
          ? `: ${Object.entries(changedBySet)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`
          : ''
      }. ` +
      `Words together add at most ${DEFAULT_WORD_EVIDENCE_CAP} log-odds to a message (so words alone never make a message suspicious, let alone phishing); lure and link signals (${[...DILUTED_SIGNALS].map((x) => `\`${x}\``).join(', ')}) are diluted by ${DILUTION_WORDS}/n in texts of n > ${DILUTION_WORDS} distinct words. ` +
      `Signals whose legitimate prevalence is an artefact of collection (${[...CONTEXT_ONLY_SIGNALS].filter((x) => x !== 'links.javascript_in_body').map((x) => `\`${x}\``).join(', ')}) and \`javascript:\` links in the body (mail clients do not run them) are shown to analysts but not scored; words must occur in ≥ 3 messages of ≥ 2 collections and in both classes, proper names, months and weekdays are dropped, word weights are capped at ±${DEFAULT_TOKEN_CAP} and a word's value is at most 1/√${MIN_TOKEN_NORM} (so the one or two words of a feed item cannot decide). ` +
      `The bias is not learned (a message without evidence scores the 20 % prior); signals that legitimate bulk mail also shows are capped (${Object.entries(SIGNAL_CAPS)
        .map(([k, v]) => `\`${k.slice(4)}\` ≤ ${v}`)
        .join(', ')}); legitimate evidence is kept ≤ its ceiling (${Object.entries(LEGIT_SIGNALS)
        .map(([k, [, hi]]) => `\`${k.slice(4)}\` ≤ ${hi}`)
        .join(', ')}).`,
  );
  md.push('');
  md.push(
    `Top phishing features of the shipped model: ${top.positive.map(([k, w]) => `\`${k}\` ${w.toFixed(2)}`).join(', ')}.`,
  );
  md.push('');
  md.push(`Top legitimate features: ${top.negative.map(([k, w]) => `\`${k}\` ${w.toFixed(2)}`).join(', ')}.`);
  md.push('');
  md.push(
    'Signals fired (share of messages per set; weight = log-odds in the shipped model, "context" = shown to analysts, not scored):',
  );
  md.push('');
  md.push(`| signal | weight | phishing | ${LEGIT_SETS.join(' | ')} |`);
  md.push(`|---|---|---|${LEGIT_SETS.map(() => '---').join('|')}|`);
  for (const r of sigRows)
    md.push(
      `| ${r.s} | ${Number.isNaN(r.w) ? 'context' : r.w.toFixed(2)} | ${pct(r.phishing)} | ${r.legit.map(pct).join(' | ')} |`,
    );
  md.push('');
  md.push(
    `**Throughput** through \`scanPaths\` (the function behind \`mailwarden scan\`; JSONL to a null sink, whole corpus): ${summary.messages} messages in ${wall.toFixed(1)} s = ${(summary.messages / wall).toFixed(0)} msg/s wall, ` +
      `**${perCore.toFixed(0)} msg/s per core** (messages / CPU seconds; goal ≥ 200), peak RSS of the bench process ${rssMiB.toFixed(0)} MiB (includes the feature set of every message held for cross-validation). ` +
      `load average ${loadT.toFixed(1)} when it started. SpamAssassin: ~5–13 msg/s on 2 cores; rspamd 120–440 msg/s.`,
  );
  const markdown = md.join('\n');
  log(`\n${markdown}`);
  writeBenchSection('phishing', markdown);
}

await main();
