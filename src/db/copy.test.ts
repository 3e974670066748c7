// Binary COPY and binary array parameters against a real PostgreSQL: every
// value the contact import writes must read back exactly as it went in.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'drizzle-orm';
import { backendName, createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { rows } from './client.ts';
import { BinaryCopyWriter, byteaArrayParam, copyFrom, pgClientOf } from './copy.ts';

describe('binary COPY on PostgreSQL', { skip: backendName !== 'postgres' && 'needs PostgreSQL (TEST_DATABASE_URL)' }, () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
    await database.exec(`CREATE TABLE copy_probe (id uuid PRIMARY KEY, a int2, b int4, c int8, d bool, e bytea,
      f text, g jsonb, h text[])`);
  });
  after(() => database?.close());

  test('every field type round-trips, NULLs included, inside a transaction', async () => {
    const blob = Buffer.from([0, 1, 2, 0xff, 0x5c, 0x0a]);
    await database.db.transaction(async (tx) => {
      const client = pgClientOf(tx);
      assert.ok(client, 'a node-postgres transaction exposes its client');
      const w = new BinaryCopyWriter(16); // tiny hint: the writer must grow
      w.row(9)
        .uuid('0192f0c0-1234-7abc-8def-0123456789ab')
        .int2(-7)
        .int4(2_147_483_647)
        .int8(9_007_199_254_740_991)
        .bool(true)
        .bytea(blob)
        .text('Zoë \\ "quoted"\ttab\nline – 𝔘𝔫𝔦')
        .jsonb(JSON.stringify({ plan: 'pro', n: 3, nested: { ok: true } }))
        .textArray(['vip', 'a,b', 'quote"d', 'ünï']);
      w.row(9)
        .uuid('00000000-0000-0000-0000-000000000001')
        .int2(0)
        .int4(null)
        .int8(null)
        .bool(null)
        .bytea(null)
        .text(null)
        .jsonb('{}')
        .textArray([]);
      await copyFrom(client!, 'COPY copy_probe FROM STDIN (FORMAT binary)', w.finish());
    });
    const got = await rows<Record<string, unknown>>(database.db, sql`SELECT * FROM copy_probe ORDER BY id DESC`);
    assert.equal(got.length, 2);
    assert.deepEqual(
      { ...got[0], e: Buffer.from(got[0].e as Uint8Array) },
      {
        id: '0192f0c0-1234-7abc-8def-0123456789ab',
        a: -7,
        b: 2_147_483_647,
        c: 9_007_199_254_740_991,
        d: true,
        e: blob,
        f: 'Zoë \\ "quoted"\ttab\nline – 𝔘𝔫𝔦',
        g: { plan: 'pro', n: 3, nested: { ok: true } },
        h: ['vip', 'a,b', 'quote"d', 'ünï'],
      },
    );
    assert.deepEqual(got[1], {
      id: '00000000-0000-0000-0000-000000000001',
      a: 0,
      b: null,
      c: null,
      d: null,
      e: null,
      f: null,
      g: {},
      h: [],
    });
  });

  test('a COPY the server refuses rejects and leaves nothing behind', async () => {
    const w = new BinaryCopyWriter();
    w.row(1).uuid('0192f0c0-1234-7abc-8def-0123456789ab'); // duplicate key of the row above
    await assert.rejects(
      database.db.transaction(async (tx) =>
        copyFrom(pgClientOf(tx)!, 'COPY copy_probe (id) FROM STDIN (FORMAT binary)', w.finish()),
      ),
      /duplicate key/,
    );
    const [{ n }] = await rows<{ n: number }>(database.db, sql`SELECT count(*)::int AS n FROM copy_probe`);
    assert.equal(n, 2);
  });

  test('a malformed UUID is refused before anything is sent', () => {
    assert.throws(() => new BinaryCopyWriter().uuid('not-a-uuid-at-all-not-a-uuid-at-all!'), /not a UUID/);
    assert.throws(() => new BinaryCopyWriter().uuid('1234'), /not a UUID/);
  });

  test('bytea[] parameters in binary keep bytes and NULLs in order', async () => {
    const values = [Buffer.from('hello'), null, Buffer.alloc(0), Buffer.from([0, 0xff, 0x22])];
    const [r] = await rows<{ v: (Uint8Array | null)[]; n: number }>(
      database.db,
      sql`SELECT ${sql.param(byteaArrayParam(values))}::bytea[] AS v, cardinality(${sql.param(byteaArrayParam(values))}::bytea[]) AS n`,
    );
    assert.equal(r.n, 4);
    assert.deepEqual(
      r.v.map((x) => (x === null ? null : Buffer.from(x).toString('hex'))),
      ['68656c6c6f', null, '', '00ff22'],
    );
  });

  test('outside a transaction there is no client to COPY on', () => {
    assert.equal(pgClientOf(database.db), null);
  });
});
