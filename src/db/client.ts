// One Drizzle database over either PGlite (embedded default) or node-postgres.
// Driver differences are normalised here so repositories never see them.
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { type SQL, sql } from 'drizzle-orm';
import pg from 'pg';
import { mkdirSync } from 'node:fs';
import * as schema from './schema.ts';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** Either the database or a transaction on it: repositories accept both. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0] | Db;

export type Database = {
  kind: 'pglite' | 'postgres';
  db: Db;
  /** Raw SQL with parameters; rows as plain objects (used by pg-boss and by tools). */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Several statements separated by semicolons, without parameters. */
  exec(text: string): Promise<void>;
  /** Present on PGlite only: the embedded instance (for dumps in tests). */
  pglite?: PGlite;
  pool?: pg.Pool;
  close(): Promise<void>;
};

// node-postgres returns bigint (int8) and numeric as strings; counts and ids fit
// in a double, so parse int8 as number on both back ends.
pg.types.setTypeParser(20, (v) => Number(v));

export async function openPglite(dataDir: string | undefined, existing?: PGlite): Promise<Database> {
  if (dataDir && !dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
  const client = existing ?? (await PGlite.create(dataDir));
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return {
    kind: 'pglite',
    db,
    pglite: client,
    async query(text, params) {
      const r = await client.query(text, params as any[]);
      return r.rows as any[];
    },
    async exec(text) {
      await client.exec(text);
    },
    async close() {
      if (!client.closed) await client.close();
    },
  };
}

export async function openPostgres(url: string, opts: { max?: number } = {}): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10 });
  // An idle connection the server closes (restart, DROP DATABASE … FORCE, pg_terminate_backend) is
  // emitted on the pool; without a listener that crashes the process. pg-pool already dropped it.
  pool.on('error', () => undefined);
  // Fail fast with a clear error when the server is unreachable.
  const c = await pool.connect();
  c.release();
  const db = drizzlePg(pool, { schema }) as unknown as Db;
  return {
    kind: 'postgres',
    db,
    pool,
    async query(text, params) {
      const r = await pool.query(text, params as any[]);
      return r.rows;
    },
    async exec(text) {
      await pool.query(text);
    },
    async close() {
      await pool.end();
    },
  };
}

export async function openDatabase(
  cfg: { kind: 'pglite'; dataDir: string } | { kind: 'postgres'; url: string },
): Promise<Database> {
  return cfg.kind === 'pglite' ? openPglite(cfg.dataDir) : openPostgres(cfg.url);
}

/** Rows of a raw Drizzle `sql` query, the same shape on both drivers. */
export async function rows<T>(db: Tx, query: SQL): Promise<T[]> {
  const r = (await db.execute(query)) as unknown as { rows: T[] };
  return r.rows;
}

/** `count(*)` as a number on both drivers. */
export const countAll = sql<number>`count(*)::int`;
