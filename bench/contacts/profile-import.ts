// Development aid: CPU per imported row, split between this process and the
// PostgreSQL backend that runs the import's transactions (read from /proc).
//   node --import tsx bench/contacts/profile-import.ts [ROWS] [--rotate] [--inline] [--segments] [--batch N]
//   ROTATE_CONFIGS='[{"concurrency":2,"workers":0},{"concurrency":3}]' … --rotate: one rotation per configuration
// --inline: no import worker thread (MAILWARDEN_IMPORT_WORKERS=0 does the same).
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { systemActor } from '../../src/audit/service.ts';
import { createImport, runImport } from '../../src/contacts/import.ts';
import { createAttributeDef } from '../../src/contacts/service.ts';
import { type RunRotationOptions, runRotation, startFieldKeyRotation } from '../../src/contacts/rotation.ts';
import { Vault } from '../../src/contacts/vault.ts';
import { LocalKeyProvider } from '../../src/crypto/key-provider.ts';
import { openPostgres, rows } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { generateContactsCsv, MAPPING } from './data.ts';

const n = Number(process.argv[2] ?? 100_000);
// Checked before the import, which takes a while.
let rotateConfigs: RunRotationOptions[] = [];
try {
  rotateConfigs = JSON.parse(process.env.ROTATE_CONFIGS ?? '[{}]');
  if (!Array.isArray(rotateConfigs)) throw new Error('not a list');
} catch (e) {
  console.error(`ROTATE_CONFIGS must be a JSON list of rotation options, e.g. [{"concurrency":2,"workers":0}] (${(e as Error).message})`);
  process.exit(2);
}
const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ticks = (pid: number) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, ms (CLK_TCK 100)
  } catch {
    return 0; // the backend has gone (pool connection closed)
  }
};
/** CPU ms of each thread of this process (/proc/self/task), to see which one is the bottleneck. */
const threadTicks = () => {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      out.set(`${tid} ${name}`, (Number(f[11]) + Number(f[12])) * 10);
    } catch {
      // the thread has ended
    }
  }
  return out;
};
const file = await generateContactsCsv(n);
const admin = new pg.Client({ connectionString: PG_URL });
await admin.connect();
await admin.query('DROP DATABASE IF EXISTS mw_prof_contacts WITH (FORCE)');
await admin.query('CREATE DATABASE mw_prof_contacts');
const u = new URL(PG_URL);
u.pathname = '/mw_prof_contacts';
const db = await openPostgres(u.toString(), { max: 1 });
await migrate(db);
// Experiments: extra DDL after the migrations (e.g. dropping an index) to see what it costs.
if (process.env.PROFILE_SQL) await db.exec(process.env.PROFILE_SQL);
for (const [key, type, options] of [
  ['plan', 'enum', ['free', 'pro']],
  ['score', 'number'],
  ['city', 'text'],
  ['active', 'boolean'],
  ['signup', 'date'],
] as const)
  await createAttributeDef(db.db, { key, label: key, type, options: options ? [...options] : undefined, sensitive: false });
const vault = new Vault(db.db, new LocalKeyProvider(randomBytes(32)));
await vault.ready();
const [{ pid }] = await rows<{ pid: number }>(db.db, sql`SELECT pg_backend_pid() AS pid`);
const imp = await createImport(db.db, {
  filename: 'bench.csv',
  format: 'csv',
  options: { mapping: MAPPING, onDuplicate: 'skip', list: 'Bench' },
  createdBy: 'bench',
});
const c0 = process.cpuUsage();
const p0 = ticks(pid);
const th0 = threadTicks();
const th1 = new Map(th0);
// Sampled while the import runs (a thread's last sample counts): its worker thread is gone when runImport returns.
const sample = () => {
  for (const [t, ms] of threadTicks()) th1.set(t, ms);
};
const sampler = setInterval(sample, 100);
// --segments: per 100,000 rows, the rate, the backend's CPU, and what the server read, wrote and checkpointed meanwhile
// (pg_statio / pg_stat_bgwriter, through the admin connection): to see where a long import slows down.
// pg_statio is per database: a connection of its own to the profiled one.
const stats = new pg.Client({ connectionString: u.toString() });
await stats.connect();
const serverCounters = async () =>
  (
    await stats.query(
      `SELECT (SELECT sum(heap_blks_read + coalesce(idx_blks_read, 0))::bigint FROM pg_statio_all_tables) AS blks_read,
        buffers_backend, buffers_checkpoint, checkpoints_timed + checkpoints_req AS checkpoints FROM pg_stat_bgwriter`,
    )
  ).rows[0] as Record<string, string>;
let segment = { rows: 0, at: performance.now(), pg: p0, node: process.cpuUsage(), server: await serverCounters() };
const segmentRows = 100_000;
let segmentBusy = false;
const onProgress = process.argv.includes('--segments')
  ? (p: { rowsDone: number }) => {
      if (segmentBusy || p.rowsDone - segment.rows < segmentRows) return;
      segmentBusy = true;
      const now = { rows: p.rowsDone, at: performance.now(), pg: ticks(pid), node: process.cpuUsage() };
      void serverCounters().then((server) => {
        const rowsIn = now.rows - segment.rows;
        const nodeCpu = process.cpuUsage(segment.node);
        const d = (k: string) => Number(server[k]) - Number(segment.server[k]);
        console.log(
          `  ${now.rows} rows: ${Math.round(rowsIn / ((now.at - segment.at) / 1000))} rows/s, node ${((nodeCpu.user + nodeCpu.system) / rowsIn).toFixed(1)} µs, backend ${(((now.pg - segment.pg) * 1000) / rowsIn).toFixed(1)} µs per row; blocks read ${d('blks_read')}, written by backends ${d('buffers_backend')}, by checkpoints ${d('buffers_checkpoint')}, checkpoints ${d('checkpoints')}; load ${loadavg()[0].toFixed(1)}`,
        );
        segment = { ...now, node: process.cpuUsage(), server };
        segmentBusy = false;
      });
    }
  : undefined;
const t0 = performance.now();
await runImport(db.db, vault, systemActor('bench'), imp.id, createReadStream(file), {
  batchSize: process.argv.includes('--batch') ? Number(process.argv[process.argv.indexOf('--batch') + 1]) : 2000,
  worker: process.argv.includes('--inline') ? false : undefined,
  onProgress,
});
const secs = (performance.now() - t0) / 1000;
clearInterval(sampler);
sample();
const c = process.cpuUsage(c0);
const perThread = [...th1]
  .map(([t, ms]) => [t, ((ms - (th0.get(t) ?? 0)) * 1000) / n] as const)
  .filter(([, us]) => us >= 0.5)
  .sort((a, b) => b[1] - a[1])
  .map(([t, us]) => `${t.split(' ').slice(1).join(' ')} ${us.toFixed(1)}`);
const nodeUs = ((c.user + c.system) / n).toFixed(1);
const pgUs = (((ticks(pid) - p0) * 1000) / n).toFixed(1);
console.log(
  `${n} rows in ${secs.toFixed(1)} s = ${Math.round(n / secs)} rows/s; CPU per row: node ${nodeUs} µs (by thread: ${perThread.join(', ')}), postgres backend ${pgUs} µs; load ${loadavg()[0].toFixed(1)}`,
);
if (process.argv.includes('--rotate')) {
  // Rotation runs its loops on pooled connections: count every backend of this database. One rotation per
  // entry of ROTATE_CONFIGS (JSON list of runRotation options, e.g. [{"concurrency":2,"workers":0},{"concurrency":3}]).
  const backends = async () =>
    (await admin.query(`SELECT pid FROM pg_stat_activity WHERE datname = 'mw_prof_contacts'`)).rows.map((r) => r.pid as number);
  const busy = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
    return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
  };
  for (const cfg of rotateConfigs) {
    const loops = cfg.concurrency ?? 2;
    const rot = await openPostgres(u.toString(), { max: loops + 1 });
    const rv = new Vault(rot.db, vault.provider);
    const r = await startFieldKeyRotation(rot.db, rv, systemActor('bench'));
    await Promise.all(Array.from({ length: loops }, () => rows(rot.db, sql`SELECT 1`)));
    const pids = await backends();
    const before = new Map(pids.map((p) => [p, ticks(p)]));
    const s0 = busy();
    const r0 = process.cpuUsage();
    const t1 = performance.now();
    await runRotation(rot.db, rv, systemActor('bench'), r.id, { graceMs: 0, ...cfg });
    const rs = (performance.now() - t1) / 1000;
    const rc = process.cpuUsage(r0);
    const s1 = busy();
    let pgMs = 0;
    for (const [p, t] of before) pgMs += Math.max(0, ticks(p) - t);
    console.log(
      `rotation ${JSON.stringify(cfg)}: ${n} rows in ${rs.toFixed(1)} s = ${Math.round(n / rs)} rows/s; CPU per row: node ${((rc.user + rc.system) / n).toFixed(1)} µs, postgres backends ${((pgMs * 1000) / n).toFixed(1)} µs; machine ${(100 * (1 - (s1.idle - s0.idle) / (s1.total - s0.total))).toFixed(0)} % busy`,
    );
    await rot.close();
  }
}
await db.close();
await stats.end();
await admin.end();
