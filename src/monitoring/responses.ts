// Responses to an alert, automatic (opt-in per detector) or by a person.
// Each one is audited and can be reverted from the alert: what is needed to
// undo it is stored with it.
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import { appendAudit, type Actor } from '../audit/service.ts';
import { revokeApiKey } from '../auth/api-keys.ts';
import { apiKeys, authThrottle, recoveryCodes, sessions, users } from '../auth/schema.ts';
import { accountKey, clearThrottle } from '../auth/throttle.ts';
import type { Tx } from '../db/client.ts';
import { conflict, Problem } from '../http/problem.ts';
import { alertResponses, type monitoringAlerts, type ResponseAction } from './schema.ts';

type AlertLike = Pick<typeof monitoringAlerts.$inferSelect, 'id' | 'detector' | 'entityType' | 'entity' | 'details'>;
export type ResponseRow = typeof alertResponses.$inferSelect;

/** How long an automatic lock holds (an administrator can unlock, or revert it from the alert). */
export const LOCK_HOURS = 24;

/**
 * Campaigns do not exist yet: the campaigns domain replaces this hook with one
 * that pauses the user's running campaigns and returns their ids. No-op for now.
 */
export let pauseUserCampaignsHook: (db: Tx, userEmail: string) => Promise<{ paused: number[] }> = async () => ({ paused: [] });
export let resumeUserCampaignsHook: (db: Tx, campaignIds: number[]) => Promise<void> = async () => undefined;
export function setCampaignHooks(pause: typeof pauseUserCampaignsHook, resume: typeof resumeUserCampaignsHook) {
  pauseUserCampaignsHook = pause;
  resumeUserCampaignsHook = resume;
}

const actorFor = (by: string): Actor => (by.startsWith('detector:') ? { type: 'system', label: `monitoring:${by.slice(9)}` } : { type: 'user', label: by });

async function userOf(db: Tx, alert: AlertLike) {
  if (alert.entityType !== 'user') throw new Problem(422, 'not_applicable', 'This response needs an alert about a user.');
  const [u] = await db.select().from(users).where(sql`lower(${users.email}) = ${alert.entity.toLowerCase()}`);
  return u ?? null;
}

export async function applyResponse(db: Tx, alert: AlertLike, action: ResponseAction, opts: { by: string; automatic?: boolean; actor?: Actor }): Promise<ResponseRow> {
  let target = alert.entity;
  let undo: Record<string, unknown> = {};
  let state: ResponseRow['state'] = 'applied';
  let result = '';
  switch (action) {
    case 'lock_account': {
      const key = accountKey(alert.entity);
      const [prev] = await db.select().from(authThrottle).where(eq(authThrottle.key, key));
      const until = new Date(Date.now() + LOCK_HOURS * 3_600_000);
      await db
        .insert(authThrottle)
        .values({ key, failures: prev?.failures ?? 0, lockedUntil: until })
        .onConflictDoUpdate({ target: authThrottle.key, set: { lockedUntil: until } });
      undo = { key, hadRow: !!prev, previousLockedUntil: prev?.lockedUntil?.toISOString() ?? null };
      result = `sign-in locked until ${until.toISOString()}`;
      break;
    }
    case 'revoke_sessions': {
      const u = await userOf(db, alert);
      if (!u) {
        state = 'noop';
        result = 'no such mailwarden user';
        break;
      }
      const r = await db.update(sessions).set({ revokedAt: new Date() }).where(and(eq(sessions.userId, u.id), isNull(sessions.revokedAt))).returning({ id: sessions.id });
      undo = { userId: u.id, sessionIds: r.map((x) => x.id) };
      result = `${r.length} session(s) revoked`;
      break;
    }
    case 'revoke_api_key': {
      const id = Number(alert.details.keyId);
      if (!Number.isInteger(id) || id <= 0) {
        state = 'noop';
        result = 'the alert names no API key';
        break;
      }
      const [before] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
      const key = before && !before.revokedAt ? await revokeApiKey(db, id) : null;
      target = before ? `${before.name} (${before.prefix})` : `key ${id}`;
      undo = { keyId: id, wasRevoked: !!before?.revokedAt };
      state = key ? 'applied' : 'noop';
      result = key ? 'API key revoked' : 'key already revoked or unknown';
      break;
    }
    case 'pause_campaigns': {
      const { paused } = await pauseUserCampaignsHook(db, alert.entity);
      undo = { campaignIds: paused };
      state = paused.length ? 'applied' : 'noop';
      result = paused.length ? `${paused.length} campaign(s) paused` : 'no running campaigns (campaigns are not built yet)';
      break;
    }
    case 'require_2fa_reenrol': {
      const u = await userOf(db, alert);
      if (!u) {
        state = 'noop';
        result = 'no such mailwarden user';
        break;
      }
      const codes = await db.select({ codeHash: recoveryCodes.codeHash, usedAt: recoveryCodes.usedAt }).from(recoveryCodes).where(eq(recoveryCodes.userId, u.id));
      // The sealed secret is kept (still sealed) with the response so reverting restores the user's authenticator.
      undo = {
        userId: u.id,
        totpEnabled: u.totpEnabled,
        totpSecret: u.totpSecret ? u.totpSecret.toString('base64') : null,
        totpLastStep: u.totpLastStep,
        mustEnrol2fa: u.mustEnrol2fa,
        recoveryCodes: codes.map((c) => ({ codeHash: c.codeHash, usedAt: c.usedAt?.toISOString() ?? null })),
      };
      await db.update(users).set({ totpEnabled: false, totpSecret: null, totpPendingSecret: null, totpLastStep: null, mustEnrol2fa: true, updatedAt: new Date() }).where(eq(users.id, u.id));
      await db.delete(recoveryCodes).where(eq(recoveryCodes.userId, u.id));
      const r = await db.update(sessions).set({ revokedAt: new Date() }).where(and(eq(sessions.userId, u.id), isNull(sessions.revokedAt))).returning({ id: sessions.id });
      undo.sessionIds = r.map((x) => x.id);
      result = `second factor reset, must re-enrol; ${r.length} session(s) revoked`;
      break;
    }
  }
  const [row] = await db.insert(alertResponses).values({ alertId: alert.id, action, target, automatic: opts.automatic ? 1 : 0, state, undo, result, appliedBy: opts.by }).returning();
  await appendAudit(db, opts.actor ?? actorFor(opts.by), {
    action: 'monitoring.response_applied',
    target,
    details: { alertId: alert.id, detector: alert.detector, response: action, responseId: row.id, automatic: !!opts.automatic, state, result },
  });
  return row;
}

export async function revertResponse(db: Tx, responseId: number, by: string, actor?: Actor): Promise<ResponseRow> {
  const [r] = await db.select().from(alertResponses).where(eq(alertResponses.id, responseId));
  if (!r) throw new Problem(404, 'not_found', 'Response not found.');
  if (r.state !== 'applied') throw conflict('not_revertible', `This response is ${r.state}; only applied responses can be reverted.`);
  const u = r.undo as Record<string, any>;
  switch (r.action) {
    case 'lock_account':
      if (u.hadRow && u.previousLockedUntil) await db.update(authThrottle).set({ lockedUntil: new Date(u.previousLockedUntil) }).where(eq(authThrottle.key, u.key));
      else await clearThrottle(db, u.key);
      break;
    case 'revoke_sessions':
      if (u.sessionIds?.length) await db.update(sessions).set({ revokedAt: null }).where(inArray(sessions.id, u.sessionIds));
      break;
    case 'revoke_api_key':
      if (!u.wasRevoked) await db.update(apiKeys).set({ revokedAt: null }).where(eq(apiKeys.id, u.keyId));
      break;
    case 'pause_campaigns':
      await resumeUserCampaignsHook(db, u.campaignIds ?? []);
      break;
    case 'require_2fa_reenrol':
      await db
        .update(users)
        .set({ totpEnabled: u.totpEnabled, totpSecret: u.totpSecret ? Buffer.from(u.totpSecret, 'base64') : null, totpLastStep: u.totpLastStep, mustEnrol2fa: u.mustEnrol2fa, updatedAt: new Date() })
        .where(eq(users.id, u.userId));
      if (u.recoveryCodes?.length)
        await db.insert(recoveryCodes).values(u.recoveryCodes.map((c: { codeHash: string; usedAt: string | null }) => ({ userId: u.userId, codeHash: c.codeHash, usedAt: c.usedAt ? new Date(c.usedAt) : null })));
      if (u.sessionIds?.length) await db.update(sessions).set({ revokedAt: null }).where(inArray(sessions.id, u.sessionIds));
      break;
  }
  const [row] = await db.update(alertResponses).set({ state: 'reverted', revertedBy: by, revertedAt: new Date(), undo: {} }).where(eq(alertResponses.id, responseId)).returning();
  await appendAudit(db, actor ?? actorFor(by), {
    action: 'monitoring.response_reverted',
    target: r.target,
    details: { alertId: r.alertId, response: r.action, responseId },
  });
  return row;
}
