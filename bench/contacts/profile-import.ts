// Development aid: CPU per imported row, split between this process and the
// PostgreSQL backend that runs the import's transactions (read from /proc).
//   node --import tsx bench/contacts/profile-import.ts [ROWS]
import { createReadStream, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { systemActor } from '../../src/audit/service.ts';
import { createImport, runImport } from '../../src/contacts/import.ts';
import { createAttributeDef } from '../../src/contacts/service.ts';
import { Vault } from '../../src/contacts/vault.ts';
import { LocalKeyProvider } from '../../src/crypto/key-provider.ts';
import { openPostgres, rows } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { generateContactsCsv, MAPPING } from './data.ts';

const n = Number(process.argv[2] ?? 100_000);
const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ticks = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, ms (CLK_TCK 100)
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
const t0 = performance.now();
await runImport(db.db, vault, systemActor('bench'), imp.id, createReadStream(file), { batchSize: 2000 });
const secs = (performance.now() - t0) / 1000;
const c = process.cpuUsage(c0);
const nodeUs = ((c.user + c.system) / n).toFixed(1);
const pgUs = (((ticks(pid) - p0) * 1000) / n).toFixed(1);
console.log(`${n} rows in ${secs.toFixed(1)} s = ${Math.round(n / secs)} rows/s; CPU per row: node ${nodeUs} µs, postgres backend ${pgUs} µs`);
await db.close();
await admin.end();
