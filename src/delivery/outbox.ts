// The built-in outbox: when no relay is configured, mail is captured in the
// database instead of being sent, with the same interface as the relay pool
// (smtp.ts). The console shows it like a mail client (routes.ts, OutboxPage).
import { and, desc, eq, ilike, lt, or, type SQL, sql } from 'drizzle-orm';
import PostalMime from 'postal-mime';
import sanitizeHtml from 'sanitize-html';
import { cachedResolver } from '../phishing/auth.ts';
import type { Db } from '../db/client.ts';
import { type DkimCheck, type DnsResolver, verifyDkim } from './dkim.ts';
import { outboxMessages } from './schema.ts';
import type { MailTransport, OutgoingMessage, SendResult } from './smtp.ts';

export type OutboxTags = { campaignId?: number; contactId?: string };

const addressList = (list: { name?: string; address?: string }[] | undefined) =>
  (list ?? []).map((a) => (a.name ? `${a.name} <${a.address ?? ''}>` : (a.address ?? ''))).join(', ');

/**
 * How long captured messages are kept (days; 0 = forever). Captured mail holds
 * what real mail would: customers' addresses and personalised content. The
 * outbox is for trying mailwarden out and for staging, so it does not keep that
 * for ever by default (OUTBOX_RETENTION_DAYS, set at start-up).
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
  constructor(private readonly db: Db) {}

  async send(m: OutgoingMessage & { tags?: OutboxTags }): Promise<SendResult> {
    // Pruned while capturing (at most every 10 minutes per process): the outbox only grows when mail is sent.
    if (retentionDays > 0 && Date.now() - lastPrune > PRUNE_EVERY_MS) {
      lastPrune = Date.now();
      await pruneOutbox(this.db);
    }
    const summary = await summarise(m.raw);
    const [row] = await this.db
      .insert(outboxMessages)
      .values({
        messageId: m.messageId,
        envelopeFrom: m.envelope.from,
        envelopeTo: m.envelope.to,
        raw: m.raw,
        size: m.raw.length,
        ...summary,
        campaignId: m.tags?.campaignId ?? null,
        contactId: m.tags?.contactId ?? null,
      })
      .returning({ id: outboxMessages.id });
    return { status: 'accepted', relay: 'outbox', code: 250, response: `250 2.0.0 captured in the outbox as #${row.id}` };
  }

  async close(): Promise<void> {}
}

async function summarise(raw: Buffer) {
  try {
    const e = await PostalMime.parse(raw);
    const text = e.text ?? (e.html ? sanitizeHtml(e.html, { allowedTags: [], allowedAttributes: {} }) : '');
    return {
      fromAddress: addressList(e.from ? [e.from] : []).slice(0, 500),
      toAddresses: addressList(e.to).slice(0, 2000),
      subject: (e.subject ?? '').slice(0, 1000),
      snippet: text.replace(/\s+/g, ' ').trim().slice(0, 200),
    };
  } catch {
    return { fromAddress: '', toAddresses: '', subject: '(unparseable)', snippet: '' };
  }
}

export type OutboxFilter = { q?: string; campaignId?: number; before?: number; limit?: number };

export async function listOutbox(db: Db, f: OutboxFilter = {}) {
  const conds: SQL[] = [];
  if (f.q) {
    const like = `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    conds.push(or(ilike(outboxMessages.subject, like), ilike(outboxMessages.toAddresses, like), ilike(outboxMessages.fromAddress, like)) as SQL);
  }
  if (f.campaignId !== undefined) conds.push(eq(outboxMessages.campaignId, f.campaignId));
  if (f.before !== undefined) conds.push(lt(outboxMessages.id, f.before));
  const limit = f.limit ?? 50;
  const items = await db
    .select({
      id: outboxMessages.id,
      messageId: outboxMessages.messageId,
      from: outboxMessages.fromAddress,
      to: outboxMessages.toAddresses,
      subject: outboxMessages.subject,
      snippet: outboxMessages.snippet,
      size: outboxMessages.size,
      campaignId: outboxMessages.campaignId,
      createdAt: outboxMessages.createdAt,
    })
    .from(outboxMessages)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(desc(outboxMessages.id))
    .limit(limit + 1);
  return { items: items.slice(0, limit), nextBefore: items.length > limit ? items[limit - 1].id : null };
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

export async function getOutboxMessage(db: Db, id: number) {
  const [row] = await db.select().from(outboxMessages).where(eq(outboxMessages.id, id));
  if (!row) return null;
  const parsed = await PostalMime.parse(row.raw).catch(() => null);
  const { html, remoteContentBlocked } = parsed?.html ? sanitiseForDisplay(parsed.html) : { html: null, remoteContentBlocked: 0 };
  let dkim: DkimCheck[] = [];
  try {
    dkim = await verifyDkim(row.raw, dkimResolver ?? cachedResolver(3000));
  } catch (err) {
    dkim = [{ domain: '', selector: '', algorithm: '', result: 'temperror', comment: (err as Error).message }];
  }
  return {
    id: row.id,
    messageId: row.messageId,
    envelope: { from: row.envelopeFrom, to: row.envelopeTo },
    createdAt: row.createdAt,
    size: row.size,
    campaignId: row.campaignId,
    subject: row.subject,
    from: row.fromAddress,
    to: row.toAddresses,
    headers: (parsed?.headerLines ?? []).map((h) => {
      const i = h.line.indexOf(':');
      return { key: h.line.slice(0, i), value: h.line.slice(i + 1).replace(/\r?\n[ \t]+/g, ' ').trim() };
    }),
    text: parsed?.text ?? null,
    html,
    remoteContentBlocked,
    attachments: (parsed?.attachments ?? []).map((a) => ({ filename: a.filename ?? null, mimeType: a.mimeType })),
    source: row.raw.toString('utf8'),
    dkim,
  };
}
