// Phishing quality + throughput bench: npm run bench -- phishing [--quick]
// Every quality figure comes from held-out data: stratified 5-fold cross-validation, a date split
// (older 70 % of every set trains, newest 30 % tests) and leave-one-collection-out. Throughput is
// measured through scanPaths on the corpus folders. Writes the phishing section of docs/benchmarks.md.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { scanPaths } from '../../src/phishing/cli.ts';
import { bundledModel, type Model } from '../../src/phishing/model.ts';
import { scanMessage } from '../../src/phishing/scan.ts';
import {
  DEFAULT_CORPUS,
  type Example,
  kFolds,
  listCorpus,
  loadExamples,
  predictExample,
  rocAuc,
  SA_DATA,
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

function rates(ex: Example[], scores: number[], threshold: number): Record<string, { n: number; flagged: number; rate: number }> {
  const out: Record<string, { n: number; flagged: number; rate: number }> = {};
  ex.forEach((e, i) => {
    const r = (out[e.set] ??= { n: 0, flagged: 0, rate: 0 });
    r.n++;
    if (scores[i] * 100 >= threshold) r.flagged++;
  });
  for (const r of Object.values(out)) r.rate = r.flagged / r.n;
  return out;
}

function crossValidate(ex: Example[], k: number, seed: number): number[] {
  const folds = kFolds(ex, k, seed);
  const oof = new Array<number>(ex.length);
  for (let f = 0; f < k; f++) {
    const m = trainModel(ex.filter((_, i) => folds[i] !== f));
    ex.forEach((e, i) => {
      if (folds[i] === f) oof[i] = predictExample(m, e.features);
    });
  }
  return oof;
}

function dateSplit(ex: Example[]): { train: Example[]; test: Example[] } {
  const train: Example[] = [];
  const test: Example[] = [];
  const bySet = new Map<string, Example[]>();
  for (const e of ex) bySet.set(e.set, [...(bySet.get(e.set) ?? []), e]);
  for (const list of bySet.values()) {
    // Unknown dates keep file order (the SpamAssassin files are numbered chronologically).
    const sorted = list
      .map((e, i) => ({ e, t: Number.isFinite(e.time) ? e.time : Number.NaN, i }))
      .sort((a, b) => (Number.isNaN(a.t) || Number.isNaN(b.t) ? a.i - b.i : a.t - b.t || a.i - b.i));
    const cut = Math.floor(sorted.length * 0.7);
    sorted.forEach((s, n) => {
      (n < cut ? train : test).push(s.e);
    });
  }
  return { train, test };
}

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
  log(`corpus: ${list.length} messages; shipped thresholds suspicious ${T.suspicious}, phishing ${T.phishing}`);

  // ---- features (one pass) -------------------------------------------------------------
  const ex = await loadExamples(list);
  const counts = Object.fromEntries(['phishing', ...LEGIT_SETS].map((s) => [s, ex.filter((e) => e.set === s).length]));

  // ---- 1. k-fold cross-validation -------------------------------------------------------
  const cv = crossValidate(ex, 5, 1234); // different fold seed from the training script
  const cvAt = rates(ex, cv, T.phishing);
  const cvSusp = rates(ex, cv, T.suspicious);
  const auc = rocAuc(ex.map((e, i) => ({ p: cv[i], y: e.label })));
  const aucPer = Object.fromEntries(
    LEGIT_SETS.map((s) => [s, rocAuc(ex.flatMap((e, i) => (e.set === s || e.label === 1 ? [{ p: cv[i], y: e.label }] : [])))]),
  );
  log('5-fold CV at phishing threshold:', cvAt, 'AUC', auc.toFixed(4));

  // ---- 2. date split ---------------------------------------------------------------------
  const { train, test } = dateSplit(ex);
  const dm = trainModel(train);
  const ds = test.map((e) => predictExample(dm, e.features));
  const dsAt = rates(test, ds, T.phishing);
  const dsAuc = rocAuc(test.map((e, i) => ({ p: ds[i], y: e.label })));
  log('date split:', dsAt, 'AUC', dsAuc.toFixed(4));

  // ---- 3. leave one legitimate collection out ------------------------------------------
  const folds = kFolds(ex, 5, 99);
  const loco: { held: string; rates: ReturnType<typeof rates>; drivers: string }[] = [];
  for (const held of ['usrp', 'spamassassin']) {
    const tr = ex.filter((e, i) => e.collection !== held && !(e.label === 1 && folds[i] === 0));
    const te = ex.filter((e, i) => e.collection === held || (e.label === 1 && folds[i] === 0));
    const m = trainModel(tr);
    const sc = te.map((e) => predictExample(m, e.features));
    // What pushes the unseen legitimate collection over the threshold (mean contribution per FP).
    const fps = te.filter((e, i) => e.label === 0 && sc[i] * 100 >= T.phishing);
    const agg = new Map<string, number>();
    for (const e of fps) for (const [k, v] of e.features) agg.set(k, (agg.get(k) ?? 0) + (m.weights[k] ?? 0) * v);
    const drivers = [...agg]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([k, v]) => `\`${k}\` +${(v / Math.max(1, fps.length)).toFixed(2)}`)
      .join(', ');
    loco.push({ held, rates: rates(te, sc, T.phishing), drivers });
  }
  log('leave-one-collection-out:', JSON.stringify(loco));

  // ---- 4. which signals fired -------------------------------------------------------------
  const sigNames = [...new Set(ex.flatMap((e) => [...e.features.keys()].filter((k) => k.startsWith('sig:'))))].sort();
  const sigRows = sigNames
    .map((s) => {
      const share = (set: string) => {
        const sub = ex.filter((e) => e.set === set);
        return sub.filter((e) => e.features.has(s)).length / sub.length;
      };
      return { s: s.slice(4), phishing: share('phishing'), legit: LEGIT_SETS.map(share), w: shipped.weights[s] ?? 0 };
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
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const summary = await scanPaths(dirs, { format: 'jsonl', out: new NullSink(), progress: false, concurrency: 4 });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  const perCore = summary.messages / cpuSec;
  const rssMiB = process.resourceUsage().maxRSS / 1024;
  log(`throughput: ${summary.messages} messages, ${(summary.messages / wall).toFixed(0)} msg/s wall, ${perCore.toFixed(0)} msg/s per core (CPU time), peak RSS ${rssMiB.toFixed(0)} MiB`);

  // ---- report ----------------------------------------------------------------------------
  const top = topFeatures(shipped, 15);
  const det = cvAt.phishing.rate;
  const worstFp = Math.max(...LEGIT_SETS.map((s) => cvAt[s].rate));
  const goalMet = det >= 0.9 && worstFp <= 0.01;
  const md: string[] = [];
  md.push('### Phishing detection (`npm run bench -- phishing`)');
  md.push('');
  md.push(
    `Corpus: ${counts.phishing} phishing (phishing_pot), legitimate: ${counts['mailing-list']} mailing-list, ${counts.easy_ham} easy_ham, ${counts.easy_ham_2} easy_ham_2, ${counts.hard_ham} hard_ham (SpamAssassin, newsletters included). ` +
      `Offline authentication (trusting the top-most Authentication-Results header). Shipped thresholds: suspicious ${T.suspicious}, phishing ${T.phishing}.`,
  );
  md.push('');
  const dsWorst = LEGIT_SETS.map((k) => [k, dsAt[k]] as const).sort((a, b) => b[1].rate - a[1].rate)[0];
  const dsMet = dsAt.phishing.rate >= 0.9 && dsWorst[1].rate <= 0.01;
  md.push(
    `**Goal (≥ 90 % detected, ≤ 1 % FP on every legitimate set): ${goalMet ? 'met' : 'NOT met'} in 5-fold cross-validation; ` +
      `${dsMet ? 'met' : 'NOT met'} in the date split${dsMet ? '' : ` (worst set ${dsWorst[0]}: ${pct(dsWorst[1].rate)} = ${dsWorst[1].flagged} of ${dsWorst[1].n} newest messages, marketing newsletters that use the same lures as phishing)`}.**`,
  );
  md.push('');
  md.push('| held-out evaluation | phishing detected | FP mailing-list | FP easy_ham | FP easy_ham_2 | FP hard_ham | ROC AUC |');
  md.push('|---|---|---|---|---|---|---|');
  const row = (name: string, r: ReturnType<typeof rates>, a: number) =>
    `| ${name} | ${pct(r.phishing?.rate ?? Number.NaN)} | ${LEGIT_SETS.map((s) => (r[s] ? `${pct(r[s].rate)} (${r[s].flagged}/${r[s].n})` : '—')).join(' | ')} | ${Number.isNaN(a) ? '—' : a.toFixed(4)} |`;
  md.push(row(`5-fold CV, score ≥ ${T.phishing} (verdict phishing)`, cvAt, auc));
  md.push(row(`5-fold CV, score ≥ ${T.suspicious} (suspicious or worse)`, cvSusp, auc));
  md.push(row(`date split (train oldest 70 %, test newest 30 % of each set), score ≥ ${T.phishing}`, dsAt, dsAuc));
  for (const l of loco)
    md.push(row(`leave-one-collection-out: ${l.held} never seen in training, score ≥ ${T.phishing}`, l.rates, Number.NaN));
  md.push('');
  md.push(`Per-set ROC AUC (phishing vs that set, 5-fold CV): ${LEGIT_SETS.map((s) => `${s} ${aucPer[s].toFixed(4)}`).join(', ')}.`);
  md.push('');
  md.push('Against the anchors measured on the same corpus (detection ratio = ours / anchor):');
  md.push('');
  md.push('| engine | detection | FP on SpamAssassin ham | detection ratio |');
  md.push('|---|---|---|---|');
  const saFp =
    ['easy_ham', 'easy_ham_2', 'hard_ham'].reduce((s, k) => s + cvAt[k].flagged, 0) /
    ['easy_ham', 'easy_ham_2', 'hard_ham'].reduce((s, k) => s + cvAt[k].n, 0);
  md.push(`| mailwarden (5-fold CV) | ${pct(det)} | ${pct(saFp)} | 1.00 |`);
  for (const a of ANCHORS) md.push(`| ${a.name} | ${a.detection} % | ${a.fp} % | ${(det * 100 / a.detection).toFixed(2)}× |`);
  md.push('');
  md.push(
    `**Collection fingerprints.** Removing \`Date\`, \`Received\`, \`List-*\` and \`Message-ID\` headers changed ${changed} of ${compared} verdicts (${pct(changed / compared)}; goal ≤ 2 %)` +
      `${Object.keys(changedBySet).length ? `: ${Object.entries(changedBySet).map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}. ` +
      'The leave-one-collection-out rows are the honest warning: a legitimate collection the model has never seen is flagged far more often than in cross-validation, so expect higher false-positive rates on kinds of legitimate mail absent from the training sets (marketing, transactional, non-English), until the model is retrained on them or analysts feed back verdicts.',
  );
  md.push('');
  md.push(
    `Leave-one-collection-out false positives are driven by (mean log-odds per false positive): ${loco.map((l) => `${l.held} unseen: ${l.drivers || 'none'}`).join('; ')}. ` +
      'These are plumbing signals whose legitimate prevalence differs between collections (the 2002 SpamAssassin ham carries no Authentication-Results at all; mailing lists break DKIM and rewrite Reply-To), so a model that never saw such legitimate mail treats them as phishing-only.',
  );
  md.push('');
  md.push(`Top phishing features of the shipped model: ${top.positive.map(([k, w]) => `\`${k}\` ${w.toFixed(2)}`).join(', ')}.`);
  md.push('');
  md.push(`Top legitimate features: ${top.negative.map(([k, w]) => `\`${k}\` ${w.toFixed(2)}`).join(', ')}.`);
  md.push('');
  md.push('Signals fired (share of messages per set; weight = log-odds in the shipped model):');
  md.push('');
  md.push(`| signal | weight | phishing | ${LEGIT_SETS.join(' | ')} |`);
  md.push(`|---|---|---|${LEGIT_SETS.map(() => '---').join('|')}|`);
  for (const r of sigRows) md.push(`| ${r.s} | ${r.w.toFixed(2)} | ${pct(r.phishing)} | ${r.legit.map(pct).join(' | ')} |`);
  md.push('');
  md.push(
    `**Throughput** through \`scanPaths\` (JSONL to a null sink, whole corpus): ${summary.messages} messages in ${wall.toFixed(1)} s = ${(summary.messages / wall).toFixed(0)} msg/s wall, ` +
      `**${perCore.toFixed(0)} msg/s per core** (messages / CPU seconds; goal ≥ 200), peak RSS of the bench process ${rssMiB.toFixed(0)} MiB (includes the feature set of every message held for cross-validation). ` +
      `SpamAssassin: ~5–13 msg/s on 2 cores; rspamd 120–440 msg/s.`,
  );
  const markdown = md.join('\n');
  log(`\n${markdown}`);
  writeBenchSection('phishing', markdown);
}

await main();
