// Contacts vault benchmark: streaming import of generated contacts (5 encrypted
// fields + 5 plaintext attributes) on PostgreSQL and PGlite, exact lookup by
// email, a decrypted+masked page of 50, field-key rotation, and the same
// import into plaintext columns as the anchor.
//   npm run bench -- contacts [--pg-rows N] [--pglite-rows N] [--skip-pg]
import { createReadStream, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { systemActor } from '../../src/audit/service.ts';
import { createImport, runImport } from '../../src/contacts/import.ts';
import { importRows } from '../../src/contacts/import-rows.ts';
import { maskContacts } from '../../src/contacts/masking.ts';
import { runRotation, startFieldKeyRotation } from '../../src/contacts/rotation.ts';
import { createAttributeDef, listContacts, toPii } from '../../src/contacts/service.ts';
import { domainLookup, Vault } from '../../src/contacts/vault.ts';
import { LocalKeyProvider } from '../../src/crypto/key-provider.ts';
import { randomBytes } from 'node:crypto';
import { type Database, openPglite, openPostgres, rows } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { percentile, writeBenchSection } from '../lib/report.ts';
import { emailOf, generateContactsCsv, MAPPING } from './data.ts';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const PG_ROWS = arg('--pg-rows', 1_000_000);
const PGLITE_ROWS = arg('--pglite-rows', 100_000);
const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const actor = systemActor('bench');

function rssSampler() {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

async function setup(db: Database) {
  await migrate(db);
  await createAttributeDef(db.db, {
    key: 'plan',
    label: 'Plan',
    type: 'enum',
    options: ['free', 'pro'],
    sensitive: false,
  });
  await createAttributeDef(db.db, { key: 'score', label: 'Score', type: 'number', sensitive: false });
  await createAttributeDef(db.db, { key: 'city', label: 'City', type: 'text', sensitive: false });
  await createAttributeDef(db.db, { key: 'active', label: 'Active', type: 'boolean', sensitive: false });
  await createAttributeDef(db.db, { key: 'signup', label: 'Signup', type: 'date', sensitive: false });
}

/** Same parsing/validation pipeline, plaintext columns, no encryption or blind index: the anchor. */
async function plainImport(db: Database, file: string): Promise<number> {
  await db.exec(`DROP TABLE IF EXISTS bench_plain_contacts;
    CREATE TABLE bench_plain_contacts (id bigserial primary key, email text not null unique, first_name text, last_name text,
      phone text, notes text, attributes jsonb not null)`);
  const t0 = performance.now();
  for await (const batch of importRows(createReadStream(file), {
    format: 'csv',
    mapping: MAPPING,
    attributes: [
      { key: 'plan', type: 'enum', options: ['free', 'pro'], sensitive: false },
      { key: 'score', type: 'number', sensitive: false },
      { key: 'city', type: 'text', sensitive: false },
      { key: 'active', type: 'boolean', sensitive: false },
      { key: 'signup', type: 'date', sensitive: false },
    ],
    batchSize: 2000,
  })) {
    const g = batch.good;
    await db.db.execute(sql`INSERT INTO bench_plain_contacts (email, first_name, last_name, phone, notes, attributes)
      SELECT * FROM unnest(${sql.param(g.map((r) => r.email))}::text[], ${sql.param(g.map((r) => r.firstName))}::text[],
        ${sql.param(g.map((r) => r.lastName))}::text[], ${sql.param(g.map((r) => r.phone))}::text[], ${sql.param(g.map((r) => r.notes))}::text[],
        ${sql.param(g.map((r) => JSON.stringify(r.attributes)))}::jsonb[])
      ON CONFLICT (email) DO NOTHING`);
  }
  return (performance.now() - t0) / 1000;
}

interface Result {
  backend: string;
  rows: number;
  importSecs: number;
  importRate: number;
  peakRssMb: number;
  plainSecs: number;
  plainRate: number;
  lookupP50: number;
  lookupP99: number;
  coldLookupP99: number;
  gmailP99: number;
  gmailCandidates: number;
  load: string;
  pageP50: number;
  pageP99: number;
  rotationRate: number;
}

async function run(backend: 'postgres' | 'pglite', n: number): Promise<Result> {
  const file = await generateContactsCsv(n);
  const loadStart = loadavg()
    .map((x) => x.toFixed(1))
    .join(' / ');
  let db: Database;
  let admin: pg.Client | null = null;
  if (backend === 'postgres') {
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query('DROP DATABASE IF EXISTS mw_bench_contacts WITH (FORCE)');
    await admin.query('CREATE DATABASE mw_bench_contacts');
    const u = new URL(PG_URL);
    u.pathname = '/mw_bench_contacts';
    db = await openPostgres(u.toString(), { max: 4 });
    // An idle pooled connection closed by the server (other work on this shared machine) must not end the run.
    db.pool?.on('error', (err) => console.warn(`[${backend}] idle connection closed: ${err.message}`));
  } else {
    db = await openPglite(undefined);
  }
  await setup(db);
  const vault = new Vault(db.db, new LocalKeyProvider(randomBytes(32)));
  await vault.ready();
  console.log(`[${backend}] importing ${n.toLocaleString('en')} rows…`);
  const imp = await createImport(db.db, {
    filename: 'bench.csv',
    format: 'csv',
    options: { mapping: MAPPING, onDuplicate: 'skip', list: 'Bench' },
    createdBy: 'bench',
  });
  const rss = rssSampler();
  const t0 = performance.now();
  let lastLog = 0;
  const done = await runImport(db.db, vault, actor, imp.id, createReadStream(file), {
    batchSize: 2000,
    onProgress: (p) => {
      if (p.rowsDone - lastLog >= 100_000) {
        lastLog = p.rowsDone;
        console.log(
          `  ${p.rowsDone.toLocaleString('en')} rows, ${Math.round(p.rowsDone / ((performance.now() - t0) / 1000)).toLocaleString('en')} rows/s, rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB`,
        );
      }
    },
  });
  const importSecs = (performance.now() - t0) / 1000;
  const peakRssMb = rss.stop() / 2 ** 20;
  if (done.inserted !== n)
    throw new Error(`expected ${n} inserted, got ${done.inserted} (failed ${done.failed})`);
  // The anchor right after the encrypted import, so both see about the same load on this shared machine.
  console.log(`[${backend}] plaintext anchor import…`);
  const plainSecs = await plainImport(db, file);
  console.log(`[${backend}] plaintext anchor ${Math.round(n / plainSecs)} rows/s`);
  // The anchor's table is the bench's own scaffolding: dropped, so that no autovacuum of it competes with the
  // timed reads. The import's tables (contacts, list members) get the VACUUM ANALYZE autovacuum would run on
  // its own after a bulk load, and a checkpoint flushes the load's dirty pages: the reads below then meet the
  // steady state a production server is in, not the tail of the load.
  await db.exec('DROP TABLE bench_plain_contacts');
  if (backend === 'postgres') {
    await db.exec('VACUUM ANALYZE'); // not in one string with CHECKPOINT: that would be one transaction block
    await db.exec('CHECKPOINT');
  }
  console.log(
    `[${backend}] import ${importSecs.toFixed(1)} s = ${Math.round(n / importSecs)} rows/s, peak RSS ${peakRssMb.toFixed(0)} MB`,
  );

  const kr = await vault.keyring();
  const lookups: number[] = [];
  const gmailLookups: number[] = [];
  // The first WARMUP lookups (and pages) are timed apart: they prepare the statements and V8 compiles the code paths
  // meanwhile (measured at 300,000 contacts: p99 4.9 ms over the first 2,000 lookups of a process, 2.4–3.5 ms after
  // them), while a running server's lookups are hot. Their p99 is reported too.
  const WARMUP = 2000;
  const cold: number[] = [];
  for (let i = -WARMUP; i < 2000; i++) {
    const k = Math.floor(Math.random() * n);
    const email = emailOf(k);
    const s = performance.now();
    const r = await listContacts(db.db, await vault.keyring(), { email });
    const ms = performance.now() - s;
    if (r.items.length !== 1) throw new Error(`lookup of row ${k} found ${r.items.length}`);
    if (i < 0) {
      cold.push(ms);
      continue;
    }
    lookups.push(ms);
    if (email.endsWith('@gmail.com')) gmailLookups.push(ms);
  }
  lookups.sort((a, b) => a - b);
  gmailLookups.sort((a, b) => a - b);
  cold.sort((a, b) => a - b);
  // Candidates an exact gmail lookup decrypts (the false positives of the (email, domain) blind-index pair).
  // Rows an exact gmail lookup fetches and decrypts on average: Σn² / Σn over the email-index buckets of gmail's domain bucket.
  const gmailDomain = domainLookup(kr, 'gmail.com');
  const [{ candidates }] = await rows<{ candidates: number }>(
    db.db,
    sql`SELECT coalesce(sum(n * n)::float / nullif(sum(n), 0), 0) AS candidates FROM (SELECT count(*) AS n FROM contacts
        WHERE workspace_id = 1 AND email_domain_bidx = ANY(${sql.param(gmailDomain)}::int[]) GROUP BY email_bidx) s`,
  );
  const ids = await rows<{ id: string }>(
    db.db,
    sql`SELECT id FROM contacts TABLESAMPLE SYSTEM (1) LIMIT 1000`,
  );
  const view = { userId: '999', role: 'marketer' as const, permissions: ['contacts:read'], attributes: [] };
  const pages: number[] = [];
  for (let i = -100; i < 500; i++) {
    const s = performance.now();
    const page = await listContacts(db.db, kr, { limit: 50, before: ids[(i + ids.length) % ids.length]?.id });
    maskContacts(view, page.items.map(toPii));
    if (i >= 0) pages.push(performance.now() - s);
  }
  pages.sort((a, b) => a - b);
  console.log(
    `[${backend}] lookup p99 ${percentile(lookups, 99).toFixed(2)} ms (first ${WARMUP}: ${percentile(cold, 99).toFixed(2)} ms; gmail ${percentile(gmailLookups, 99).toFixed(2)} ms, ${candidates.toFixed(1)} candidates per gmail lookup), page p99 ${percentile(pages, 99).toFixed(2)} ms`,
  );

  const rotation = await startFieldKeyRotation(db.db, vault, actor);
  const r0 = performance.now();
  const rotated = await runRotation(db.db, vault, actor, rotation.id, { graceMs: 0, batchSize: 2000 });
  const rotationSecs = (performance.now() - r0) / 1000;
  console.log(
    `[${backend}] rotation of ${rotated.done} rows: ${Math.round(rotated.done / rotationSecs)} rows/s`,
  );

  await db.close();
  if (admin) {
    await admin.query('DROP DATABASE IF EXISTS mw_bench_contacts WITH (FORCE)');
    await admin.end();
  }
  return {
    backend,
    rows: n,
    importSecs,
    importRate: n / importSecs,
    peakRssMb,
    plainSecs,
    plainRate: n / plainSecs,
    lookupP50: percentile(lookups, 50),
    lookupP99: percentile(lookups, 99),
    coldLookupP99: percentile(cold, 99),
    gmailP99: percentile(gmailLookups, 99),
    gmailCandidates: candidates,
    load: `${loadStart} → ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ')}`,
    pageP50: percentile(pages, 50),
    pageP99: percentile(pages, 99),
    rotationRate: rotated.done / rotationSecs,
  };
}

const results: Result[] = [];
if (!args.includes('--skip-pg')) results.push(await run('postgres', PG_ROWS));
results.push(await run('pglite', PGLITE_ROWS));
for (const n of [PG_ROWS, PGLITE_ROWS])
  rmSync(join(tmpdir(), `mw-bench-contacts-v2-${n}.csv`), { force: true });

const fmt = (x: number) => Math.round(x).toLocaleString('en');
const md = `## Contacts vault (\`npm run bench -- contacts\`)

Streaming CSV import of generated contacts: 5 PII fields (email, first name, last name, phone, notes) encrypted as one AES-256-GCM
value, AAD-bound — the contact's record (\`src/contacts/profile.ts\`; two values, the email apart, before migration 0023) —, 3 blind indexes, 5 plaintext
attributes, list membership, one transaction per 2,000 rows (one email lock, one duplicate probe: an index probe per address,
new contacts by binary \`COPY … FROM STDIN\` on PostgreSQL and \`INSERT … SELECT FROM unnest\` on PGlite; created contacts point at
their import instead of one timeline row each), parsing, validation, encryption and the COPY tuples on a worker thread running up to two
batches ahead of the commit (\`src/contacts/import-thread.ts\`), so they use the second core while the main thread and the
database backend commit. 30 % of the
addresses are at gmail.com, the rest over 5,000 domains.
Anchor: the same parse/validate pipeline inserting plaintext columns (unique email) — listmonk's published figure is ~10,000 rows/s without encryption.

| backend | rows | import rows/s (goal ≥ 20,000 on PG) | peak RSS (goal < 512 MB) | plaintext import rows/s | encrypted / plaintext | email lookup p50 / p99 (goal p99 < 5 ms) | gmail lookups p99 | page of 50 decrypted+masked p50 / p99 (goal p99 < 20 ms) | rotation rows/s (goal ≥ 20,000) | load average (1/5/15 min) start → end |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
${results
  .map(
    (r) =>
      `| ${r.backend} | ${fmt(r.rows)} | ${fmt(r.importRate)} | ${r.peakRssMb.toFixed(0)} MB | ${fmt(r.plainRate)} | ${(r.importRate / r.plainRate).toFixed(2)} | ${r.lookupP50.toFixed(2)} / ${r.lookupP99.toFixed(2)} ms (first 2,000: p99 ${r.coldLookupP99.toFixed(2)} ms) | ${r.gmailP99.toFixed(2)} ms (${r.gmailCandidates.toFixed(1)} candidates per gmail lookup) | ${r.pageP50.toFixed(2)} / ${r.pageP99.toFixed(2)} ms | ${fmt(r.rotationRate)} | ${r.load} |`,
  )
  .join('\n')}

Lookup = normalise, blind-index pair (email 14 bits + domain 8 bits, layout 2), one prepared statement (parsed and planned once per
connection) fetching the candidates whose email has the searched address's length (a key of the probe index), decrypt their records and compare
the emails, decode the match (2,000 random addresses, after 2,000 warm-up lookups whose p99 is shown apart: the first lookups of a process
run while V8 still compiles their code). Before the lookups, the anchor's table is dropped and
the database gets the VACUUM ANALYZE autovacuum would run after a bulk load, and a CHECKPOINT. Page = keyset page of 50 from a random position, all fields decrypted, masked for a
marketer (500 pages, after 100 untimed ones). Rotation = re-encrypting every encrypted column (contacts: the record, one value; consents, activities, import errors)
in batches of 2,000, two concurrent loops on PostgreSQL (one encrypts while the other's UPDATE runs), one transaction each; contacts
still on an old blind-index layout are re-indexed on the way.
The machine is shared (2 cores): the load average column says how much else was running.

Where the CPU goes — per row, measured with \`node --import tsx bench/contacts/profile-import.ts 200000 [--inline] [--rotate]\`
(this process from \`process.cpuUsage\` and per thread from /proc, the PostgreSQL backends from /proc; on this shared machine
all CPU figures grow with the load average, so compare rows taken at about the same load):

| work per row | this process | PostgreSQL backend(s) |
|---|---:|---:|
| import, before the worker thread (binary COPY, one JS thread; load ~2) | 78 µs | 36 µs |
| import, worker thread + chunked CSV source (load 2.2): worker / main thread / V8 GC and compiler threads | 72 / 9 / ~25 µs | 77 µs |
| import, worker thread, 200,000 rows (load 2.0) | 94 µs (worker 65) | 112 µs |
| rotation (two loops; hex bytea[] → binary bytea[] parameters) | 63 µs | 33 → 29 µs |
| import, 200,000 rows, probe kept per key + sealed profile (2026-12-02, load 1.6): worker / all threads | 47 / 74 µs | 46 µs |
| rotation, 200,000 rows, sealed profile, email re-indexed only on old layouts (2026-12-02, load ~2) | 33 µs | 46 µs |
| import, 200,000 rows, phone patterns compiled once, HMAC from one-shot digests, larger worker young generation (2026-12-02 pm, load 1.5–2): worker / all threads | 39–43 / 60–67 µs | 40–41 µs |
| the same without list membership (what it costs the backend) | 62–67 µs | 30–34 µs |
| import, 200,000 rows, list membership without foreign keys (2026-12-02, fourth session, load 1–3): worker / all threads | 37–45 / 59–72 µs | 31–42 µs |
| import, 1,000,000 rows, and the probe skipping the run's own rows inside the index (\`--segments\`, load ~3): all threads | 50 µs | 37 µs (was 46) |

The import's worker thread (\`import-worker.ts\`) gets the file's bytes from the main thread as it asks for them and sends each
batch back as a handful of transferable objects (the COPY bytes with the tuple boundaries, typed arrays of lines and blind-index
values, the emails and ids): the main thread does the duplicate probe, patches the \`suppressed\` flags into the tuples, drops
duplicates and sends the COPY body as it came when every row is new. An earlier per-row protocol (each row's encoded values
structured-cloned back) cost as much as it saved. The CSV source now drives csv-parse directly and hands rows over per 64 KiB
slice (CSV parsing 16 → 6 µs per row in isolation: no stream or generator hop per record, no per-record info object), and each row
is encrypted and laid out as soon as it is validated, so only compact data lives until the batch is sent. Two cores give
2,000,000 µs of CPU per second, so the import's rate is bounded by its total CPU per row, whichever thread it runs on.
Garbage, 2026-12-02 (allocation sampling and \`--trace-gc-nvp\` on the worker's stages): validation left ~10.5 KB per row, half of
it libphonenumber's, and most of that the regular-expression sources it rebuilt on every call (\`matchesEntirely\` compiled each
metadata pattern anew — the US one is 637 characters); each scavenge cost ~5–8 ms whatever it freed, ~2 ms of it processing the
weak handles of the native Hmac and Cipheriv objects (three or four per row). Since then: libphonenumber-js is patched to compile
each pattern once (\`patches/\`, applied by \`npm install\`; validation 23.5 → 18.9 µs per row in isolation), the blind indexes'
HMAC-SHA256 is computed from two one-shot SHA-256 digests (\`src/crypto/hmac.ts\`, checked against \`createHmac\`; no native
object per value), the worker's young generation is twice V8's default (scavenges per 100,000 rows 122 → 69), email domains are
checked once per distinct domain, and the commit path sends the probe's arrays as literals instead of letting node-postgres
escape 10,000 elements a batch, inserts new list members without \`ON CONFLICT\`, commits batches asynchronously (the final
update flushes them all; a server crash can only lose whole batches, which a resumed run redoes), and refreshes only the probe's
columns' statistics while growing (80–110 ms instead of 340–520 ms at 200,000 rows; a full ANALYZE still ends the import). The
worker's profile now: AES-GCM ~14 %, GC ~7 %, SHA-256 ~7 %, CSV parsing ~5 %, libphonenumber ~6 %, and ~12 % idle waiting for
the commit: the main thread and the backend (COPY 29 µs, list membership 14 µs, probe 5 µs per row with every statement timed)
are now the critical path.
The duplicate probe was, until 2026-12-02, most of the backend's work, and the cause was its plan, not its candidates (earlier
notes here blamed reading the candidates' heap tuples): during a large import into a table not yet analysed, PostgreSQL took the
contacts table for ~1,000 rows and answered the per-key LATERAL probe with a merge join over a sorted scan of the whole workspace,
every batch (auto_explain at 200,000 contacts: 196,000 rows sorted on disk for 2,000 keys; the probe grew from 6 to 310 ms per
batch). The subquery is now fenced (\`OFFSET 0\`), so it stays one index probe per key whatever the statistics (a test pins the plan
with nested loops disabled), and the import refreshes the statistics each time its rows grow ×4 (without them the per-key
subquery flipped to the narrower domain index at ~70,000 rows: four probes of 4.5 s). The probe index also carries the email's
length (\`emailBytes\` in schema.ts), so candidates of another length are skipped inside the index. With every statement's
duration logged (200,000 rows): probe 0.95 s (was 15.9 s), COPY 4.8 s, list membership 2.6 s, four ANALYZEs 1.2 s.
Exact lookups (1,000,000 contacts, 2,000 lookups in a loop, load ~2): the query builder and the server's parse and plan were about
half of a lookup's CPU; a prepared statement built once and the server-side length filter (now a key of the index; a gmail.com lookup ships 1–3 rows
instead of ~20) took this process from ~550–750 to ~320–450 µs per lookup and the backend from ~400 to ~300 µs, and garbage
collections from 28 to 8 per 2,000 lookups; p50 0.9–1.4 → 0.6–0.7 ms, p99 3.1–7.3 → 2.1–3.7 ms (three rounds each, alternating, in one process). The rest of the
tail is the machine: a lookup that meets a scavenge or loses its core to another process waits a few milliseconds.
Dropping indexes was measured too (100,000 rows, 2026-12-02 morning): the two GIN indexes then cost the backend ~4 µs per
row, the key-version and owner indexes nothing measurable; measured again at 200,000 rows in the fifth session, one index
at a time, each cost ~3–4 µs (key version 2.7, owner 3.8, tags 4.3, phone and domain 7 together, the attributes GIN 7.5):
see the last change below. List membership's two foreign keys, measured again with \`EXPLAIN ANALYZE\` of
the same 200,000 inserts, cost ~10 µs per row (2.1 s of trigger calls in 2.6 s; 0.6 s without them): \`list_members\` has none
since migration 0020 — its writers lock the list and the contacts \`FOR KEY SHARE\` in their insert, and statement-level
triggers delete the memberships of deleted contacts and lists (docs/contacts.md, \`lists.test.ts\`).
A long import slowed down towards its end, on the server: \`profile-import.ts 1000000 --segments\` showed the backend's CPU per
row growing from ~30 µs (first 300,000 rows) to 54–60 µs (last 100,000), with ~0.95 heap blocks read per row from outside the
128 MB of shared buffers and up to 0.8 dirty buffers per row written back by the backend itself. The reads were the duplicate
probe visiting candidates only to find that this run had inserted them (~1.4 per row over a gmail-heavy 1,000,000; the writes,
the hint bits those visits set). The run's number is now the probe index's last key (\`contacts.import_run\`, reset to 0 by any
later write), and for an address the run certainly did not insert the probe asks \`import_run < run\` and \`> run\` as two index
ranges: blocks read per 100,000 rows ~95,000 → ~9,000, backend writes 40,000–80,000 → 11,000–16,000, backend CPU per row over the
1,000,000 46 → 37 µs.
A production-tuned server did not change the picture of the code before these fixes (\`BENCH_DATABASE_URL\` pointing at a
private cluster with shared_buffers 4 GB, max_wal_size 8 GB, wal_compression on, autovacuum on: import 9,614 rows/s, rotation
10,975 rows/s against 10,658 and 11,214 on the CI server).
Rotation: node:crypto costs ~4–6 µs per AES-GCM call whatever its size (OpenSSL itself needs ~0.4 µs for 30 bytes: the rest is
cipher setup, final and tag in Node), and rotation made twelve calls per contact. A contact's names, phone, notes and sensitive
attributes are now one sealed value (docs/security.md §4) and the email index is recomputed only on rows still on an old layout:
this process went from 75–84 to ~33 µs per row; since migration 0023 the email is in that value too (one open and one seal per
contact), and at 200,000 rows this process takes ~25 µs per row instead of ~39. The backends' share is now the larger (~40 µs):
each UPDATE writes a new tuple and an entry in every index (pages filled by COPY have no room, so no update is HOT; since
migration 0022 the key version is not indexed).
Last change (seventh session, in the table's run): HMAC digests as strings (\`src/crypto/hmac.ts\`). Each HMAC's two one-shot
SHA-256 digests came back as Buffers, and a Buffer made by native code has an ArrayBuffer and a malloc'd backing store of its own,
which V8's helper threads later sweep and free: with \`perf\` (\`-e cpu-clock\`) during an import, \`_int_free\`,
\`ArrayBufferSweeper::SweepYoung\`, \`malloc_consolidate\` and the scavenger topped those threads, which took ~10–15 µs per row in
all. The digests now come back as latin1 strings (\`crypto.hash(…, 'binary')\`) and a blind index reads the MAC's first four
bytes from the string: in a loop an HMAC takes ~0.9 µs of CPU instead of 4.0–5.0 (3.1–3.5 µs of wall time: the rest ran on the
helper threads). The worker's work alone (\`profile-pipeline.ts 200000 --stage prepare\`, CPU of the whole process): 42.0 → 37.8
and 42.1 → 38.1 µs per row in two alternating pairs (a third, on a slow phase, 47.5 / 47.6). AES-GCM pays the same toll —
\`update\`, \`final\` and \`getAuthTag\` each return such a Buffer, ~2 µs apiece in a loop (a seal: 6.1 µs of wall time, 7.95 µs
of CPU) — but node:crypto has no call that writes into the caller's buffer, so it stays. Tried and dropped: list membership by
binary COPY instead of \`INSERT … SELECT FROM unnest\` (2,000-row batches into a copy of \`list_members\`: backend 3.55 against
3.75–3.80 µs per row, this process 1.9–2.0 against 1.35–1.4: nothing gained).
Change before (sixth session): a contact's email is sealed inside its record (migration 0023,
\`src/contacts/profile.ts\`): one AES-GCM value per contact instead of two, for the import (one seal), a rotation (one open, one
seal), a page (one open per contact) and the lookups (one open per candidate). The probe index's length key now comes from
\`contacts.email_length\` (the email's byte length, which its own ciphertext showed before); rows written by older versions keep
their \`email_enc\` and read, match and rotate as before until their next write. Per row at 200,000
(\`profile-import.ts 200000 --rotate\`, load 1.2): import, this process 58 µs (worker 38) and the backend 32 µs; rotation, this process
25.3 µs (was ~39) and the backends 40.2 µs (was ~42), 25,388 rows/s, the machine 87 % busy. Full runs: see the table and the
list below. The bench itself now drops the anchor's table and runs VACUUM ANALYZE and CHECKPOINT before the timed reads,
and times the first 2,000 lookups apart (with 100 warm-up lookups, lookups measured at 300,000 contacts in a fresh process had
a p99 of 4.4–4.9 ms over the first 2,000 and 1.7–3.7 ms over the next: V8 still compiles the path while the first ones run).
Garbage per lookup, sampled: ~39 KB (node-postgres re-reads the row description on every execution, drizzle maps the row), so a
scavenge of 2–8 ms every ~330 lookups is part of the tail; a larger young generation (\`--max-semi-space-size=64\`) did not move
the p99 in two pairs.
Change before (fifth session): fewer index entries per contact (migration 0022). Dropping one index at a
time at 200,000 rows put each at ~3–4 µs of the backend's CPU per row, and the import is bound by CPU, not by waiting: during
a 400,000-row import the machine was 95 % busy (\`/proc/stat\`), so every µs on either side counts. The key-version index
served no query (rotation selects \`key_version <> active\`, which a btree cannot, along the primary key): dropped. Phone, owner
and tags are indexed only where set (\`tags <> '{}'\` is stated by tag queries so the planner can use the partial GIN; plan
tests in \`storage.test.ts\`). The probe index now leads with the domain, so it also serves domain lookups and the domain-only
index is gone. The probe leaves out its \`import_run > run\` range while no later run has started. Backend per row at 200,000:
31.7–38.9 → 28.3–29.5 µs (three pairs, alternating); the steady rate from 100,000 to 200,000 rows reached 26,000 rows/s. The
first 100,000 rows of an import stay the slowest (~15,000–17,000 rows/s): this process then spends ~70–80 µs per row instead
of ~43, mostly on V8's helper threads compiling the worker's code (with \`--no-concurrent-recompilation\` the same work moves
onto the worker and main threads) and on the worker's start. Tried and dropped in the same session, no gain measurable:
allocation-free rewrites of row validation and of libphonenumber's option spread (1.4 KB of garbage per number that V8
optimises away), batches of 5,000 rows instead of 2,000 (two pairs at 400,000). @noble/hashes and @noble/ciphers are slower
than node:crypto here (SHA-256 3.7–4.0 against 1.4–2.1 µs for 100 bytes; AES-GCM 45–53 against 10 µs).
Earlier (fourth session): the worker thread loads only the codec (\`field-codec.ts\`, \`contact-encoding.ts\`, \`copy-tuples.ts\`; no
drizzle, node-postgres, PGlite or zod): its module load went from 1.7 to 0.5 s of CPU, and the peak RSS of the runs from 398–502
to 343–369 MB. A deeper read-ahead (six prepared batches instead of two) gained nothing (400,000 rows,
three pairs). \`--single-threaded-gc\` looked like +12 % in one series of five pairs and +2 % in the next: not taken.
Import, where the goal stands: the rate follows the machine, whose speed moves by a third within the hour (the plaintext
anchor 24,300–33,800 rows/s across this day's runs). The encrypted/plaintext ratio was 0.56–0.64 in the third session's runs,
0.63–0.75 in the fourth's, 0.67–0.85 with migration 0022 (20,150 rows/s at anchor 30,098, 21,231 at 26,946 and 20,981 at
24,581) and 0.69–0.77 with migration 0023 (21,661 rows/s at anchor 29,211, 24,614 at 31,802, 23,512 at 34,192), and 0.89–1.05 with the HMAC
digests as strings (22,302 rows/s at anchor 23,834, 26,142 at 29,515, 23,216 at 22,170: the
anchor of that last run met a slow phase of the machine that the import before it had not). Per
row at 1,000,000 this process uses ~45–55 µs and the backend ~28–35 µs (measured before migration 0023), and the
machine is ~95 % busy: more threads would not help, only less CPU per row. What remains per row is one AES-GCM seal
(7.7–10 µs in a tight loop on this machine, most of it cipher setup and the result Buffers in Node), two HMACs (~0.9 µs each
since the seventh session), CSV parsing (~5 µs), phone validation (~3–4 µs), and on the server a tuple, four index entries (one of them the
attributes GIN, ten keys) and a list-member row. Ideas not taken: jsonb_path_ops for the attributes
index (~2–3 µs per row, but segments' \`is set\` would lose the index), a second preparing worker (the machine has no idle CPU
left for it).
Full runs on 2026-12-02 (seventh session), with the HMAC digests as strings, three: every goal met on PostgreSQL in all three,
on the two slowest anchors recorded so far among them. The table's: import 23,216 rows/s (anchor 22,170), lookup p99 4.15 ms (5.31
over the first 2,000), page p99 7.98 ms (the gmail.com addresses' lookups alone: p99 5.00 ms, against 2.10 and 4.34 in the
others), rotation 25,240 rows/s, peak RSS 336 MB; PGlite's page p99 was 20.82 ms in that run
(its own anchor 19,965, the machine slow), 11.42 and 8.18 ms in the others. Before it: 26,142 rows/s (anchor 29,515, ratio 0.89),
lookup p99 3.80 ms (4.57), page p99 8.46 ms, rotation 27,687 rows/s, peak RSS 355 MB; and 22,302 rows/s (anchor 23,834, ratio
0.94), lookup p99 4.14 ms (4.65), page p99 7.47 ms, rotation 22,595 rows/s, peak RSS 357 MB. PGlite in those two: import 7,726
and 7,007 rows/s, rotation 9,714 and 9,197 rows/s (6,706 and 6,271 in the table's).
Full runs with migration 0023 on 2026-12-02 (sixth session), four: every goal met in the first three, and in the last, on a slow
phase of the machine (anchor 24,936), every goal but the import's, which made 17,800 rows/s (ratio 0.71; lookup p99 4.56 ms, page
p99 10.19 ms, rotation 25,902 rows/s, peak RSS 365 MB). A 1,000,000-row import profiled right after, still in that phase
(\`profile-import.ts 1000000 --segments\`, 18,346 rows/s): this process 57.9 µs per row (worker 42.3) and the backend 38.6 µs,
~97 µs of CPU per row on two cores, which caps the rate near 20,600 rows/s at full use; in a stand-alone pipeline run, parsing
took 9.6 µs per row, validation 22 µs (libphonenumber ~6 of it) and encryption with the COPY tuple 29 µs. The first three: the table's (import 23,512 rows/s at
anchor 34,192, ratio 0.69; lookup p99 3.86 ms, 4.75 over the first 2,000; page p99 9.23 ms; rotation 30,470 rows/s; peak RSS
370 MB), one before it at 24,614 rows/s (anchor 31,802, ratio 0.77; lookup p99 4.05 ms, 4.22 over the first 2,000; page p99
9.14 ms; rotation 29,880 rows/s; peak RSS 343 MB) and the first at 21,661 rows/s (anchor 29,211, ratio 0.74; lookup p99 4.72 ms
after 100 warm-up lookups only; page p99 8.63 ms; rotation 28,624 rows/s; peak RSS 363 MB). PGlite in the same runs: import
7,215, 5,244 and 6,448 rows/s, page p99 10.77, 16.13 and 12.16 ms, rotation 9,225, 7,066 and 8,559 rows/s. The same session's run before it (bench changes only,
migration 0022's code): import 18,926 rows/s at anchor 28,451 (ratio 0.67), lookup p99 4.74 ms, page p99 10.59 ms, rotation
22,483 rows/s, peak RSS 390 MB.
Full runs with migration 0022 on 2026-12-02 (fifth session), import ≥ 20,000 rows/s in all three: the table's, on a slow phase
of the machine (anchor 24,581, the lowest of the day; lookups p50 1.06 ms instead of ~0.65), where the import made 20,981
rows/s (ratio 0.85) but the lookup p99 (6.12 ms) and the rotation (17,148 rows/s) missed their goals; one before it at 21,231
rows/s (anchor 26,946, ratio 0.79) that met every goal on PostgreSQL (lookup p99 4.73 ms, page p99 6.62 ms, rotation 22,657
rows/s, peak RSS 361 MB; PGlite's page p99 was 21.04 ms in that run, 12.73 and 16.02 in the other two); and the first, before
the probe's later-run change, 20,150 rows/s (anchor 30,098, ratio 0.67; lookup p99 4.26 ms, page p99 8.40 ms, rotation 22,257
rows/s, peak RSS 435 MB). The rotation at 200,000 rows in \`profile-import.ts --rotate\`: this process ~39 µs and the backends
~42 µs per row (each row is locked, then rewritten with all its index entries), the machine 83 % busy.
Full runs of the fourth session's code on 2026-12-02: the table's then (import 22,084 rows/s, anchor 29,299, every goal met) and one
before it at 17,622 rows/s (anchor 26,386; lookup p99 4.78 ms, page p99 8.05 ms, rotation 22,188, peak RSS 343 MB). Earlier runs this session,
as the changes landed: list membership without foreign keys 15,784 rows/s (anchor 24,542; the run's last 200,000 rows at
9,700–12,600 rows/s, the slowdown the probe change removed); + AEAD buffers 21,307 (anchor 33,842) and 16,719 (24,296); + the probe
skipping the run's own rows 21,122 (31,684) and 18,006 (26,363). Lookup p99 3.95–5.79 ms, page p99 7.65–12.92 ms, rotation
18,679–22,659 rows/s across those runs, peak RSS 398–502 MB.
Full runs on 2026-12-02 (third session): import 16,544 and 15,738 rows/s (plaintext anchor 26,117 and 28,281), lookup p99 4.62 and
5.22 ms, page p99 7.93 and 10.13 ms, rotation 20,414 and 18,904 rows/s.
Earlier full runs on 2026-12-02 (before the changes above): import 14,803 and 12,225 rows/s (plaintext anchor 28,088 and 24,689),
rotation 20,418 and 20,747 rows/s, lookup p99 3.84 and 4.53 ms, page p99 14.48 and 8.90 ms.`;

writeBenchSection('contacts', md);
console.log(md);
