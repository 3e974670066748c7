// Consent: per-purpose consent history (append-only, evidence encrypted), the
// current state per purpose, signed double opt-in links and their confirmation.
// Re-exported from service.ts.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import type { Actor } from '../audit/service.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import type { Tx } from '../db/client.ts';
import { conflict } from '../http/problem.ts';
import { type ConsentState, contactConsents, contacts, suppressions } from './schema.ts';
import { getContact, isSuppressed, suppress } from './service.ts';
import { addActivity } from './timeline.ts';
import { decText, encText, linkSigningKey, suppressionHash, uuidv7, WORKSPACE_ID } from './vault.ts';

export interface ConsentEvidence {
  ip?: string | null;
  userAgent?: string | null;
  form?: string | null;
  importId?: string | null;
  importFile?: string | null;
  line?: number | null;
  [k: string]: unknown;
}

export interface Consent {
  id: string;
  purpose: string;
  state: ConsentState;
  source: string;
  evidence: ConsentEvidence;
  at: Date;
  confirmedAt: Date | null;
}

export function decodeConsent(kr: Keyring, r: typeof contactConsents.$inferSelect): Consent {
  return {
    id: r.id,
    purpose: r.purpose,
    state: r.state,
    source: r.source,
    evidence: JSON.parse(decText(kr, 'contact_consents', 'evidence', r.id, r.evidenceEnc) ?? '{}'),
    at: r.at,
    confirmedAt: r.confirmedAt,
  };
}

export function consentRow(
  kr: Keyring,
  contactId: string,
  c: { purpose: string; state: ConsentState; source: string; evidence: ConsentEvidence },
) {
  const id = uuidv7();
  return {
    id,
    workspaceId: WORKSPACE_ID,
    contactId,
    purpose: c.purpose,
    state: c.state,
    source: c.source,
    keyVersion: kr.activeVersion,
    evidenceEnc: encText(kr, 'contact_consents', 'evidence', id, JSON.stringify(c.evidence))!,
  };
}

export async function consentHistory(db: Tx, kr: Keyring, contactId: string): Promise<Consent[]> {
  const r = await db
    .select()
    .from(contactConsents)
    .where(eq(contactConsents.contactId, contactId))
    .orderBy(desc(contactConsents.at), desc(contactConsents.id));
  return r.map((x) => decodeConsent(kr, x));
}

/** Latest consent per purpose. */
export async function currentConsents(db: Tx, kr: Keyring, contactId: string): Promise<Consent[]> {
  const seen = new Set<string>();
  return (await consentHistory(db, kr, contactId)).filter((c) => {
    if (seen.has(c.purpose)) return false;
    seen.add(c.purpose);
    return true;
  });
}

const LINK_TTL_MS = 7 * 24 * 3600_000;

export function signConsentLink(kr: Keyring, consentId: string, now = Date.now()): string {
  const payload = `${consentId}.${Math.floor((now + LINK_TTL_MS) / 1000)}`;
  const mac = createHmac('sha256', linkSigningKey(kr)).update(payload).digest('base64url');
  return `${payload}.${mac}`;
}

export function verifyConsentLink(
  kr: Keyring,
  token: string,
  now = Date.now(),
): { consentId: string } | { error: 'invalid' | 'expired' } {
  const m = /^([0-9a-f-]{36})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return { error: 'invalid' };
  const expected = createHmac('sha256', linkSigningKey(kr)).update(`${m[1]}.${m[2]}`).digest();
  const given = Buffer.from(m[3], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { error: 'invalid' };
  if (Number(m[2]) * 1000 < now) return { error: 'expired' };
  return { consentId: m[1] };
}

export async function setConsent(
  db: Tx,
  kr: Keyring,
  actor: Actor,
  contactId: string,
  c: { purpose: string; state: ConsentState; source: string; evidence: ConsentEvidence },
): Promise<{ consent: Consent; confirmToken: string | null }> {
  return db.transaction(async (tx) => {
    const contact = await getContact(tx, kr, contactId);
    if (c.state !== 'unsubscribed' && contact.suppressed && (await isSuppressed(tx, kr, contact.email)))
      throw conflict(
        'suppressed',
        'This address is on the suppression list; it cannot be subscribed (only its owner can, through a double opt-in link).',
      );
    if (c.state === 'subscribed' && contact.suppressed)
      throw conflict('suppressed', 'This address is suppressed.');
    const [row] = await tx
      .insert(contactConsents)
      .values(consentRow(kr, contactId, c))
      .returning();
    if (c.state === 'unsubscribed' && c.purpose === 'marketing_email')
      await suppress(tx, kr, contact.email, 'unsubscribed');
    await addActivity(tx, kr, actor, {
      contactId,
      kind: 'consent',
      details: { purpose: c.purpose, state: c.state, source: c.source },
    });
    return {
      consent: decodeConsent(kr, row),
      confirmToken: c.state === 'pending' ? signConsentLink(kr, row.id) : null,
    };
  });
}

/** Double opt-in: the person opened the signed link. Records a 'subscribed' row with the click as evidence. */
export async function confirmConsent(
  db: Tx,
  kr: Keyring,
  token: string,
  meta: { ip?: string; userAgent?: string | null },
) {
  const v = verifyConsentLink(kr, token);
  if ('error' in v) return { ok: false as const, reason: v.error };
  return db.transaction(async (tx) => {
    const [pending] = await tx.select().from(contactConsents).where(eq(contactConsents.id, v.consentId));
    if (!pending) return { ok: false as const, reason: 'invalid' as const };
    const [latest] = await tx
      .select()
      .from(contactConsents)
      .where(
        and(eq(contactConsents.contactId, pending.contactId), eq(contactConsents.purpose, pending.purpose)),
      )
      .orderBy(desc(contactConsents.at), desc(contactConsents.id))
      .limit(1);
    if (latest.id !== pending.id) return { ok: latest.state === 'subscribed', reason: 'already' as const };
    const contact = await getContact(tx, kr, pending.contactId);
    const reason = await isSuppressed(tx, kr, contact.email);
    if (reason && reason !== 'unsubscribed') return { ok: false as const, reason: 'suppressed' as const };
    // The person re-subscribed themselves: lift an unsubscribe suppression (never bounce/complaint/erasure).
    if (reason === 'unsubscribed') {
      await tx
        .delete(suppressions)
        .where(
          and(
            eq(suppressions.workspaceId, WORKSPACE_ID),
            eq(suppressions.emailHash, suppressionHash(kr, contact.email)),
          ),
        );
      await tx.update(contacts).set({ suppressed: false }).where(eq(contacts.id, contact.id));
    }
    const row = consentRow(kr, pending.contactId, {
      purpose: pending.purpose,
      state: 'subscribed',
      source: 'double_opt_in',
      evidence: { ip: meta.ip ?? null, userAgent: meta.userAgent ?? null, confirmedConsentId: pending.id },
    });
    await tx.insert(contactConsents).values({ ...row, confirmedAt: new Date() });
    await addActivity(
      tx,
      kr,
      { type: 'anonymous', label: 'double opt-in link' },
      {
        contactId: pending.contactId,
        kind: 'consent',
        details: { purpose: pending.purpose, state: 'subscribed', source: 'double_opt_in' },
      },
    );
    return { ok: true as const, reason: 'confirmed' as const };
  });
}
