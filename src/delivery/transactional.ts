// Transactional messages (`POST /api/messages`): one message to one or a few
// recipients, composed and DKIM-signed at request time, sealed (it carries
// personal data) and queued in transactional_messages, then sent by the
// delivery engine before any campaign traffic.
//
// Idempotency: a request with an `Idempotency-Key` that was seen in the last
// 24 h returns the first request's message instead of sending again; the same
// key with a different body is refused (422), as Stripe's API does. The key is
// unique per workspace in the database, so two concurrent requests with the
// same key cannot both enqueue.
import { createHash, createHmac } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import MailComposer from 'nodemailer/lib/mail-composer';
import { sendingDomains } from '../campaigns/schema.ts';
import { getSettings } from '../campaigns/service.ts';
import { describeFinding, scanMessage } from '../campaigns/dlp.ts';
import { isSuppressed } from '../contacts/service.ts';
import { WORKSPACE_ID } from '../contacts/vault.ts';
import { openWithKey, sealWithKey } from '../crypto/aead.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import { type Db, rows } from '../db/client.ts';
import { fieldError, Problem } from '../http/problem.ts';
import { verpAddress } from './bounces.ts';
import { activeDkimKeys, type SendKeys } from './campaign-message.ts';
import { signRaw } from './dkim.ts';
import { retryDelayMs } from './ledger.ts';
import { redactAddresses } from './redact.ts';
import { transactionalMessages } from './schema.ts';
import type { MailTransport } from './smtp.ts';

export type MessageRequest = {
  from: { name?: string; address: string };
  to: string[];
  replyTo?: string;
  subject: string;
  html?: string;
  text?: string;
  headers?: Record<string, string>;
};

export type TransactionalKeys = SendKeys & {
  /** deriveKey(master, 'transactional-messages') */ sealKey: Buffer;
};

export type Queued = { id: number; messageId: string; state: string; createdAt: Date; replayed: boolean };

const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;

/** Stable JSON (sorted keys) so that the same request always hashes the same. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

const aad = (id: number) => `transactional:${id}`;

async function existing(db: Db, key: string, hash: string): Promise<Queued | 'stale' | null> {
  const [row] = await db
    .select()
    .from(transactionalMessages)
    .where(
      and(eq(transactionalMessages.workspaceId, WORKSPACE_ID), eq(transactionalMessages.idempotencyKey, key)),
    );
  if (!row) return null;
  if (Date.now() - row.createdAt.getTime() > IDEMPOTENCY_WINDOW_MS) return 'stale';
  if (row.requestHash !== hash)
    throw new Problem(
      422,
      'idempotency_key_reused',
      'This Idempotency-Key was used in the last 24 hours with a different request body.',
    );
  return { id: row.id, messageId: row.messageId, state: row.state, createdAt: row.createdAt, replayed: true };
}

export async function enqueueMessage(
  db: Db,
  kr: Keyring,
  keys: TransactionalKeys,
  bounceDomain: string,
  req: MessageRequest,
  opts: { idempotencyKey?: string; apiKeyId?: number | null },
): Promise<Queued> {
  const hash = createHash('sha256').update(canonical(req)).digest('hex');
  if (opts.idempotencyKey) {
    const hit = await existing(db, opts.idempotencyKey, hash);
    if (hit === 'stale')
      await db
        .update(transactionalMessages)
        .set({ idempotencyKey: null })
        .where(
          and(
            eq(transactionalMessages.workspaceId, WORKSPACE_ID),
            eq(transactionalMessages.idempotencyKey, opts.idempotencyKey),
          ),
        );
    else if (hit) return hit;
  }
  // Guardrails that apply to every message: a verified DKIM domain, no suppressed recipient, no sensitive data.
  const domainName = req.from.address.split('@')[1]?.toLowerCase() ?? '';
  const [domain] = await db
    .select()
    .from(sendingDomains)
    .where(and(eq(sendingDomains.workspaceId, WORKSPACE_ID), eq(sendingDomains.domain, domainName)));
  if (!domain?.verified) throw fieldError('from.address', `${domainName} is not a verified sending domain`);
  const { keys: dkim } = await activeDkimKeys(db, keys.dkimKey, domain.id);
  if (dkim.length === 0) throw fieldError('from.address', `${domainName} has no active DKIM key`);
  for (const [i, to] of req.to.entries()) {
    const reason = await isSuppressed(db, kr, to.toLowerCase());
    if (reason && reason !== 'unsubscribed')
      throw fieldError(`to.${i}`, `the address is suppressed (${reason.replace('_', ' ')})`);
  }
  const findings = scanMessage({
    subject: req.subject,
    html: req.html,
    text: req.text,
    patterns: (await getSettings(db)).dlpPatterns,
  });
  if (findings.length > 0)
    throw new Problem(
      422,
      'sensitive_data',
      `The message contains sensitive data: ${findings.map(describeFinding).join('; ')}`,
      { findings },
    );

  const [{ id }] = await rows<{ id: number }>(
    db,
    sql`SELECT nextval(pg_get_serial_sequence('transactional_messages', 'id'))::bigint AS id`,
  );
  const mac = createHmac('sha256', keys.messageIdKey).update(`t${id}`).digest('hex').slice(0, 8);
  const messageId = `<t${id}.${mac}@${domainName}>`;
  const envelopeFrom = verpAddress(keys.verpKey, `t${id}`, '0', bounceDomain);
  const raw = await new MailComposer({
    from: req.from,
    to: req.to,
    replyTo: req.replyTo,
    subject: req.subject,
    html: req.html,
    text: req.text,
    headers: req.headers,
    messageId,
    date: new Date(),
  })
    .compile()
    .build();
  const signed = await signRaw(dkim, raw);
  const payload = sealWithKey(
    keys.sealKey,
    JSON.stringify({ to: req.to, raw: signed.toString('base64') }),
    aad(id),
  );
  const [row] = await db
    .insert(transactionalMessages)
    .values({
      id,
      workspaceId: WORKSPACE_ID,
      apiKeyId: opts.apiKeyId ?? null,
      idempotencyKey: opts.idempotencyKey ?? null,
      requestHash: hash,
      messageId,
      envelopeFrom,
      recipientDomain: req.to[0].split('@')[1]?.toLowerCase() ?? '',
      payloadEnc: payload,
      size: signed.length,
    })
    .onConflictDoNothing()
    .returning();
  if (!row) {
    // A concurrent request with the same key won the insert: answer with its message.
    const hit = opts.idempotencyKey ? await existing(db, opts.idempotencyKey, hash) : null;
    if (hit && hit !== 'stale') return hit;
    throw new Problem(
      409,
      'idempotency_conflict',
      'A concurrent request with this Idempotency-Key is in progress; retry.',
    );
  }
  return { id: row.id, messageId, state: row.state, createdAt: row.createdAt, replayed: false };
}

export async function getMessage(db: Db, id: number) {
  const [row] = await db
    .select()
    .from(transactionalMessages)
    .where(and(eq(transactionalMessages.id, id), eq(transactionalMessages.workspaceId, WORKSPACE_ID)));
  if (!row) return null;
  const { payloadEnc: _p, requestHash: _h, idempotencyKey: _k, ...rest } = row;
  return rest;
}

/** Claim and send due transactional messages. Returns how many were claimed. */
export async function runTransactional(
  db: Db,
  transport: MailTransport,
  keys: SendKeys & { sealKey?: Buffer },
  worker: string,
  o: { batchSize: number; leaseSeconds: number; deadlineMs: number },
): Promise<number> {
  if (!keys.sealKey) return 0;
  const claimed = await rows<{
    id: number;
    payload_enc: Buffer;
    envelope_from: string;
    message_id: string;
    attempts: number;
    created_at: Date;
  }>(
    db,
    sql`WITH due AS (SELECT id FROM transactional_messages WHERE state IN ('queued', 'deferred', 'sending') AND send_at <= now()
          AND (state <> 'sending' OR lease_until < now()) ORDER BY send_at LIMIT ${o.batchSize} FOR UPDATE SKIP LOCKED)
        UPDATE transactional_messages t SET state = 'sending', worker = ${worker}, attempts = t.attempts + 1, lease_until = now() + make_interval(secs => ${o.leaseSeconds})
        FROM due WHERE t.id = due.id RETURNING t.id, t.payload_enc, t.envelope_from, t.message_id, t.attempts, t.created_at`,
  );
  await Promise.all(
    claimed.map(async (m) => {
      const id = Number(m.id);
      const { to, raw } = JSON.parse(
        openWithKey(keys.sealKey as Buffer, Buffer.from(m.payload_enc), aad(id)).toString(),
      ) as { to: string[]; raw: string };
      const r = await transport.send({
        envelope: { from: m.envelope_from, to },
        raw: Buffer.from(raw, 'base64'),
        messageId: m.message_id,
      });
      let state: string = r.status === 'accepted' ? 'sent' : r.status;
      let retry: string | null = null;
      if (r.status === 'deferred') {
        const at = Date.now() + retryDelayMs(Number(m.attempts), { baseMs: 30_000 });
        if (at - new Date(m.created_at).getTime() > o.deadlineMs) state = 'failed';
        else retry = new Date(at).toISOString();
      }
      await db.execute(sql`UPDATE transactional_messages SET state = ${state}, last_code = ${r.code ?? null}, last_response = ${redactAddresses(r.response ?? '').slice(0, 500)},
        relay = ${r.relay || null}, sent_at = CASE WHEN ${state} = 'sent' THEN now() ELSE sent_at END, send_at = coalesce(${retry}::timestamptz, send_at),
        lease_until = NULL, worker = NULL WHERE id = ${id} AND worker = ${worker} AND state = 'sending'`);
    }),
  );
  return claimed.length;
}
