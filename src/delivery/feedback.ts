// What recipients tell us after sending: opens and clicks (engagement events,
// human vs automated), and opt-outs (unsubscribe, complaint) that take effect at
// once — consent, suppression, and the contact's still-queued ledger rows of
// every running campaign.
//
// Consent and suppression go through the contacts service (`setConsent`,
// `suppress`): the vault owns those tables and their encryption, and keeps the
// current-consent table in step.
import { and, desc, eq, gte, sql } from 'drizzle-orm';
import { type Actor, appendAudit } from '../audit/service.ts';
import { campaignRecipients, engagementEvents, engagementTypeCodes } from '../campaigns/schema.ts';
import {
  addActivity,
  currentConsents,
  decodeContact,
  getContactRow,
  setConsent,
  suppress,
} from '../contacts/service.ts';
import type { SuppressionReason } from '../contacts/schema.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import { rows, type Tx } from '../db/client.ts';
import { MARKETING_PURPOSE } from '../segments/compile.ts';
import { type Classification, classifyEngagement, type EngagementKind } from './automation.ts';

export type EngagementType = keyof typeof engagementTypeCodes;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isContactId = (s: string) => UUID.test(s);

/** Token fields are strings; the ledger's keys are a bigint and a uuid. Anything else is not ours. */
export function ledgerKey(
  campaignId: string,
  contactId: string,
): { campaignId: number; contactId: string } | null {
  if (!/^\d{1,15}$/.test(campaignId) || !UUID.test(contactId)) return null;
  return { campaignId: Number(campaignId), contactId: contactId.toLowerCase() };
}

export type LedgerRow = { state: string; sentAt: Date | null };

export async function ledgerRow(db: Tx, campaignId: number, contactId: string): Promise<LedgerRow | null> {
  const [row] = await db
    .select({ state: campaignRecipients.state, sentAt: campaignRecipients.sentAt })
    .from(campaignRecipients)
    .where(and(eq(campaignRecipients.campaignId, campaignId), eq(campaignRecipients.contactId, contactId)));
  return row ?? null;
}

/**
 * Repeated hits of the same pixel or link by the same kind of client within this
 * window are one event: a reload loop (or someone hammering a URL) must not
 * inflate totals or grow the biggest table without bound.
 */
export const ENGAGEMENT_DEDUP_SECONDS = 5;

export type EngagementHit = {
  campaignId: string;
  contactId: string;
  kind: EngagementKind;
  method: string;
  headers: Record<string, string | string[] | undefined>;
  at?: Date;
  /** The click's target, noted on the timeline. */
  url?: string;
};

export type EngagementResult = { recorded: boolean; classification: Classification | null };

/**
 * Record an open or a click. Classified with the ledger's delivery time (clicks
 * within seconds of delivery are gateways, not people). Only the first human
 * open/click of a campaign goes on the contact's timeline — a pixel hit is not
 * worth a timeline row. Hits for recipients not in the ledger (test sends, a
 * deleted campaign) are not recorded.
 */
export async function recordEngagement(db: Tx, kr: Keyring, hit: EngagementHit): Promise<EngagementResult> {
  const key = ledgerKey(hit.campaignId, hit.contactId);
  if (!key) return { recorded: false, classification: null };
  const at = hit.at ?? new Date();
  const row = await ledgerRow(db, key.campaignId, key.contactId);
  if (!row) return { recorded: false, classification: null };
  const classification = classifyEngagement({
    kind: hit.kind,
    method: hit.method,
    headers: hit.headers,
    at,
    deliveredAt: row.sentAt,
  });
  const type = engagementTypeCodes[hit.kind === 'open' ? 'opened' : 'clicked'];
  const automated = classification.automated;
  const where = and(
    eq(engagementEvents.campaignId, key.campaignId),
    eq(engagementEvents.contactId, key.contactId),
    eq(engagementEvents.type, type),
    eq(engagementEvents.automated, automated),
  );
  const recent = await db
    .select({ at: engagementEvents.at })
    .from(engagementEvents)
    .where(and(where, gte(engagementEvents.at, new Date(at.getTime() - ENGAGEMENT_DEDUP_SECONDS * 1000))))
    .limit(1);
  if (recent.length) return { recorded: false, classification };
  const first =
    !automated &&
    (await db.select({ at: engagementEvents.at }).from(engagementEvents).where(where).limit(1)).length === 0;
  await db
    .insert(engagementEvents)
    .values({ campaignId: key.campaignId, contactId: key.contactId, type, automated, at });
  if (first) {
    const details: Record<string, unknown> = {
      event: hit.kind === 'open' ? 'opened' : 'clicked',
      campaignId: key.campaignId,
    };
    if (hit.url) details.url = new URL(hit.url).origin + new URL(hit.url).pathname;
    await addActivity(
      db,
      kr,
      { type: 'anonymous', label: 'recipient' },
      { contactId: key.contactId, kind: 'mail', details, at },
    );
  }
  return { recorded: true, classification };
}

/** Insert one engagement event unless the same (campaign, contact, type) already has one. */
export async function recordOnce(
  db: Tx,
  campaignId: number,
  contactId: string,
  type: EngagementType,
  at = new Date(),
): Promise<boolean> {
  const code = engagementTypeCodes[type];
  const done = await db
    .select({ at: engagementEvents.at })
    .from(engagementEvents)
    .where(
      and(
        eq(engagementEvents.campaignId, campaignId),
        eq(engagementEvents.contactId, contactId),
        eq(engagementEvents.type, code),
      ),
    )
    .orderBy(desc(engagementEvents.at))
    .limit(1);
  if (done.length) return false;
  await db.insert(engagementEvents).values({ campaignId, contactId, type: code, automated: false, at });
  return true;
}

/**
 * Take the contact out of every campaign still to send it: rows queued or
 * deferred become 'suppressed' with the reason. Only campaigns that can still
 * send are touched, so the update goes through the ledger's primary key
 * (campaign, contact) instead of scanning it. Rows a worker holds ('sending')
 * are in flight; the engine checks suppressions when it claims.
 */
export async function suppressQueued(db: Tx, contactId: string, reason: string): Promise<number> {
  const done = await rows<{ campaign_id: number }>(
    db,
    sql`UPDATE campaign_recipients SET state = 'suppressed', last_response = ${reason}
         WHERE contact_id = ${contactId}
           AND state IN ('queued', 'deferred')
           AND campaign_id IN (SELECT id FROM campaigns WHERE state IN ('scheduled', 'sending', 'paused'))
        RETURNING campaign_id`,
  );
  return done.length;
}

export type OptOut = {
  campaignId: number | null;
  contactId: string;
  /** 'unsubscribed' (the person asked) or 'complained' (marked as spam). */
  reason: Extract<SuppressionReason, 'unsubscribed' | 'complained'>;
  /** Where it came from: one_click, unsubscribe_page, preference_page, complaint. */
  source: string;
  evidence?: Record<string, unknown>;
};

export type OptOutResult = { contactFound: boolean; consentChanged: boolean; ledgerRowsSuppressed: number };

/**
 * Unsubscribe (or complaint): effective immediately and idempotent. Order
 * matters: the suppression with the stronger reason is written first, because
 * `suppress` keeps the first reason an address got (setConsent suppresses with
 * 'unsubscribed' itself).
 */
export async function optOut(db: Tx, kr: Keyring, actor: Actor, o: OptOut): Promise<OptOutResult> {
  const result = await db.transaction((tx) => optOutTx(tx, kr, actor, o));
  await auditOptOut(db, actor, o, result);
  return result;
}

/** The audit entry of an opt-out (after the transaction: the audit lock is not held across it). */
export async function auditOptOut(db: Tx, actor: Actor, o: OptOut, result: OptOutResult): Promise<void> {
  if (!result.consentChanged && result.ledgerRowsSuppressed === 0) return;
  await appendAudit(db, actor, {
    action: o.reason === 'complained' ? 'contact.complained' : 'contact.unsubscribed',
    target: `contact:${o.contactId}`,
    details: {
      campaignId: o.campaignId,
      source: o.source,
      ledgerRowsSuppressed: result.ledgerRowsSuppressed,
    },
  });
}

/** The opt-out's writes, inside the caller's transaction. */
export async function optOutTx(tx: Tx, kr: Keyring, actor: Actor, o: OptOut): Promise<OptOutResult> {
  const row = await getContactRow(tx, o.contactId);
  // An erased contact's address is already suppressed ('erased'); only its ledger rows are left to stop.
  if (!row)
    return {
      contactFound: false,
      consentChanged: false,
      ledgerRowsSuppressed: await suppressQueued(tx, o.contactId, o.reason),
    };
  const contact = decodeContact(kr, row);
  await suppress(tx, kr, contact.email, o.reason);
  const current = (await currentConsents(tx, kr, o.contactId)).find((c) => c.purpose === MARKETING_PURPOSE);
  let consentChanged = false;
  if (current?.state !== 'unsubscribed') {
    await setConsent(tx, kr, actor, o.contactId, {
      purpose: MARKETING_PURPOSE,
      state: 'unsubscribed',
      source: o.source,
      evidence: {
        ip: actor.ip ?? null,
        userAgent: actor.userAgent ?? null,
        campaignId: o.campaignId,
        ...o.evidence,
      },
    });
    consentChanged = true;
  }
  const ledgerRowsSuppressed = await suppressQueued(tx, o.contactId, o.reason);
  if (o.campaignId != null)
    await recordOnce(
      tx,
      o.campaignId,
      o.contactId,
      o.reason === 'complained' ? 'complained' : 'unsubscribed',
    );
  return { contactFound: true, consentChanged, ledgerRowsSuppressed };
}
