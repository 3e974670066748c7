// HTTP bench: sign-in throughput and latency, and authenticated GET /api/me at a
// fixed rate, through the real server (`serve()`, in a child process, over TCP),
// on PGlite and on PostgreSQL. Anchors measured in the same run: GET /healthz (no
// database, no auth) at the same fixed rate and at maximum throughput, and
// Argon2id alone (hash and verify, sequential and saturated).
//
//   npm run bench -- http [--duration 30] [--backends pglite,postgres] [--rate 200] [--signin-rate 10]
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { hashPassword, verifyPassword } from '../../src/auth/passwords.ts';
import { percentile, writeBenchSection } from '../lib/report.ts';
import { closedLoop, p, paced, type Run, type Target } from './load.ts';

type Backend = 'pglite' | 'postgres';

/** 1-minute load averages sampled after each scenario (the machine may be shared). */
const loads: number[] = [];

function parseArgs(argv: string[]) {
  const opts = { duration: 30, backends: ['pglite', 'postgres'] as Backend[], rate: 200, signinRate: 10 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--duration') opts.duration = Number(value());
    else if (flag === '--backends') opts.backends = value().split(',').map((b) => b.trim()) as Backend[];
    else if (flag === '--rate') opts.rate = Number(value());
    else if (flag === '--signin-rate') opts.signinRate = Number(value());
    else throw new Error(`unknown option ${argv[i]} (use --duration N --backends pglite,postgres --rate N --signin-rate N)`);
  }
  if (!(opts.duration > 0) || !(opts.rate > 0) || !(opts.signinRate > 0)) throw new Error('--duration, --rate and --signin-rate must be positive numbers');
  for (const b of opts.backends) if (b !== 'pglite' && b !== 'postgres') throw new Error(`unknown backend ${b} (pglite or postgres)`);
  return opts;
}

const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const BENCH_DB = 'mw_bench_http';
const EMAIL = 'bench-owner@example.com';
const PASSWORD = 'correct horse battery staple 42';
const CLOSED_LOOP_CONNECTIONS = 16;
const SIGNIN_CONNECTIONS = 8;
const ONE_ADDRESS_REQUESTS = 100;

/** One table row. */
type Row = {
  backend: string;
  scenario: string;
  rate: string;
  rps: number;
  requests: number;
  p50: number;
  p99: number;
  max: number;
  problems: string;
  ratio: string;
};

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const ms = (n: number) => (!Number.isFinite(n) ? '—' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));

function problems(run: Run): string {
  const parts = Object.entries(run.nonOk).map(([status, n]) => `${n}×${status}`);
  if (run.errors) parts.push(`${run.errors} errors`);
  return parts.length ? parts.join(', ') : '0';
}

function rowOf(backend: string, scenario: string, rate: string, run: Run, ratio: string): Row {
  return {
    backend,
    scenario,
    rate,
    rps: run.rps,
    requests: run.responses + run.errors,
    p50: p(run, 50),
    p99: p(run, 99),
    max: run.latencies.at(-1) ?? Number.NaN,
    problems: problems(run),
    ratio,
  };
}

// ---------- Argon2id alone (the anchor for sign-in) ----------

type Argon = { hash: number[]; verify: number[]; saturatedRps: number; saturatedN: number; inFlight: number };

async function measureArgon2(saturateSec: number, inFlight: number): Promise<Argon> {
  const timed = async (fn: () => Promise<unknown>, n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await fn();
      out.push(performance.now() - t);
    }
    return out.sort((a, b) => a - b);
  };
  const stored = await hashPassword(PASSWORD);
  await timed(() => verifyPassword(stored, PASSWORD), 3); // warm-up
  const hash = await timed(() => hashPassword(PASSWORD), 30);
  const verify = await timed(() => verifyPassword(stored, PASSWORD), 30);
  // Saturated: `inFlight` verifications always pending, like the server under closed-loop sign-in.
  let done = 0;
  const t0 = performance.now();
  const end = t0 + saturateSec * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        await verifyPassword(stored, PASSWORD);
        done++;
      }
    }),
  );
  return { hash, verify, saturatedRps: done / ((performance.now() - t0) / 1000), saturatedN: done, inFlight };
}

// ---------- One server per backend ----------

type Server = { url: string; child: ChildProcess; cleanup: () => Promise<void> };

async function startServer(backend: Backend): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mw-bench-http-'));
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    MAILWARDEN_DATA_DIR: dataDir,
    MAILWARDEN_MASTER_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    NODE_ENV: 'production',
    // As behind a reverse proxy: the client address comes from X-Forwarded-For, which
    // lets the sign-in bench present many distinct clients (see the notes).
    TRUST_PROXY: 'true',
  };
  let dbUrl: string | undefined;
  if (backend === 'postgres') {
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${BENCH_DB}`);
    } finally {
      await admin.end();
    }
    const u = new URL(PG_ADMIN_URL);
    u.pathname = `/${BENCH_DB}`;
    dbUrl = u.toString();
    env.DATABASE_URL = dbUrl;
  }
  const cleanup = async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (dbUrl) {
      const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    }
  };
  const child = fork(new URL('./server.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, MW_BENCH_ENV: JSON.stringify(env) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${backend} server did not start within 120 s`)), 120_000);
      child.once('message', (m: { type: string; url?: string; message?: string }) => {
        clearTimeout(timer);
        if (m.type === 'ready' && m.url) resolve(m.url);
        else reject(new Error(`${backend} server failed: ${m.message}`));
      });
      child.once('exit', (code) => reject(new Error(`${backend} server exited with ${code}`)));
    });
    return { url, child, cleanup };
  } catch (err) {
    child.kill();
    await cleanup();
    throw err;
  }
}

async function stopServer(server: Server) {
  const exited = new Promise<void>((resolve) => {
    if (server.child.exitCode !== null) return resolve();
    server.child.once('exit', () => resolve());
  });
  server.child.send('close');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
  await server.cleanup();
}

/** Distinct client addresses for X-Forwarded-For: 10.0.0.1, 10.0.0.2, … */
function addresses() {
  let k = 0;
  return () => {
    k++;
    return { 'x-forwarded-for': `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}` };
  };
}

async function prepare(url: string): Promise<string> {
  // The first owner, through the setup route (Argon2id hash, audit, …).
  const setup = await fetch(`${url}/api/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': '192.0.2.1' },
    body: JSON.stringify({ email: EMAIL, name: 'Bench Owner', password: PASSWORD }),
  });
  if (setup.status !== 200) throw new Error(`setup failed: ${setup.status} ${await setup.text()}`);
  const login = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': '192.0.2.2' },
    body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
  });
  const body = (await login.json()) as { status?: string };
  if (login.status !== 200 || body.status !== 'ok') throw new Error(`login failed: ${login.status} ${JSON.stringify(body)}`);
  const session = login.headers.getSetCookie().find((c) => c.startsWith('mw_session='));
  if (!session) throw new Error('login set no mw_session cookie');
  const cookie = session.split(';')[0];
  const me = await fetch(`${url}/api/me`, { headers: { cookie } });
  if (me.status !== 200) throw new Error(`GET /api/me failed: ${me.status}`);
  return cookie;
}

async function benchBackend(backend: Backend, opts: ReturnType<typeof parseArgs>, argon: Argon, log: (s: string) => void): Promise<Row[]> {
  const started = performance.now();
  const server = await startServer(backend);
  log(`${backend}: server up at ${server.url} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const rows: Row[] = [];
  try {
    const cookie = await prepare(server.url);
    const short = Math.max(3, Math.round(opts.duration / 3));
    const healthz: Target = { url: server.url, path: '/healthz' };
    const me: Target = { url: server.url, path: '/api/me', headers: { cookie } };
    const signin: Target = {
      url: server.url,
      method: 'POST',
      path: '/api/auth/login',
      body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
      headersFor: addresses(),
    };

    // Warm-up (JIT, connection pools, caches); not reported.
    await closedLoop(healthz, CLOSED_LOOP_CONNECTIONS, 2);
    await closedLoop(me, CLOSED_LOOP_CONNECTIONS, 2);
    await closedLoop(signin, 2, 2);

    const run = async (label: string, f: () => Promise<Run>) => {
      const t = performance.now();
      const r = await f();
      const load = os.loadavg()[0];
      loads.push(load);
      log(
        `${backend}: ${label}: ${fmt(r.rps)} req/s, p50 ${ms(p(r, 50))} ms, p99 ${ms(p(r, 99))} ms, non-2xx/errors ${problems(r)} (${((performance.now() - t) / 1000).toFixed(0)} s, load ${load.toFixed(1)})`,
      );
      return r;
    };
    const fixed = `fixed ${opts.rate}/s`;
    const hzFixed = await run(`GET /healthz ${fixed}`, () => paced(healthz, opts.rate, opts.duration));
    const hzMax = await run('GET /healthz max', () => closedLoop(healthz, CLOSED_LOOP_CONNECTIONS, short));
    const meFixed = await run(`GET /api/me ${fixed}`, () => paced(me, opts.rate, opts.duration));
    const meMax = await run('GET /api/me max', () => closedLoop(me, CLOSED_LOOP_CONNECTIONS, short));
    const inMax = await run('sign-in max', () => closedLoop(signin, SIGNIN_CONNECTIONS, short));
    const inFixed = await run(`sign-in fixed ${opts.signinRate}/s`, () => paced(signin, opts.signinRate, short));
    const oneIp: Target = { ...signin, headersFor: undefined, headers: { 'x-forwarded-for': '198.51.100.7' } };
    const inOneIp = await run('sign-in, one client address', () => closedLoop(oneIp, 4, 0, ONE_ADDRESS_REQUESTS));

    const verifyP50 = percentile(argon.verify, 50);
    rows.push(
      rowOf(backend, 'GET /healthz (anchor)', fixed, hzFixed, 'anchor'),
      rowOf(backend, 'GET /healthz (anchor)', `max, ${CLOSED_LOOP_CONNECTIONS} conn`, hzMax, 'anchor'),
      rowOf(backend, 'GET /api/me', fixed, meFixed, `p50 ×${fmt(p(meFixed, 50) / p(hzFixed, 50))}, p99 ×${fmt(p(meFixed, 99) / p(hzFixed, 99))} of /healthz`),
      rowOf(backend, 'GET /api/me', `max, ${CLOSED_LOOP_CONNECTIONS} conn`, meMax, `req/s ×${fmt(meMax.rps / hzMax.rps, 2)} of /healthz`),
      rowOf(backend, 'POST /api/auth/login', `max, ${SIGNIN_CONNECTIONS} conn`, inMax, `req/s ×${fmt(inMax.rps / argon.saturatedRps, 2)} of Argon2id verify alone`),
      rowOf(backend, 'POST /api/auth/login', `fixed ${opts.signinRate}/s`, inFixed, `p50 ×${fmt(p(inFixed, 50) / verifyP50, 2)} of one Argon2id verify`),
      rowOf(backend, 'POST /api/auth/login, one client address', `${ONE_ADDRESS_REQUESTS} req, 4 conn`, inOneIp, 'limit 60/min per address'),
    );
  } finally {
    await stopServer(server);
  }
  return rows;
}

// ---------- Output ----------

const columns: [string, (r: Row) => string][] = [
  ['backend', (r) => r.backend],
  ['scenario', (r) => r.scenario],
  ['rate', (r) => r.rate],
  ['req/s', (r) => fmt(r.rps)],
  ['requests', (r) => String(r.requests)],
  ['p50 ms', (r) => ms(r.p50)],
  ['p99 ms', (r) => ms(r.p99)],
  ['max ms', (r) => ms(r.max)],
  ['errors / non-2xx', (r) => r.problems],
  ['ratio vs anchor', (r) => r.ratio],
];

function textTable(rows: Row[]): string {
  const cells = [columns.map(([h]) => h), ...rows.map((r) => columns.map(([, f]) => f(r)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i < 3 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

function markdownTable(rows: Row[]): string {
  const head = `| ${columns.map(([h]) => h).join(' | ')} |`;
  const sep = `| ${columns.map((_, i) => (i < 3 ? '---' : '---:')).join(' | ')} |`;
  return [head, sep, ...rows.map((r) => `| ${columns.map(([, f]) => f(r).replace(/\|/g, '\\|')).join(' | ')} |`)].join('\n');
}

function argonRows(a: Argon): Row[] {
  const seq = (name: string, xs: number[]): Row => ({
    backend: '—',
    scenario: name,
    rate: 'sequential',
    rps: 1000 / (xs.reduce((s, x) => s + x, 0) / xs.length),
    requests: xs.length,
    p50: percentile(xs, 50),
    p99: percentile(xs, 99),
    max: xs.at(-1) ?? Number.NaN,
    problems: '0',
    ratio: 'anchor',
  });
  return [
    seq('Argon2id hash alone (hashPassword)', a.hash),
    seq('Argon2id verify alone (verifyPassword)', a.verify),
    {
      backend: '—',
      scenario: 'Argon2id verify alone (verifyPassword)',
      rate: `max, ${a.inFlight} in flight`,
      rps: a.saturatedRps,
      requests: a.saturatedN,
      p50: Number.NaN,
      p99: Number.NaN,
      max: Number.NaN,
      problems: '0',
      ratio: 'anchor',
    },
  ];
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const log = (s: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${s}`);
  log(`http bench: ${opts.backends.join(', ')}; fixed-rate runs ${opts.duration} s, max-throughput runs ${Math.max(3, Math.round(opts.duration / 3))} s`);

  const argon = await measureArgon2(3, SIGNIN_CONNECTIONS);
  loads.push(os.loadavg()[0]);
  log(`Argon2id: hash p50 ${ms(percentile(argon.hash, 50))} ms, verify p50 ${ms(percentile(argon.verify, 50))} ms, saturated ${fmt(argon.saturatedRps)} verify/s`);

  const rows = argonRows(argon);
  for (const backend of opts.backends) rows.push(...(await benchBackend(backend, opts, argon, log)));

  console.log(`\n${textTable(rows)}\n`);

  const short = Math.max(3, Math.round(opts.duration / 3));
  const args = process.argv.slice(2).join(' ');
  const markdown = `## HTTP: sign-in and authenticated reads

Reproduce: \`npm run bench -- http${args ? ` ${args}` : ''}\` (defaults: \`--duration 30 --backends pglite,postgres --rate 200 --signin-rate 10\`; total ≈ ${Math.ceil((opts.backends.length * (2 * opts.duration + 5 * short + 25) + 10) / 60)} min).

${markdownTable(rows)}

How it is measured (\`bench/http/\`):

- The server is the real \`serve()\` from \`src/app.ts\` (HTTP, job engine, migrations) in a child process, on a fresh PGlite data dir in a temp dir or a fresh PostgreSQL database \`${BENCH_DB}\` (dropped afterwards), log level \`warn\` to /dev/null. The load generator is the parent process, over TCP on 127.0.0.1, on the same machine: at "max" it shares the cores with the server, so those figures are lower bounds.
- **fixed N/s** rows are open-loop: one request every 1000/N ms whether or not earlier ones have answered, latency counted from the moment each request was *scheduled* (no coordinated omission), ${opts.duration} s for \`/healthz\` and \`/api/me\`, ${short} s for sign-in. autocannon's \`overallRate\` is not used for these because it sends each connection's quota back to back at the start of every second (bursts, not a steady rate).
- **max** rows are closed-loop autocannon 9 runs of ${short} s with the stated number of connections. Latencies are those of 2xx responses, recorded per response.
- \`GET /api/me\` sends the \`mw_session\` cookie from one real \`POST /api/auth/login\`; each request resolves the session in the database (one join query; workspace settings are cached 5 s).
- Sign-in: the owner is created through \`POST /api/setup\`; every \`POST /api/auth/login\` is a full successful sign-in (throttle check, user lookup, Argon2id verify, session insert, throttle clear, \`last_login_at\` update, audit append). The route is rate-limited to 60/min **per client address**, so a single TCP client can only ever measure the limiter. The server runs with \`TRUST_PROXY=true\` (as behind a reverse proxy) and each sign-in request carries a distinct \`X-Forwarded-For\` address, so the limiter stays in the path but does not trip; the "one client address" row sends ${ONE_ADDRESS_REQUESTS} sign-ins from one address and shows it tripping after 60 (429s, answered before the handler: no database, no Argon2id).
- Anchors, measured in the same run: \`GET /healthz\` (no database, no auth) at the same fixed rate and at max throughput; Argon2id alone in-process (\`hashPassword\` / \`verifyPassword\`, m=19456 KiB, t=2, p=1) sequentially and with ${SIGNIN_CONNECTIONS} verifications in flight (the libuv pool runs 4 at a time). Sign-in's ratio is its throughput against Argon2id-only throughput, and its p50 at a fixed low rate against one verify.
- Machine load: the 1-minute load average, sampled after each scenario, ranged ${fmt(Math.min(...loads))}–${fmt(Math.max(...loads))} on ${os.cpus().length} cores${Math.max(...loads) > os.cpus().length ? ' — other work was running on the machine during this run, so absolute figures are pessimistic and noisier than on an idle host; the ratios against anchors measured in the same run are the more stable figures' : ''}.`;
  writeBenchSection('http', markdown);
  log('wrote the http section of docs/benchmarks.md');
}

await main();
