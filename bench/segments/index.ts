// Segment bench: count a 4-condition segment and materialise a large segment
// into the recipient ledger with one INSERT … SELECT, against the naive
// approach (fetch every contact and its events, test the rules in JS).
//   npm run bench -- segments                 PGlite (~100k contacts, 1M events)
//   BENCH_DATABASE_URL=postgres://… npm run bench -- segments   PostgreSQL (1M contacts, 10M events)
//   flags: --contacts N --events N --runs N (materialisations) --reuse (PostgreSQL: keep the generated database) --no-write
// Data is generated with set-based SQL (generate_series), never row by row;
// events pick contacts, types and days through hashint4 so that they do not
// correlate with the contacts' modular attributes.
import os from 'node:os';
import { sql } from 'drizzle-orm';
import { type Database, openPglite, openPostgres, rows } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { compileContext } from '../../src/segments/service.ts';
import { countQuery, ledgerInsert } from '../../src/segments/compile.ts';
import type { Rule } from '../../src/segments/rules.ts';
import { percentile, writeBenchSection } from '../lib/report.ts';
import type { Keyring } from '../../src/crypto/field-cipher.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const url = process.env.BENCH_DATABASE_URL;

const reuse = process.argv.includes('--reuse');

async function open(): Promise<Database> {
  if (!url) return openPglite(undefined);
  if (!reuse) {
    const admin = await openPostgres(url.replace(/\/[^/]*$/, '/postgres'), { max: 1 });
    await admin.exec('DROP DATABASE IF EXISTS mw_bench_segments WITH (FORCE)');
    await admin.exec('CREATE DATABASE mw_bench_segments');
    // Short statements: JIT compilation costs more than it saves here (set before any connection opens).
    await admin.exec('ALTER DATABASE mw_bench_segments SET jit = off');
    await admin.close();
  }
  return openPostgres(url.replace(/\/[^/]*$/, '/mw_bench_segments'), { max: 4 });
}

const t0 = () => performance.now();
const ms = (s: number) => performance.now() - s;

/*
 * Contact ids are time-ordered like the application's UUIDv7 (a hex counter in
 * front, hash bits behind), so tables and the ledger see ids in the order a
 * real workspace would produce them. Everything else is hashint4-scrambled so
 * events, consents and attributes do not correlate.
 */
const ID_FN = `CREATE OR REPLACE FUNCTION bench_contact_id(g int) RETURNS uuid IMMUTABLE LANGUAGE sql AS
  $$ SELECT (lpad(to_hex(g), 12, '0') || '7' || substr(md5(g::text), 1, 3) || '8' || substr(md5(g::text), 4, 15))::uuid $$`;

async function generate(db: Database, contacts: number, events: number) {
  const s = t0();
  await db.exec(ID_FN);
  await db.exec(`
    INSERT INTO workspaces (id, name, settings) VALUES (1, 'bench', '{}') ON CONFLICT DO NOTHING;
    INSERT INTO attribute_definitions (workspace_id, key, label, type, sensitive)
      VALUES (1, 'plan', 'Plan', 'text', false), (1, 'seats', 'Seats', 'number', false), (1, 'industry', 'Industry', 'text', false);
    INSERT INTO campaigns (workspace_id, name, state, launched_at)
      SELECT 1, 'c' || g, 'completed', now() - (g || ' days')::interval FROM generate_series(1, 50) g;
    INSERT INTO contacts (id, workspace_id, key_version, email_enc, email_bidx, email_domain_bidx, attributes, tags, country, suppressed)
      SELECT bench_contact_id(g), 1, 1, decode(md5(g::text), 'hex'), (g::bigint * 7919) % 2000000000, g % 256,
        jsonb_build_object('plan', (ARRAY['free','pro','team','enterprise'])[1 + g % 4], 'seats', g % 200, 'industry', (ARRAY['finance','retail','health','tech','media'])[1 + g % 5]),
        CASE WHEN g % 10 = 0 THEN ARRAY['vip','beta'] WHEN g % 3 = 0 THEN ARRAY['beta'] ELSE '{}'::text[] END,
        (ARRAY['GB','US','FR','DE'])[1 + g % 4], g % 50 = 0
      FROM generate_series(1, ${contacts}) g;
    INSERT INTO contact_consents (id, workspace_id, contact_id, purpose, state, source, key_version, evidence_enc, at)
      SELECT md5('c' || g)::uuid, 1, bench_contact_id(g), 'marketing_email',
        CASE WHEN (hashint4(g + 3) & 2147483647) % 20 = 0 THEN 'unsubscribed' ELSE 'subscribed' END, 'bench', 1, '\\x00', now() - interval '100 days'
      FROM generate_series(1, ${contacts}) g;
    INSERT INTO engagement_events (campaign_id, contact_id, type, automated, at)
      SELECT 1 + (g % 50), bench_contact_id(1 + (hashint4(g) & 2147483647) % ${contacts}), 1 + ((hashint4(g + 7) & 2147483647) % 4)::smallint,
        (hashint4(g + 29) & 2147483647) % 20 = 0, now() - (((hashint4(g + 13) & 2147483647) % 120) || ' days')::interval
      FROM generate_series(1, ${events}) g;
  `);
  // Set hint bits and the visibility map (index-only scans) as a settled database would have them.
  await db.exec('VACUUM ANALYZE');
  return ms(s);
}

const fourConditions: Rule = {
  kind: 'and',
  rules: [
    { kind: 'attribute', key: 'plan', op: 'equals', value: 'pro' },
    { kind: 'attribute', key: 'seats', op: 'gte', value: 50 },
    { kind: 'tag', op: 'has_any', tags: ['beta'] },
    { kind: 'engagement', event: 'opened', withinDays: 30, count: { op: 'at_least', n: 1 } },
  ],
};
const everyone: Rule = { kind: 'and', rules: [] };

/** Naive (Mautic-style): fetch every contact and its recent opens, test the rules in application code. */
async function naiveCount(db: Database): Promise<number> {
  const contacts = await db.query<{
    id: string;
    attributes: Record<string, unknown>;
    tags: string[];
    suppressed: boolean;
  }>('SELECT id, attributes, tags, suppressed FROM contacts WHERE workspace_id = 1');
  const consents = await db.query<{ contact_id: string; state: string }>(
    "SELECT DISTINCT ON (contact_id) contact_id, state FROM contact_consents WHERE purpose = 'marketing_email' ORDER BY contact_id, at DESC",
  );
  const consent = new Map(consents.map((c) => [c.contact_id, c.state]));
  const opened = new Set(
    (
      await db.query<{ contact_id: string }>(
        "SELECT contact_id FROM engagement_events WHERE type = 2 AND NOT automated AND at >= now() - interval '30 days'",
      )
    ).map((r) => r.contact_id),
  );
  let n = 0;
  for (const c of contacts) {
    const a = typeof c.attributes === 'string' ? JSON.parse(c.attributes) : c.attributes;
    if (
      a.plan === 'pro' &&
      typeof a.seats === 'number' &&
      a.seats >= 50 &&
      c.tags.includes('beta') &&
      opened.has(c.id) &&
      !c.suppressed &&
      consent.get(c.id) === 'subscribed'
    )
      n++;
  }
  return n;
}

const explain = async (db: Database, q: ReturnType<typeof countQuery>, analyze: boolean) =>
  (
    await rows<Record<string, string>>(
      db.db,
      analyze ? sql`EXPLAIN (ANALYZE, BUFFERS) ${q}` : sql`EXPLAIN ${q}`,
    )
  )
    .map((r) => Object.values(r)[0])
    .join('\n');

async function main() {
  const contacts = arg('contacts', url ? 1_000_000 : 100_000);
  const events = arg('events', contacts * 10);
  const runs = arg('runs', 3);
  const db = await open();
  await migrate(db);
  let genMs = Number.NaN;
  if (reuse && url) {
    console.log('reusing mw_bench_segments');
    await db.exec("DELETE FROM campaign_recipients WHERE campaign_id IN (SELECT id FROM campaigns WHERE name = 'bench')");
    await db.exec("DELETE FROM campaigns WHERE name = 'bench'");
    await db.exec('VACUUM ANALYZE');
  } else {
    console.log(`generating ${contacts} contacts, ${events} events on ${db.kind}…`);
    genMs = await generate(db, contacts, events);
    console.log(`generated in ${(genMs / 1000).toFixed(1)} s`);
  }
  const [{ n: nContacts }] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM contacts');
  const [{ n: nEvents }] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM engagement_events');
  const ctx = await compileContext(db.db, {} as Keyring);
  const loadBefore = os.loadavg();

  const times: number[] = [];
  let eligible = 0;
  for (let i = 0; i < 11; i++) {
    const s = t0();
    const [r] = await rows<{ eligible: number }>(db.db, countQuery(fourConditions, ctx));
    times.push(ms(s));
    eligible = r.eligible;
  }
  times.sort((a, b) => a - b);
  console.log(`count p50 ${percentile(times, 50).toFixed(0)} ms, ${eligible} eligible`);
  const naiveTimes: number[] = [];
  let naive = 0;
  for (let i = 0; i < 3; i++) {
    const s = t0();
    naive = await naiveCount(db);
    naiveTimes.push(ms(s));
  }
  naiveTimes.sort((a, b) => a - b);
  console.log(`naive p50 ${percentile(naiveTimes, 50).toFixed(0)} ms`);
  if (naive !== eligible) throw new Error(`naive count ${naive} ≠ SQL count ${eligible}`);

  // Materialise every eligible contact (≈ all of them) into the ledger, one statement per run, each into a fresh campaign.
  const mat: { ms: number; rows: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const [camp] = await db.query<{ id: number }>(
      "INSERT INTO campaigns (workspace_id, name) VALUES (1, 'bench') RETURNING id",
    );
    const s = t0();
    const res = (await db.db.execute(
      ledgerInsert(everyone, ctx, Number(camp.id), { mode: 'now' }),
    )) as unknown as { rowCount?: number; affectedRows?: number };
    mat.push({ ms: ms(s), rows: Number(res.rowCount ?? res.affectedRows ?? 0) });
    console.log(`materialised ${mat[i].rows} rows in ${mat[i].ms.toFixed(0)} ms`);
  }
  const loadAfter = os.loadavg();
  const countPlan = await explain(db, countQuery(fourConditions, ctx), true);
  const ledgerPlan = await explain(db, ledgerInsert(everyone, ctx, 1, { mode: 'now' }), false);
  // The ledger has no foreign key to campaigns (migration 0014): its rows go explicitly.
  await db.exec("DELETE FROM campaign_recipients WHERE campaign_id IN (SELECT id FROM campaigns WHERE name = 'bench')");
  await db.exec("DELETE FROM campaigns WHERE name = 'bench'");
  await db.close();

  const p50 = percentile(times, 50);
  const naiveP50 = percentile(naiveTimes, 50);
  const rates = mat.map((m) => m.rows / (m.ms / 1000)).sort((a, b) => a - b);
  const medianRate = percentile(rates, 50);
  const fmt = (n: number) => Math.round(n).toLocaleString('en');
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const md = `### Segments — ${db.kind === 'postgres' ? 'PostgreSQL' : 'PGlite'} (${nContacts.toLocaleString('en')} contacts, ${nEvents.toLocaleString('en')} engagement events)

| measure | result | target |
| --- | --- | --- |
| count, 4 conditions (plan = pro, seats ≥ 50, tag beta, opened in 30 days) + consent/suppression, p50 of 11 | ${p50.toFixed(0)} ms (p95 ${percentile(times, 95).toFixed(0)} ms), ${eligible.toLocaleString('en')} eligible | < 500 ms |
| same count, naive (fetch ids + attributes + events, test in JS), p50 of 3 | ${naiveP50.toFixed(0)} ms | — |
| naive / compiled | ${(naiveP50 / p50).toFixed(1)}× | — |
| materialise ${fmt(mat[0]?.rows ?? 0)} recipients, one INSERT … SELECT, median of ${runs} | ${fmt(medianRate)} rows/s (runs: ${mat.map((m) => `${(m.ms / 1000).toFixed(2)} s`).join(', ')}) | ≥ 200,000 rows/s |
| data generation (generate_series + VACUUM ANALYZE) | ${Number.isNaN(genMs) ? 'reused' : `${(genMs / 1000).toFixed(1)} s`} | — |
| load average (1/5/15 min) before → after | ${load(loadBefore)} → ${load(loadAfter)} | — |

<details><summary>count plan (EXPLAIN ANALYZE)</summary>

\`\`\`
${countPlan}
\`\`\`
</details>

<details><summary>ledger INSERT … SELECT plan</summary>

\`\`\`
${ledgerPlan}
\`\`\`
</details>`;
  console.log(md);
  if (!process.argv.includes('--no-write')) writeBenchSection(`segments-${db.kind}`, md);
}

await main();
