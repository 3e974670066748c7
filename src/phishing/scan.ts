// scanMessage: parse (bounded) → authentication → signals → model → one calibrated 0-100 score
// with every signal's contribution in `reasons`.
import { liveAuth, offlineAuth } from './auth.ts';
import { BRANDS, type Brand, domainOf } from './domains.ts';
import { buildFeatures } from './features.ts';
import { bundledModel, type Model, predict, sigmoid } from './model.ts';
import { type ParsedMessage, parseMessage, toBuffer } from './parse.ts';
import { attachmentSignals } from './signals/attachments.ts';
import { authSignals } from './signals/auth.ts';
import { languageSignals, obfuscationSignals } from './signals/language.ts';
import { linkSignals } from './signals/links.ts';
import { senderSignals } from './signals/sender.ts';
import { structureSignals } from './signals/structure.ts';
import type { Hit, SignalContext } from './signals/types.ts';
import type { AuthSummary, Reason, ScanOptions, ScanResult, Verdict, WorkspaceConfig } from './types.ts';

export type { ScanOptions, ScanResult, Reason, Verdict, WorkspaceConfig } from './types.ts';

export function workspaceBrands(ws: WorkspaceConfig): Brand[] {
  if (!ws.brands?.length) return BRANDS;
  return [
    ...ws.brands.map((b) => ({
      name: b.name,
      keys: [b.name.toLowerCase().replace(/[^a-z0-9]+/g, '')],
      domains: b.domains,
    })),
    ...BRANDS,
  ];
}

export function collectSignals(msg: ParsedMessage, auth: AuthSummary, workspace: WorkspaceConfig = {}): Hit[] {
  const ctx: SignalContext = {
    msg,
    auth,
    workspace,
    brands: workspaceBrands(workspace),
    fromDomain: domainOf(msg.from?.address),
  };
  const hits: Hit[] = [];
  for (const fn of [authSignals, senderSignals, linkSignals, attachmentSignals, languageSignals, obfuscationSignals, structureSignals]) {
    try {
      hits.push(...fn(ctx));
    } catch (err) {
      hits.push({ id: 'scanner.signal_error', detail: `${fn.name} failed: ${(err as Error).message}`.slice(0, 200) });
    }
  }
  return hits;
}

export function thresholdsFor(model: Model, ws?: WorkspaceConfig): { suspicious: number; phishing: number } {
  return {
    suspicious: ws?.thresholds?.suspicious ?? model.thresholds.suspicious,
    phishing: ws?.thresholds?.phishing ?? model.thresholds.phishing,
  };
}

export function verdictFor(score: number, t: { suspicious: number; phishing: number }): Verdict {
  return score >= t.phishing ? 'phishing' : score >= t.suspicious ? 'suspicious' : 'clean';
}

export async function scanMessage(raw: Buffer | string, options: ScanOptions = {}): Promise<ScanResult> {
  const buf = toBuffer(raw);
  const msg = await parseMessage(buf);
  let auth = offlineAuth(msg, options.trustedAuthservIds);
  const extra: Hit[] = [];
  if (options.authMode === 'live') {
    try {
      auth = await liveAuth(buf, options.live ?? {});
    } catch (err) {
      extra.push({ id: 'scanner.live_auth_error', detail: `Live authentication failed, using headers: ${(err as Error).message}` });
    }
  }
  return scoreParsed(msg, auth, options, extra);
}

export function scoreParsed(msg: ParsedMessage, auth: AuthSummary, options: ScanOptions = {}, extra: Hit[] = []): ScanResult {
  const ws = options.workspace ?? {};
  const model = options.model ?? bundledModel();
  const hits = [...collectSignals(msg, auth, ws), ...extra];
  const features = buildFeatures(msg, hits);
  const wsIds = [...new Set(hits.filter((h) => h.id.startsWith('ws.')).map((h) => h.id))];
  const pred = predict(features, model, wsIds, options.adjustment);
  const p = pred.probability;
  // Additive attribution: logit contributions scaled so that all reasons sum to
  // (score − baseline), where the baseline is the score of a message without any evidence.
  const bias = model.bias + (options.adjustment?.bias ?? 0);
  const span = pred.z - bias;
  const gain = Math.abs(span) > 1e-6 ? (100 * (p - sigmoid(bias))) / span : 100 * p * (1 - p);
  const points = (c: number) => Math.round(10 * c * gain) / 10;

  const reasons: Reason[] = [];
  const seen = new Set<string>();
  for (const h of hits) {
    if (seen.has(h.id)) continue;
    seen.add(h.id);
    reasons.push({ signal: h.id, detail: h.detail, weight: points(pred.contributions.get(`sig:${h.id}`) ?? 0) });
  }
  // Word evidence, summarised as one reason each way.
  const words = [...pred.contributions].filter(([k]) => k.startsWith('w:'));
  const pos = words.filter(([, c]) => c > 0).sort((a, b) => b[1] - a[1]);
  const neg = words.filter(([, c]) => c < 0).sort((a, b) => a[1] - b[1]);
  const sum = (xs: [string, number][]) => xs.reduce((s, [, c]) => s + c, 0);
  if (pos.length)
    reasons.push({
      signal: 'content.wording',
      detail: `Wording typical of phishing: ${pos.slice(0, 6).map(([k]) => k.slice(2)).join(', ')}`,
      weight: points(sum(pos)),
    });
  if (neg.length)
    reasons.push({
      signal: 'content.ordinary_wording',
      detail: `Wording typical of legitimate mail: ${neg.slice(0, 6).map(([k]) => k.slice(2)).join(', ')}`,
      weight: points(sum(neg)),
    });
  for (const l of msg.limits)
    reasons.push({ signal: `parser.${l}`, detail: `Parser limit hit (${l}); the message was analysed partially`, weight: 0 });
  reasons.sort((a, b) => b.weight - a.weight);

  const score = Math.max(0, Math.min(100, Math.round(p * 100)));
  const verdict = verdictFor(score, thresholdsFor(model, ws));
  return {
    score,
    verdict,
    reasons,
    subject: msg.subject || undefined,
    from: msg.from,
    replyTo: msg.replyTo[0]?.address,
    auth,
    links: msg.links.slice(0, 100).map((l) => ({ href: l.href, host: hostSafe(l.href), text: l.text })),
    attachments: msg.attachments.map((a) => ({
      filename: a.filename,
      mimeType: a.mimeType,
      size: a.size,
      archive: a.archive
        ? { entries: a.archive.entries.slice(0, 50), truncated: a.archive.truncated, encrypted: a.archive.encrypted }
        : undefined,
    })),
    limits: msg.limits,
    probability: p,
  };
}

function hostSafe(href: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?([^/?#:]+)/i.exec(href);
  return m ? m[1].toLowerCase() : '';
}
