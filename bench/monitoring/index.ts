// Monitoring ingest bench: npm run bench -- monitoring [--duration 20] [--rate 20000] [--backends postgres,pglite] [--events N] [--dry]
// (--dry: print, do not write docs/benchmarks.md)
// For each backend, on a fresh migrated database:
//  1. anchors: raw batched INSERT (unnest, 5,000 rows) of the same events, and the raw storage path the
//     monitor uses (COPY on PostgreSQL, the same INSERT on PGlite), no detectors, no geo;
//  2. max: the real ingest path (geo, COPY/INSERT, all detectors, alert upserts) as fast as it goes;
//  3. sustained: an open-loop producer offering `rate` events/s in 100 ms batches for `duration` s,
//     with attacks mixed in; alert latency = batch offered → its alerts committed; persist latency =
//     batch offered → its events committed; achieved = events committed / time until the last commit.
// CPU per event (this process, and on PostgreSQL the server backends of the bench database) is printed
// too: unlike rates it hardly depends on what else runs on the machine.
// Writes the monitoring section of docs/benchmarks.md.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { type Database, openPglite, openPostgres } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { detectors as allDetectors } from '../../src/monitoring/detectors/index.ts';
import { enrich, Monitor } from '../../src/monitoring/engine.ts';
import { defaultConfig } from '../../src/monitoring/config.ts';
import type { MonitorEvent, StoredEvent } from '../../src/monitoring/events.ts';
import { writeEvents } from '../../src/monitoring/store.ts';
import { readFileSync } from 'node:fs';
import { percentile, writeBenchSection } from '../lib/report.ts';

type Backend = 'postgres' | 'pglite';
const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const DURATION = Number(opt('duration', '20'));
const RATE = Number(opt('rate', '20000'));
/** Events for the anchor and maximum runs (default 200,000 on PostgreSQL, 100,000 on PGlite); a multiple of 5,000. */
const EVENTS = Number(opt('events', '0'));
const BACKENDS = opt('backends', 'postgres,pglite').split(',') as Backend[];
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const log = (...a: unknown[]) => console.log(...a);
const detectorsCount = allDetectors.length;

// A pool of public IPs from a few countries so geo lookups are real.
const IPS = [
  '81.2.69.160',
  '85.214.132.117',
  '177.67.80.1',
  '1.128.0.1',
  '5.9.0.1',
  '8.8.8.8',
  '200.147.67.142',
  '62.210.16.1',
  '151.101.1.1',
  '104.16.0.1',
];
const UAS = [
  'Mozilla/5.0 (Windows NT 10.0) Chrome/126.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0',
];
let seq = 0;
function ev(type: string, extra: Partial<MonitorEvent>): MonitorEvent {
  return {
    at: new Date(),
    type,
    source: 'bench',
    actorType: 'user',
    actorId: null,
    actor: null,
    target: null,
    outcome: 'success',
    ip: null,
    userAgent: null,
    country: null,
    city: null,
    lat: null,
    lon: null,
    asn: null,
    size: null,
    count: null,
    details: {},
    ...extra,
  };
}
/** Mostly benign traffic; every 200th batch carries a burst of password guessing against a fresh account. */
function batch(n: number, attack: boolean): MonitorEvent[] {
  const out: MonitorEvent[] = [];
  for (let i = 0; i < n; i++) {
    const k = seq++;
    const user = `u${k % 5000}@bench.test`;
    const ip = IPS[(k % 5000) % IPS.length];
    const r = k % 20;
    if (r < 3) out.push(ev('auth.login.success', { actor: user, ip, userAgent: UAS[(k % 5000) % 3] }));
    else if (r === 3) out.push(ev('auth.login.failure', { actor: user, ip, outcome: 'failure' }));
    else if (r === 4) out.push(ev('data.export', { actor: user, count: 50 + (k % 100) }));
    else
      out.push(
        ev('mail.sent', {
          actor: `s${k % 400}@bench.test`,
          actorType: 'sender',
          target: `c${k % 100_000}@customers.example`,
          size: 5_000 + ((k * 7919) % 150_000),
          count: 1,
        }),
      );
  }
  if (attack) {
    const victim = `victim${seq}@bench.test`;
    for (let i = 0; i < 25; i++)
      out.push(ev('auth.login.failure', { actor: victim, ip: '203.0.113.50', outcome: 'failure' }));
  }
  return out;
}

async function openBackend(b: Backend): Promise<{ db: Database; drop: () => Promise<void> }> {
  if (b === 'pglite') {
    const db = await openPglite(undefined);
    await migrate(db);
    return { db, drop: () => db.close() };
  }
  const name = `mw_bench_mon_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  const db = await openPostgres(u.toString(), { max: 4 });
  await migrate(db);
  return {
    db,
    async drop() {
      await db.close();
      const a = new pg.Client({ connectionString: PG_ADMIN_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

type Run = {
  offered: number;
  achieved: number;
  p50: number;
  p99: number;
  max: number;
  persistP99: number;
  persistMax: number;
  alerts: number;
  nodeUs: number;
  pgUs: number | null;
};
type Result = {
  backend: Backend;
  rawInsert: number;
  rawWrite: number;
  maxRate: number;
  detectOnly: number;
  runs: Run[];
};

/**
 * CPU seconds the server backends of this database use from now on (PostgreSQL on this machine, read
 * from /proc). Sampled every 500 ms so backends the pool opens or closes meanwhile are counted too.
 */
function serverCpu(db: Database): { stop: () => Promise<number> } {
  if (db.kind !== 'postgres') return { stop: async () => 0 };
  const tick = 100; // USER_HZ
  const cpuOf = (pid: number) => {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(f[11]) + Number(f[12])) / tick;
    } catch {
      return null;
    }
  };
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  let started = false;
  const sample = async () => {
    const pids = (
      await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()')
    ).map((r) => r.pid);
    for (const pid of pids) {
      const c = cpuOf(pid);
      if (c == null) continue;
      // A backend first seen after the start began during the run: its whole CPU time counts.
      if (!first.has(pid)) first.set(pid, started ? 0 : c);
      last.set(pid, c);
    }
    started = true;
  };
  const ready = sample();
  const timer = setInterval(() => void sample().catch(() => undefined), 500);
  return {
    async stop() {
      clearInterval(timer);
      await ready;
      await sample();
      let sum = 0;
      for (const [pid, c] of last) sum += c - (first.get(pid) ?? c);
      return sum;
    },
  };
}

async function sustained(b: Backend, rate: number): Promise<Run> {
  const { db, drop } = await openBackend(b);
  const monitor = new Monitor(db, { prune: false });
  await monitor.ready;
  const tickMs = 100;
  const perTick = Math.round((rate * tickMs) / 1000);
  const lat: number[] = [];
  const persist: number[] = [];
  let events = 0;
  const inflight: Promise<void>[] = [];
  const cpu0 = process.cpuUsage();
  const pgCpu = serverCpu(db);
  const start = performance.now();
  for (let tick = 0; performance.now() - start < DURATION * 1000; tick++) {
    const wait = start + tick * tickMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const part = batch(perTick, tick % 10 === 5);
    const offered = performance.now();
    events += part.length;
    inflight.push(
      monitor
        .ingest(part, { onAlerts: () => void lat.push(performance.now() - offered) })
        .then(() => void persist.push(performance.now() - offered)),
    );
  }
  const ticks = inflight.length;
  await Promise.all(inflight);
  // The offer lasts `ticks` × 100 ms even when the last batch commits sooner after its tick.
  const elapsed = Math.max(performance.now() - start, ticks * tickMs) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const pgSec = await pgCpu.stop();
  await monitor.stop();
  const [{ n }] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM monitoring_alerts');
  const [{ stored }] = await db.query<{ stored: number }>(
    'SELECT count(*)::int AS stored FROM security_events',
  );
  await drop();
  if (stored !== events) throw new Error(`${events} events offered, ${stored} stored`);
  lat.sort((a, c) => a - c);
  persist.sort((a, c) => a - c);
  const run: Run = {
    offered: rate,
    achieved: events / elapsed,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    max: lat[lat.length - 1],
    persistP99: percentile(persist, 99),
    persistMax: persist[persist.length - 1],
    alerts: n,
    nodeUs: (cpu.user + cpu.system) / events,
    pgUs: b === 'postgres' ? (pgSec * 1e6) / events : null,
  };
  log(
    `${b}: sustained offered ${rate}/s achieved ${run.achieved.toFixed(0)}/s, alert latency p50 ${run.p50.toFixed(0)} ms p99 ${run.p99.toFixed(0)} ms max ${run.max.toFixed(0)} ms; ` +
      `persist p99 ${run.persistP99.toFixed(0)} ms max ${run.persistMax.toFixed(0)} ms; ${n} alerts; CPU/event node ${run.nodeUs.toFixed(1)} µs` +
      (run.pgUs == null ? '' : `, server ${run.pgUs.toFixed(1)} µs`) +
      `; load ${os.loadavg()[0].toFixed(1)}`,
  );
  return run;
}

async function rawRate(
  b: Backend,
  N: number,
  write: (db: Database, part: StoredEvent[]) => Promise<unknown>,
  label: string,
): Promise<number> {
  const { db, drop } = await openBackend(b);
  const raw = Array.from({ length: N / 5000 }, () => batch(5000, false));
  let id = 0;
  const parts = raw.map((p) => p.map((e) => ({ ...e, id: ++id })));
  await db.query(`SELECT setval('security_events_id_seq', $1)`, [id]);
  const t0 = performance.now();
  for (const part of parts) await write(db, part);
  const rate = N / ((performance.now() - t0) / 1000);
  log(`${b}: raw ${label} ${rate.toFixed(0)} events/s`);
  await drop();
  return rate;
}

async function runBackend(b: Backend): Promise<Result> {
  const N = EVENTS || (b === 'pglite' ? 100_000 : 200_000);
  // 1. anchors: raw batched INSERT, and the monitor's own storage path (COPY on PostgreSQL)
  const rawInsert = await rawRate(b, N, (db, part) => writeEvents(db, part, 'insert'), 'INSERT … unnest');
  const rawWrite =
    b === 'postgres' ? await rawRate(b, N, (db, part) => writeEvents(db, part, 'copy'), 'COPY') : rawInsert;

  // 1b. detectors alone (in memory, no database): what the JavaScript side costs
  const cfg = defaultConfig();
  const states = allDetectors.map((d) => ({
    d,
    s: d.create(),
    ctx: {
      params: cfg.detectors[d.id].params,
      severity: d.severity,
      workingHours: cfg.workingHours,
      emit: () => undefined,
    },
  }));
  const mem = Array.from({ length: N / 5000 }, (_, i) => batch(5000, i % 4 === 0));
  let id = 0;
  let t0 = performance.now();
  for (const part of mem)
    for (const e of part) {
      const se = enrich(e) as StoredEvent;
      se.id = ++id;
      for (const x of states) if (x.d.types.includes(se.type)) x.s.observe(se, x.ctx);
    }
  const detectOnlyRate = N / ((performance.now() - t0) / 1000);
  log(`${b}: geo + detectors only ${detectOnlyRate.toFixed(0)} events/s`);

  // 2. max through the whole ingest path
  const { db, drop } = await openBackend(b);
  const monitor = new Monitor(db, { prune: false });
  await monitor.ready;
  const full = Array.from({ length: N / 5000 }, (_, i) => batch(5000, i % 4 === 0));
  t0 = performance.now();
  // Up to three batches in flight: the next batch's detectors run while the previous one is on the server.
  const window: Promise<unknown>[] = [];
  for (const part of full) {
    window.push(monitor.ingest(part));
    if (window.length >= 3) await window.shift();
  }
  await Promise.all(window);
  const maxRate = N / ((performance.now() - t0) / 1000);
  log(`${b}: full ingest ${maxRate.toFixed(0)} events/s`);
  await monitor.stop();
  await drop();

  // 3. sustained open loop at RATE, then at 80 % of the measured maximum
  const atGoal = await sustained(b, RATE);
  const atCapacity = await sustained(b, Math.max(1000, Math.round((maxRate * 0.8) / 1000) * 1000));
  return { backend: b, rawInsert, rawWrite, maxRate, detectOnly: detectOnlyRate, runs: [atGoal, atCapacity] };
}

const loadBefore = os.loadavg();
const results: Result[] = [];
for (const b of BACKENDS) results.push(await runBackend(b));

const f = (x: number) => Math.round(x).toLocaleString('en-US');
const ms = (x: number) => `${f(x)} ms`;
const loadAfter = os.loadavg();
const pgRes = results.find((r) => r.backend === 'postgres');
const pgGoal = pgRes?.runs[0];
const verdict = !pgGoal
  ? 'PostgreSQL not measured in this run'
  : pgGoal.achieved >= 0.98 * RATE && pgGoal.p99 < 1000
    ? `**met** in this run (${f(pgGoal.achieved)} events/s committed, alert p99 ${ms(pgGoal.p99)}, events committed p99 ${ms(pgGoal.persistP99)})`
    : `**not met** in this run: ${f(pgGoal.achieved)} events/s committed with alert p99 ${ms(pgGoal.p99)} (the second row is the rate at 80 % of the measured maximum)`;
const md = `## Monitoring ingest (events → detectors → alerts)

Real ingest path (\`Monitor.ingest\`: offline geo lookup; events stored by \`COPY … FROM STDIN\` on PostgreSQL (two connections per batch), one \`INSERT … SELECT FROM unnest\` per 5,000 on PGlite; all ${detectorsCount} detectors over in-memory sliding windows, run while the batch is on its way to the server; grouped alert upserts in ≤ 2 statements per batch, written as soon as the detectors have run, without waiting for the events' commit). Traffic: sign-ins (15 %), failures (5 %), exports (5 %), sends (75 %) from 5,000 users / 400 senders over 10 public IPs; 25-failure password-guessing bursts mixed in so alerts are raised and grouped during the run.

| backend | anchor: raw INSERT … unnest, events/s | raw COPY, events/s | full ingest, max events/s | ratio full / INSERT anchor | geo + detectors alone (no DB), events/s |
| --- | --- | --- | --- | --- | --- |
${results.map((r) => `| ${r.backend} | ${f(r.rawInsert)} | ${r.backend === 'postgres' ? f(r.rawWrite) : '—'} | ${f(r.maxRate)} | ${(r.maxRate / r.rawInsert).toFixed(2)} | ${f(r.detectOnly)} |`).join('\n')}

| backend | sustained: offered → committed events/s | event→alert latency p50 / p99 / max | events committed p99 / max | alerts in run | CPU per event: bench process / PostgreSQL server |
| --- | --- | --- | --- | --- | --- |
${results.flatMap((r) => r.runs.map((x) => `| ${r.backend} | ${f(x.offered)} → ${f(x.achieved)} | ${f(x.p50)} / ${f(x.p99)} / ${ms(x.max)} | ${f(x.persistP99)} / ${ms(x.persistMax)} | ${x.alerts} | ${x.nodeUs.toFixed(1)} µs / ${x.pgUs == null ? '(in process)' : `${x.pgUs.toFixed(1)} µs`} |`)).join('\n')}

Load average (1 / 5 / 15 min) at the start: ${loadBefore.map((x) => x.toFixed(1)).join(' / ')}, at the end: ${loadAfter.map((x) => x.toFixed(1)).join(' / ')} (other work shares this 2-core machine; the CPU per event does not depend on it, the rates and latencies do).

Before this design (events by \`INSERT … unnest\`, alerts written only after the batch's events were committed), measured 2026-11-24 at load 6.0 / 8.7 / 10.1: PostgreSQL 20,000 offered → 19,011 events/s with event→alert p99 3,987 ms; 14,000 → 14,003 with p99 934 ms.

Goal: ≥ 20,000 events/s sustained into PostgreSQL with event→alert p99 < 1 s — ${verdict}. Latencies are measured per 100 ms batch from the moment it is offered: *event→alert* until its alerts are committed, *events committed* until its events are (an upper bound for every event in the batch). *Committed events/s* counts every offered event (checked against the table) over the offer's duration or, when longer, the time until the last commit. Sustained runs: ${DURATION} s open loop each. Single runs on a machine shared with other work: rates and latencies vary from run to run, the CPU per event much less.

Reproduce: \`npm run bench -- monitoring\` (options \`--duration 20 --rate 20000 --backends postgres,pglite\`; PostgreSQL from \`BENCH_PG_URL\`, default \`postgres://postgres@127.0.0.1:5432/test\`).`;
if (!argv.includes('--dry')) writeBenchSection('monitoring', md);
log(
  `load average ${loadBefore.map((x) => x.toFixed(1)).join(' / ')} → ${loadAfter.map((x) => x.toFixed(1)).join(' / ')}`,
);
log('wrote docs/benchmarks.md (monitoring section)');
