// The built-in outbox: when no relay is configured, mail is captured in the
// database instead of being sent, with the same interface as the relay pool
// (smtp.ts). The console shows it like a mail client (routes.ts, OutboxPage).
//
// Captured mail holds what the vault protects — customers' addresses, names and
// personalised content — so it is sealed (AES-256-GCM) under the master key's
// `outbox` sub-key, with the row id and part in the AAD: a sealed value copied
// to another row does not open. Only the sender, the size and opaque ids stay in
// plaintext. Search therefore decrypts: it scans the newest rows page by page
// within a budget and hands the client a cursor to go on (like a mail client
// searching an encrypted mailbox), rather than keeping a plaintext index.
import { and, desc, eq, isNull, lt, type SQL, sql } from 'drizzle-orm';
import PostalMime from 'postal-mime';
import sanitizeHtml from 'sanitize-html';
import { cachedResolver } from '../phishing/auth.ts';
import { deriveKey, openWithKey, sealWithKey } from '../crypto/aead.ts';
import { type Db, rows } from '../db/client.ts';
import { Problem } from '../http/problem.ts';
import { type DkimCheck, type DnsResolver, verifyDkim } from './dkim.ts';
import { outboxMessages } from './schema.ts';
import type { MailTransport, OutgoingMessage, SendResult } from './smtp.ts';

export type OutboxTags = { campaignId?: number; contactId?: string };

/** The key captured mail is sealed under (HKDF of the master key; re-sealed on master rotation). */
export const outboxKey = (masterKey: Buffer): Buffer => deriveKey(masterKey, 'outbox');

type Summary = { envelopeTo: string[]; to: string; subject: string; snippet: string };
const aad = (id: number, part: 'summary' | 'raw') => `outbox:${id}:${part}`;

const addressList = (list: { name?: string; address?: string }[] | undefined) =>
  (list ?? []).map((a) => (a.name ? `${a.name} <${a.address ?? ''}>` : (a.address ?? ''))).join(', ');

/**
 * How long captured messages are kept (days; 0 = forever). The outbox is for
 * trying mailwarden out and for staging, so it does not keep customer mail for
 * ever by default (OUTBOX_RETENTION_DAYS, set at start-up).
 */
let retentionDays = 14;
let lastPrune = 0;
const PRUNE_EVERY_MS = 10 * 60_000;

export function setOutboxRetention(days: number): void {
  retentionDays = days;
  lastPrune = 0;
}

/** Delete captured messages older than the retention; returns how many went. */
export async function pruneOutbox(db: Db, days = retentionDays): Promise<number> {
  if (days <= 0) return 0;
  const gone = await db
    .delete(outboxMessages)
    .where(sql`${outboxMessages.createdAt} < now() - make_interval(days => ${days})`)
    .returning({ id: outboxMessages.id });
  return gone.length;
}

export class OutboxTransport implements MailTransport {
  constructor(
    private readonly db: Db,
    private readonly key: Buffer,
  ) {}

  async send(m: OutgoingMessage & { tags?: OutboxTags }): Promise<SendResult> {
    // Pruned while capturing (at most every 10 minutes per process): the outbox only grows when mail is sent.
    if (retentionDays > 0 && Date.now() - lastPrune > PRUNE_EVERY_MS) {
      lastPrune = Date.now();
      await pruneOutbox(this.db);
    }
    const { from, ...summary } = await summarise(m.raw);
    // The id is part of the AAD, so it is taken before the insert.
    const [{ id }] = await rows<{ id: string }>(
      this.db,
      sql`SELECT nextval(pg_get_serial_sequence('outbox_messages', 'id'))::text AS id`,
    );
    const rowId = Number(id);
    await this.db.insert(outboxMessages).values({
      id: rowId,
      messageId: m.messageId,
      envelopeFrom: m.envelope.from,
      summaryEnc: sealSummary(this.key, rowId, { envelopeTo: m.envelope.to, ...summary }),
      rawEnc: sealWithKey(this.key, m.raw, aad(rowId, 'raw')),
      size: m.raw.length,
      fromAddress: from,
      campaignId: m.tags?.campaignId ?? null,
      contactId: m.tags?.contactId ?? null,
    });
    return { status: 'accepted', relay: 'outbox', code: 250, response: `250 2.0.0 captured in the outbox as #${rowId}` };
  }

  async close(): Promise<void> {}
}

async function summarise(raw: Buffer) {
  try {
    const e = await PostalMime.parse(raw);
    const text = e.text ?? (e.html ? sanitizeHtml(e.html, { allowedTags: [], allowedAttributes: {} }) : '');
    return {
      from: addressList(e.from ? [e.from] : []).slice(0, 500),
      to: addressList(e.to).slice(0, 2000),
      subject: (e.subject ?? '').slice(0, 1000),
      snippet: text.replace(/\s+/g, ' ').trim().slice(0, 200),
    };
  } catch {
    return { from: '', to: '', subject: '(unparseable)', snippet: '' };
  }
}

function sealSummary(key: Buffer, id: number, s: Summary): Buffer {
  return sealWithKey(key, JSON.stringify(s), aad(id, 'summary'));
}

type StoredRow = {
  id: number;
  summaryEnc: Buffer | Uint8Array | null;
  envelopeTo: string[] | null;
  toAddresses: string;
  subject: string;
  snippet: string;
};

const UNREADABLE: Summary = { envelopeTo: [], to: '', subject: '(cannot be decrypted with the configured master key)', snippet: '' };

/** The row's summary: sealed, or (a row from before sealing, until start-up seals it) the plaintext columns. */
function openSummary(key: Buffer, r: StoredRow): Summary {
  if (!r.summaryEnc) return { envelopeTo: r.envelopeTo ?? [], to: r.toAddresses, subject: r.subject, snippet: r.snippet };
  try {
    return JSON.parse(openWithKey(key, Buffer.from(r.summaryEnc), aad(r.id, 'summary')).toString('utf8')) as Summary;
  } catch {
    return UNREADABLE;
  }
}

/**
 * Seal rows captured before the outbox was encrypted (migration 0016) and clear
 * their plaintext. Run at start-up; batched, idempotent, resumable.
 */
export async function sealLegacyOutbox(db: Db, key: Buffer, batch = 200): Promise<number> {
  let sealed = 0;
  for (;;) {
    const legacy = await db
      .select()
      .from(outboxMessages)
      .where(and(isNull(outboxMessages.rawEnc), sql`${outboxMessages.raw} IS NOT NULL`))
      .orderBy(outboxMessages.id)
      .limit(batch);
    if (legacy.length === 0) return sealed;
    await db.transaction(async (tx) => {
      for (const r of legacy) {
        const raw = Buffer.from(r.raw as Uint8Array);
        await tx
          .update(outboxMessages)
          .set({
            summaryEnc: sealSummary(key, r.id, openSummary(key, { ...r, summaryEnc: null })),
            rawEnc: sealWithKey(key, raw, aad(r.id, 'raw')),
            raw: null,
            envelopeTo: null,
            toAddresses: '',
            subject: '',
            snippet: '',
          })
          .where(eq(outboxMessages.id, r.id));
      }
    });
    sealed += legacy.length;
  }
}

export type OutboxFilter = {
  q?: string;
  campaignId?: number;
  before?: number;
  limit?: number;
  /** Rows one search decrypts at most (default SEARCH_SCAN_ROWS). */
  scanRows?: number;
};

/** How many rows one search request decrypts at most before it hands back a cursor. */
export const SEARCH_SCAN_ROWS = 5_000;
const SCAN_PAGE = 500;

export async function listOutbox(db: Db, key: Buffer, f: OutboxFilter = {}) {
  const limit = f.limit ?? 50;
  const needle = f.q?.trim().toLowerCase() ?? '';
  const page = (before: number | undefined, n: number) => {
    const conds: SQL[] = [];
    if (f.campaignId !== undefined) conds.push(eq(outboxMessages.campaignId, f.campaignId));
    if (before !== undefined) conds.push(lt(outboxMessages.id, before));
    return db
      .select({
        id: outboxMessages.id,
        messageId: outboxMessages.messageId,
        from: outboxMessages.fromAddress,
        summaryEnc: outboxMessages.summaryEnc,
        envelopeTo: outboxMessages.envelopeTo,
        toAddresses: outboxMessages.toAddresses,
        subject: outboxMessages.subject,
        snippet: outboxMessages.snippet,
        size: outboxMessages.size,
        campaignId: outboxMessages.campaignId,
        createdAt: outboxMessages.createdAt,
      })
      .from(outboxMessages)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(desc(outboxMessages.id))
      .limit(n);
  };
  const item = (r: Awaited<ReturnType<typeof page>>[number]) => {
    const s = openSummary(key, r);
    return { id: r.id, messageId: r.messageId, from: r.from, to: s.to, subject: s.subject, snippet: s.snippet, size: r.size, campaignId: r.campaignId, createdAt: r.createdAt };
  };

  if (!needle) {
    const found = await page(f.before, limit + 1);
    const items = found.slice(0, limit).map(item);
    return { items, nextBefore: found.length > limit ? items[limit - 1].id : null, searched: found.length };
  }
  const items: ReturnType<typeof item>[] = [];
  let cursor = f.before;
  let searched = 0;
  const budget = f.scanRows ?? SEARCH_SCAN_ROWS;
  while (searched < budget) {
    const want = Math.min(SCAN_PAGE, budget - searched);
    const found = await page(cursor, want);
    for (const r of found) {
      searched++;
      cursor = r.id;
      const it = item(r);
      if (`${it.from}\n${it.to}\n${it.subject}`.toLowerCase().includes(needle)) items.push(it);
      if (items.length === limit) return { items, nextBefore: it.id, searched };
    }
    if (found.length < want) return { items, nextBefore: null, searched };
  }
  // Budget spent: the client goes on from here ("search older messages").
  return { items, nextBefore: cursor ?? null, searched };
}

/**
 * HTML for display: no scripts, no event handlers, no forms, no styles (CSS can
 * fetch remote content); remote images blocked (only cid:/data: kept) and counted.
 */
export function sanitiseForDisplay(html: string): { html: string; remoteContentBlocked: number } {
  let blocked = 0;
  const clean = sanitizeHtml(html, {
    allowedTags: [...sanitizeHtml.defaults.allowedTags, 'img', 'center', 'font'],
    allowedAttributes: {
      a: ['href', 'title', 'target', 'rel'],
      img: ['src', 'alt', 'width', 'height', 'title'],
      td: ['align', 'valign', 'width', 'colspan', 'rowspan'],
      th: ['align', 'valign', 'width', 'colspan', 'rowspan'],
      table: ['width', 'align', 'cellpadding', 'cellspacing', 'border'],
      '*': ['align'],
    },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['data', 'cid'] },
    allowProtocolRelative: false,
    transformTags: {
      a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, target: '_blank', rel: 'noopener noreferrer nofollow' } }),
      img: (tagName, attribs) => {
        if (attribs.src && !/^(data|cid):/i.test(attribs.src)) {
          blocked++;
          const { src: _src, ...rest } = attribs;
          return { tagName, attribs: { ...rest, alt: rest.alt || '[remote image blocked]' } };
        }
        return { tagName, attribs };
      },
    },
  });
  return { html: clean, remoteContentBlocked: blocked };
}

let dkimResolver: DnsResolver | null = null;
/** Where the outbox looks up DKIM keys (the sending-domains module can serve its own keys). Default: DNS. */
export function setOutboxDkimResolver(r: DnsResolver | null): void {
  dkimResolver = r;
}

export async function getOutboxMessage(db: Db, key: Buffer, id: number) {
  const [row] = await db.select().from(outboxMessages).where(eq(outboxMessages.id, id));
  if (!row) return null;
  let raw: Buffer;
  try {
    raw = row.rawEnc ? openWithKey(key, Buffer.from(row.rawEnc), aad(row.id, 'raw')) : Buffer.from(row.raw ?? []);
  } catch {
    throw new Problem(409, 'undecryptable', 'This message was sealed under a master key that is not configured; it cannot be shown.');
  }
  const summary = openSummary(key, row);
  const parsed = await PostalMime.parse(raw).catch(() => null);
  const { html, remoteContentBlocked } = parsed?.html ? sanitiseForDisplay(parsed.html) : { html: null, remoteContentBlocked: 0 };
  let dkim: DkimCheck[] = [];
  try {
    dkim = await verifyDkim(raw, dkimResolver ?? cachedResolver(3000));
  } catch (err) {
    dkim = [{ domain: '', selector: '', algorithm: '', result: 'temperror', comment: (err as Error).message }];
  }
  return {
    id: row.id,
    messageId: row.messageId,
    envelope: { from: row.envelopeFrom, to: summary.envelopeTo },
    createdAt: row.createdAt,
    size: row.size,
    campaignId: row.campaignId,
    subject: summary.subject,
    from: row.fromAddress,
    to: summary.to,
    headers: (parsed?.headerLines ?? []).map((h) => {
      const i = h.line.indexOf(':');
      return { key: h.line.slice(0, i), value: h.line.slice(i + 1).replace(/\r?\n[ \t]+/g, ' ').trim() };
    }),
    text: parsed?.text ?? null,
    html,
    remoteContentBlocked,
    attachments: (parsed?.attachments ?? []).map((a) => ({ filename: a.filename ?? null, mimeType: a.mimeType })),
    source: raw.toString('utf8'),
    dkim,
  };
}
