// Parse what comes back: delivery status notifications (RFC 3464, including
// RFC 6533 global ones) and abuse feedback reports (ARF, RFC 5965), with
// postal-mime. Non-standard bounces fall back to finding an enhanced status code
// (RFC 3463) in the text. Parsing never throws: anything it cannot make sense of
// comes back as `unparseable` with a reason, and the raw message is kept for
// review (inbound_reports).
//
// Matching to what we sent: the VERP return path (the address the bounce was
// delivered to; see `verpAddress`, a MAC makes it unforgeable) and the original
// message's Message-ID (deterministic per campaign and contact, compose.ts).
import { createHmac, timingSafeEqual } from 'node:crypto';
import PostalMime from 'postal-mime';
import { deriveKey } from '../crypto/aead.ts';
import { messageIdFor } from './compose.ts';

export type BounceClass = 'hard' | 'soft' | 'success';
export type BounceCategory =
  | 'invalid_recipient'
  | 'mailbox_full'
  | 'mailbox_disabled'
  | 'policy'
  | 'content'
  | 'routing'
  | 'transient'
  | 'delivered'
  | 'other';

export type DsnRecipient = {
  finalRecipient: string | null;
  originalRecipient: string | null;
  action: string;
  status: string | null;
  diagnosticCode: string | null;
  remoteMta: string | null;
  class: BounceClass;
  category: BounceCategory;
};

export type DsnReport = {
  kind: 'dsn';
  reportingMta: string | null;
  recipients: DsnRecipient[];
  originalMessageId: string | null;
  /** The VERP address the report was sent to (envelope, To, or the original's Return-Path). */
  verp: string | null;
  /** True when the status came from free text rather than a message/delivery-status part. */
  heuristic: boolean;
};

export type ArfReport = {
  kind: 'arf';
  feedbackType: string;
  userAgent: string | null;
  originalMailFrom: string | null;
  originalRcptTo: string[];
  arrivalDate: string | null;
  sourceIp: string | null;
  reportedDomain: string | null;
  originalMessageId: string | null;
  verp: string | null;
};

export type Report = DsnReport | ArfReport;
export type ParseOutcome =
  | { status: 'parsed'; report: Report }
  | { status: 'unparseable'; kind: 'dsn' | 'arf' | 'unknown'; error: string };

/**
 * Hard = the address will not work (suppress it); soft = try again later / count
 * toward the soft-bounce threshold. 4.x.x is soft; 5.x.x is hard except where
 * the permanent code describes the mailbox's state or our reputation rather
 * than the address: 5.2.2 mailbox full, 5.2.0/5.2.3/5.3.x/5.4.x system and
 * routing trouble, 5.7.x policy/reputation blocks (a block must not suppress the
 * person; it is a sender problem). 5.2.1 (mailbox disabled) stays hard.
 */
export function classifyStatus(
  status: string | null,
  action = 'failed',
): { class: BounceClass; category: BounceCategory } {
  const a = action.toLowerCase();
  if (a === 'delivered' || a === 'relayed' || a === 'expanded')
    return { class: 'success', category: 'delivered' };
  const m = status ? /^([245])\.(\d{1,3})\.(\d{1,3})$/.exec(status.trim()) : null;
  if (a === 'delayed') return { class: 'soft', category: 'transient' };
  if (!m) return { class: 'soft', category: 'other' };
  const [, cls, subject, detail] = m;
  if (cls === '2') return { class: 'success', category: 'delivered' };
  if (cls === '4') {
    if (subject === '2' && detail === '2') return { class: 'soft', category: 'mailbox_full' };
    if (subject === '7') return { class: 'soft', category: 'policy' };
    return { class: 'soft', category: 'transient' };
  }
  switch (subject) {
    case '1':
      // 5.1.x addressing: bad mailbox, bad domain… (5.1.10 is Microsoft's "recipient not found")
      return { class: 'hard', category: 'invalid_recipient' };
    case '2':
      if (detail === '2') return { class: 'soft', category: 'mailbox_full' };
      if (detail === '1') return { class: 'hard', category: 'mailbox_disabled' };
      return { class: 'soft', category: 'other' };
    case '3':
    case '4':
      return { class: 'soft', category: 'routing' };
    case '6':
      return { class: 'soft', category: 'content' };
    case '7':
      return { class: 'soft', category: 'policy' };
    default:
      return { class: 'hard', category: 'other' };
  }
}

// ---- VERP --------------------------------------------------------------------------------

/** The key of VERP return paths: the engine signs with it, the bounce processor checks with it. */
export function verpKey(masterKey: Buffer): Buffer {
  return deriveKey(masterKey, 'verp');
}

/** The key of deterministic Message-IDs (compose.ts `messageIdFor`). */
export function messageIdKey(masterKey: Buffer): Buffer {
  return deriveKey(masterKey, 'message-ids');
}

/**
 * The (campaign, contact) of one of our Message-IDs (`<c{campaign}.r{contact}.{mac}@domain>`),
 * or null: the MAC is recomputed, so a report cannot name a contact we never mailed.
 */
export function parseMessageId(
  key: Buffer,
  messageId: string | null | undefined,
): { campaignId: string; contactId: string } | null {
  if (!messageId) return null;
  const m = /^<?c(\d{1,18})\.r([A-Za-z0-9-]{1,64})\.([0-9a-f]{8})@([^<>\s@]{1,253})>?$/.exec(
    messageId.trim(),
  );
  if (!m) return null;
  const expected = messageIdFor(key, m[1], m[2], m[4]);
  const given = `<c${m[1]}.r${m[2]}.${m[3]}@${m[4]}>`;
  if (expected.length !== given.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(given)))
    return null;
  return { campaignId: m[1], contactId: m[2] };
}

function verpMac(key: Buffer, local: string): string {
  return createHmac('sha256', key).update(local).digest('hex').slice(0, 10);
}

/** `b-<campaign>-<contact>-<mac>@<bounceDomain>`: lower-case only, ≤ 64 characters before the @. */
export function verpAddress(
  key: Buffer,
  campaignId: string | number,
  contactId: string,
  bounceDomain: string,
): string {
  const local = `b-${campaignId}-${contactId}`.toLowerCase();
  if (!/^[a-z0-9-]+$/.test(local))
    throw new TypeError('campaign and contact ids must be alphanumeric (or dashes)');
  const addr = `${local}-${verpMac(key, local)}`;
  if (addr.length > 64) throw new TypeError('VERP local part too long');
  return `${addr}@${bounceDomain.toLowerCase()}`;
}

/** The (campaign, contact) a VERP address stands for, or null when it is not one of ours. */
export function parseVerp(
  key: Buffer,
  address: string | null | undefined,
  bounceDomain: string,
): { campaignId: string; contactId: string } | null {
  if (!address) return null;
  const m = /^b-([a-z0-9]+)-([a-z0-9-]+)-([0-9a-f]{10})@(.+)$/.exec(address.trim().toLowerCase());
  if (!m || m[4] !== bounceDomain.toLowerCase()) return null;
  const expected = Buffer.from(verpMac(key, `b-${m[1]}-${m[2]}`));
  if (!timingSafeEqual(expected, Buffer.from(m[3]))) return null;
  return { campaignId: m[1], contactId: m[2] };
}

// ---- header-field blocks (message/delivery-status, message/feedback-report) -------------

type Fields = Map<string, string[]>;

/** Split a block of RFC 822-style fields into groups separated by blank lines. */
export function fieldGroups(text: string, maxGroups = 1000): Fields[] {
  const groups: Fields[] = [];
  let current: Fields = new Map();
  let lastKey: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      if (current.size) groups.push(current);
      if (groups.length >= maxGroups) return groups;
      current = new Map();
      lastKey = null;
      continue;
    }
    if (/^[ \t]/.test(line) && lastKey) {
      const values = current.get(lastKey) as string[];
      values[values.length - 1] += ` ${line.trim()}`;
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    lastKey = line.slice(0, i).trim().toLowerCase();
    const list = current.get(lastKey) ?? [];
    list.push(line.slice(i + 1).trim());
    current.set(lastKey, list);
  }
  if (current.size) groups.push(current);
  return groups;
}

const first = (f: Fields | undefined, key: string): string | null => f?.get(key)?.[0] ?? null;
/** `rfc822; user@example.com` → `user@example.com` (address-type / diagnostic-type prefix dropped). */
const typed = (v: string | null): string | null =>
  v === null ? null : v.replace(/^[\w.-]+\s*;\s*/, '').trim() || null;
const bareAddress = (v: string | null): string | null => {
  if (!v) return null;
  const m = /<([^<>\s]+@[^<>\s]+)>/.exec(v) ?? /([^\s<>;,"]+@[^\s<>;,"]+)/.exec(v);
  return m ? m[1].toLowerCase() : null;
};

function headerFromBlock(text: string, name: string): string | null {
  const head = text.split(/\r?\n\r?\n/, 1)[0] ?? '';
  return first(fieldGroups(head, 1)[0], name.toLowerCase());
}

const messageIdOf = (v: string | null): string | null => {
  const m = v ? /<[^<>\s]{1,500}>/.exec(v) : null;
  return m ? m[0] : null;
};

// ---- the parser --------------------------------------------------------------------------

type Attachment = { mimeType: string; content: ArrayBuffer | Uint8Array | string };
const textOf = (a: Attachment): string =>
  typeof a.content === 'string'
    ? a.content
    : Buffer.from(a.content instanceof ArrayBuffer ? new Uint8Array(a.content) : a.content).toString('utf8');

export type ParseOptions = {
  /** Envelope recipients the report was delivered to (RCPT TO). */
  envelopeTo?: string[];
  bounceDomain?: string;
};

const MAX_RAW = 25 * 1024 * 1024;

/** Parse a DSN or ARF. Never throws. */
export async function parseReport(raw: Buffer | Uint8Array, opts: ParseOptions = {}): Promise<ParseOutcome> {
  try {
    if (raw.length > MAX_RAW) return { status: 'unparseable', kind: 'unknown', error: 'message too large' };
    return await parseUnsafe(Buffer.from(raw), opts);
  } catch (err) {
    return {
      status: 'unparseable',
      kind: 'unknown',
      error: `parse error: ${(err as Error)?.message ?? String(err)}`.slice(0, 500),
    };
  }
}

async function parseUnsafe(raw: Buffer, opts: ParseOptions): Promise<ParseOutcome> {
  const email = await PostalMime.parse(raw, {
    forceRfc822Attachments: true,
    attachmentEncoding: 'arraybuffer',
    maxNestingDepth: 32,
    maxHeadersSize: 1024 * 1024,
  });
  const contentType = email.headers.find((h) => h.key === 'content-type')?.value ?? '';
  const reportType = /report-type\s*=\s*"?([\w-]+)"?/i.exec(contentType)?.[1]?.toLowerCase() ?? '';
  const attachments = email.attachments as Attachment[];
  const find = (...types: string[]) => attachments.find((a) => types.includes(a.mimeType.toLowerCase()));
  const original = find(
    'message/rfc822',
    'text/rfc822-headers',
    'message/rfc822-headers',
    'message/global',
    'message/global-headers',
  );
  const originalText = original ? textOf(original).slice(0, 256 * 1024) : '';
  const originalMessageId = messageIdOf(headerFromBlock(originalText, 'message-id'));

  const domain = opts.bounceDomain?.toLowerCase();
  const ours = (a: string | null | undefined) => !!a && (!domain || a.toLowerCase().endsWith(`@${domain}`));
  const verpCandidates = [
    ...(opts.envelopeTo ?? []),
    ...(email.to ?? []).map((t) => t.address ?? ''),
    bareAddress(headerFromBlock(originalText, 'return-path')) ?? '',
  ].map((a) => a.toLowerCase());
  const verp = domain ? (verpCandidates.find(ours) ?? null) : null;

  const feedback = find('message/feedback-report');
  if (reportType === 'feedback-report' || feedback) {
    if (!feedback) return { status: 'unparseable', kind: 'arf', error: 'no message/feedback-report part' };
    const f = fieldGroups(textOf(feedback).slice(0, 64 * 1024))[0];
    const feedbackType = first(f, 'feedback-type');
    if (!feedbackType) return { status: 'unparseable', kind: 'arf', error: 'no Feedback-Type' };
    const originalMailFrom = bareAddress(first(f, 'original-mail-from'));
    return {
      status: 'parsed',
      report: {
        kind: 'arf',
        feedbackType: feedbackType.toLowerCase(),
        userAgent: first(f, 'user-agent'),
        originalMailFrom,
        originalRcptTo: (f?.get('original-rcpt-to') ?? []).map(bareAddress).filter((a): a is string => !!a),
        arrivalDate: first(f, 'arrival-date') ?? first(f, 'received-date'),
        sourceIp: first(f, 'source-ip'),
        reportedDomain: first(f, 'reported-domain'),
        originalMessageId,
        verp: domain ? ([originalMailFrom, ...verpCandidates].find(ours) ?? null) : null,
      },
    };
  }

  const status = find('message/delivery-status', 'message/global-delivery-status');
  if (status) {
    const groups = fieldGroups(textOf(status).slice(0, 1024 * 1024));
    const perMessage = groups[0];
    const recipients: DsnRecipient[] = groups
      .slice(1)
      .filter((g) => g.has('action') || g.has('final-recipient'))
      .slice(0, 500)
      .map((g) => {
        const action = (first(g, 'action') ?? 'failed').toLowerCase();
        const st = first(g, 'status')?.match(/[245]\.\d{1,3}\.\d{1,3}/)?.[0] ?? null;
        return {
          finalRecipient: bareAddress(typed(first(g, 'final-recipient'))),
          originalRecipient: bareAddress(typed(first(g, 'original-recipient'))),
          action,
          status: st,
          diagnosticCode: typed(first(g, 'diagnostic-code'))?.slice(0, 1000) ?? null,
          remoteMta: typed(first(g, 'remote-mta')),
          ...classifyStatus(st, action),
        };
      });
    if (recipients.length === 0)
      return { status: 'unparseable', kind: 'dsn', error: 'no per-recipient fields' };
    return {
      status: 'parsed',
      report: {
        kind: 'dsn',
        reportingMta: typed(first(perMessage, 'reporting-mta')),
        recipients,
        originalMessageId,
        verp,
        heuristic: false,
      },
    };
  }

  // Non-standard bounce (no delivery-status part): look for an enhanced status code in the text.
  const body = `${email.text ?? ''}\n${attachments
    .filter((a) => a.mimeType.startsWith('text/plain'))
    .map(textOf)
    .join('\n')}`.slice(0, 256 * 1024);
  const subject = email.subject ?? '';
  const looksLikeBounce =
    reportType === 'delivery-status' ||
    /mailer-daemon|postmaster/i.test(email.from?.address ?? '') ||
    /undeliver|delivery (status|failure|has failed)|returned mail|failure notice/i.test(subject);
  const code = /\b([45])\.(\d{1,3})\.(\d{1,3})\b/.exec(body);
  if (looksLikeBounce && code) {
    const st = code[0];
    const recipient = bareAddress(/(?:^|\s)<?([^\s<>]+@[^\s<>]+?)>?:?\s*$/m.exec(body)?.[1] ?? null);
    const line =
      body
        .split(/\r?\n/)
        .find((l) => l.includes(st))
        ?.trim()
        .slice(0, 1000) ?? null;
    return {
      status: 'parsed',
      report: {
        kind: 'dsn',
        reportingMta: null,
        recipients: [
          {
            finalRecipient: recipient,
            originalRecipient: null,
            action: 'failed',
            status: st,
            diagnosticCode: line,
            remoteMta: null,
            ...classifyStatus(st),
          },
        ],
        originalMessageId,
        verp,
        heuristic: true,
      },
    };
  }
  return {
    status: 'unparseable',
    kind: looksLikeBounce || reportType === 'delivery-status' ? 'dsn' : 'unknown',
    error: looksLikeBounce ? 'bounce without a status code' : 'not a delivery or feedback report',
  };
}
