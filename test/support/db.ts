// Test databases that are cheap to get: the schema is migrated once into a
// template, and every test file gets its own clone of it.
//  - PGlite (default): a migrated data dir is dumped to a tarball in the temp dir
//    (keyed by the migrations' checksums) and each test loads it (~1 s instead of 5–8 s).
//  - PostgreSQL (TEST_DATABASE_URL): a template database is migrated once and each
//    test gets `CREATE DATABASE … TEMPLATE …`, dropped again on close.
import { PGlite } from '@electric-sql/pglite';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Database, openPglite, openPostgres } from '../../src/db/client.ts';
import { listMigrations, migrate } from '../../src/db/migrate.ts';

export const testDatabaseUrl = process.env.TEST_DATABASE_URL;
export const backendName = testDatabaseUrl ? 'postgres' : 'pglite';

const schemaHash = createHash('sha256')
  .update(listMigrations().map((m) => m.checksum).join(','))
  .digest('hex')
  .slice(0, 12);

async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch {
      // A lock older than two minutes belongs to a crashed run.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { force: true });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

async function pgliteTemplate(): Promise<Blob> {
  const path = join(tmpdir(), `mailwarden-test-template-${schemaHash}.tar.gz`);
  if (!existsSync(path)) {
    await withFileLock(path, async () => {
      if (existsSync(path)) return;
      const database = await openPglite(undefined);
      await migrate(database);
      const dump = await database.pglite!.dumpDataDir('gzip');
      writeFileSync(`${path}.tmp`, Buffer.from(await dump.arrayBuffer()));
      await database.close();
      // rename is atomic: a reader never sees half a template
      const { renameSync } = await import('node:fs');
      renameSync(`${path}.tmp`, path);
    });
  }
  return new Blob([readFileSync(path)]);
}

function withDatabaseName(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function postgresTemplate(admin: pg.Client, url: string): Promise<string> {
  const name = `mw_tpl_${schemaHash}`;
  await admin.query('SELECT pg_advisory_lock(727002)');
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) {
      // Built under a temporary name and renamed when complete, so a crashed
      // run never leaves a half-migrated template behind.
      const building = `${name}_building`;
      await admin.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${building}`);
      const database = await openPostgres(withDatabaseName(url, building), { max: 2 });
      await migrate(database);
      await database.close();
      await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
    }
  } finally {
    await admin.query('SELECT pg_advisory_unlock(727002)');
  }
  return name;
}

export type TestDatabase = Database & { url?: string };

/** A fresh, migrated database for one test file. Close it in `after()`. */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (!testDatabaseUrl) {
    const pglite = await PGlite.create({ loadDataDir: await pgliteTemplate() });
    return openPglite(undefined, pglite);
  }
  const admin = new pg.Client({ connectionString: testDatabaseUrl });
  await admin.connect();
  const template = await postgresTemplate(admin, testDatabaseUrl);
  const name = `mw_t_${process.pid}_${randomBytes(4).toString('hex')}`;
  // CREATE DATABASE … TEMPLATE fails while another session is connected to the template.
  for (let attempt = 0; ; attempt++) {
    try {
      await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
      break;
    } catch (err) {
      if (attempt > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await admin.end();
  const url = withDatabaseName(testDatabaseUrl, name);
  const database = await openPostgres(url, { max: 5 });
  return {
    ...database,
    url,
    async close() {
      await database.close();
      const a = new pg.Client({ connectionString: testDatabaseUrl });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}
