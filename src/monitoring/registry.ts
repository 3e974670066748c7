// One monitor per open database, and the hook that turns mailwarden's own
// audit entries into security events.
//
// Why an audit listener: every security-relevant action in mailwarden is
// already audited (sign-ins, lockouts, 2FA, exports, role and settings
// changes), so one listener on the audit append sees all of them without
// touching each call site, and new audited actions only need a line in
// `eventFromAudit`.
import type PgBoss from 'pg-boss';
import { auditListeners } from '../audit/service.ts';
import type { Logger } from '../config/logger.ts';
import type { Database, Db, Tx } from '../db/client.ts';
import { loadConfig } from './config.ts';
import { enrich, Monitor } from './engine.ts';
import { eventFromAudit } from './events.ts';
import { configureWebhookJob } from './notify.ts';
import { securityEvents } from './schema.ts';

const monitors = new Map<Db, Monitor>();

export function monitorFor(database: Database, opts: ConstructorParameters<typeof Monitor>[1] = {}): Monitor {
  let m = monitors.get(database.db);
  if (!m || m.stopped) {
    m = new Monitor(database, opts);
    monitors.set(database.db, m);
  }
  return m;
}

export async function stopMonitor(database: Database): Promise<void> {
  const m = monitors.get(database.db);
  if (!m) return;
  await m.stop();
  monitors.delete(database.db);
}

/** Give the monitor the job engine (webhook sends) and the webhook job its database. */
export function attachMonitoringJobs(database: Database, boss: PgBoss, logger?: Logger) {
  configureWebhookJob(database, () => loadConfig(database.db));
  const m = monitors.get(database.db) ?? monitorFor(database, { logger });
  m.boss = boss;
}

async function onAudit(db: Tx, entry: Parameters<(typeof auditListeners)[number]>[1]) {
  const e = eventFromAudit(entry);
  if (!e) return;
  // Inside a transaction the handle differs from the database's: with one monitor in the process it is that one.
  const m = monitors.get(db as Db) ?? (monitors.size === 1 ? [...monitors.values()][0] : undefined);
  if (m && !m.stopped) {
    m.enqueue(e);
    return;
  }
  // No monitor in this process (CLI commands): store the event (seen = false); the detector lease holder reads it back.
  await db.insert(securityEvents).values(enrich(e));
}

if (!auditListeners.includes(onAudit)) auditListeners.push(onAudit);
