// One crash drill: real `mailwarden worker` processes send a launched campaign
// to a real SMTP sink; one of them is killed with SIGKILL part-way through;
// the survivors finish after its leases expire. The sink's Message-IDs are then
// compared with the ledger. Used by the crash test (PostgreSQL) and bench/send.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { type Db, rows } from '../../src/db/client.ts';
import { messageIdFor } from '../../src/delivery/compose.ts';
import { deliveryKeys } from '../../src/delivery/keys.ts';
import type { Sink } from './smtp-sink.ts';

const bin = fileURLToPath(new URL('../../bin/mailwarden.mjs', import.meta.url));

export type DrillResult = {
  recipients: number;
  received: number;
  lost: number;
  duplicated: number;
  /** Rows the killed worker held (state sending) when it died: the bound on duplicates. */
  inFlightAtKill: number;
  /** Rows marked sent whose message the sink never accepted (must be 0). */
  sentButNotAccepted: number;
  seconds: number;
};

export function startWorker(env: Record<string, string>): ChildProcess {
  // BENCH_WORKER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the workers.
  const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return spawn(process.execPath, [...nodeArgs, bin, 'worker'], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export async function crashDrill(o: {
  db: Db;
  databaseUrl: string;
  masterKey: Buffer;
  sink: Sink;
  campaignId: number;
  contactIds: string[];
  domain: string;
  workers?: number;
  /** Kill the first worker once this share of recipients reached the sink. */
  killAt?: number;
  env?: Record<string, string>;
  timeoutMs?: number;
}): Promise<DrillResult> {
  const start = Date.now();
  const before = o.sink.received.length;
  const env = {
    DATABASE_URL: o.databaseUrl,
    MAILWARDEN_MASTER_KEY: o.masterKey.toString('hex'),
    SMTP_URL: o.sink.url,
    PUBLIC_URL: 'https://mw.example',
    BOUNCE_DOMAIN: 'bounce.mw.example',
    DELIVERY_LEASE_SECONDS: '3',
    DELIVERY_BATCH_SIZE: '50',
    DELIVERY_CONCURRENCY: '4',
    ...o.env,
  };
  const procs = Array.from({ length: o.workers ?? 2 }, () => startWorker(env));
  const exited = procs.map((p) => new Promise<void>((r) => p.once('exit', () => r())));
  try {
    const killAt = Math.ceil(o.contactIds.length * (o.killAt ?? 0.3));
    const deadline = Date.now() + (o.timeoutMs ?? 120_000);
    while (o.sink.received.length - before < killAt) {
      if (Date.now() > deadline) throw new Error('workers did not start sending');
      await new Promise((r) => setTimeout(r, 5));
    }
    procs[0].kill('SIGKILL');
    await exited[0];
    const [{ n }] = await rows<{ n: number }>(
      o.db,
      sql`SELECT count(*)::int AS n FROM campaign_recipients WHERE campaign_id = ${o.campaignId} AND state = 'sending' AND worker LIKE ${`%:${procs[0].pid}:%`}`,
    );
    for (;;) {
      const [c] = await rows<{ state: string }>(
        o.db,
        sql`SELECT state FROM campaigns WHERE id = ${o.campaignId}`,
      );
      if (c.state === 'completed') break;
      if (Date.now() > deadline) throw new Error(`campaign not completed in time (state ${c.state})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const key = deliveryKeys(o.masterKey).messageIdKey;
    const expected = new Map(o.contactIds.map((id) => [messageIdFor(key, o.campaignId, id, o.domain), id]));
    const got = new Map<string, number>();
    for (const m of o.sink.received.slice(before)) got.set(m.messageId, (got.get(m.messageId) ?? 0) + 1);
    const sentRows = await rows<{ contact_id: string }>(
      o.db,
      sql`SELECT contact_id FROM campaign_recipients WHERE campaign_id = ${o.campaignId} AND state = 'sent'`,
    );
    const sentIds = new Set(sentRows.map((r) => r.contact_id));
    let lost = 0;
    let sentButNotAccepted = 0;
    for (const [mid, id] of expected) {
      if (!got.has(mid)) lost++;
      if (sentIds.has(id) && !got.has(mid)) sentButNotAccepted++;
    }
    const duplicated = [...got.values()].reduce((s, c) => s + (c - 1), 0);
    return {
      recipients: o.contactIds.length,
      received: o.sink.received.length - before,
      lost,
      duplicated,
      inFlightAtKill: Number(n),
      sentButNotAccepted,
      seconds: (Date.now() - start) / 1000,
    };
  } finally {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    await Promise.all(exited);
  }
}
