import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '../config/logger.ts';
import { backendName, createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { createBoss, createQueues, startJobs } from './boss.ts';

let database: TestDatabase;
const logger = createLogger({ level: 'silent', format: 'json' });
before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  await database?.close();
});

const bossFor = () => createBoss(database, { url: database.url, logger });

test('a job sent before a restart is worked after it (jobs live in the database)', async () => {
  const first = bossFor();
  await first.start();
  await first.createQueue('test-restart');
  const id = await first.send('test-restart', { hello: 'world' });
  assert.ok(id);
  await first.stop({ graceful: false, wait: true });

  const second = bossFor();
  const seen = new Promise<unknown>((resolve) => {
    startJobs(second, [{ queue: 'test-restart', options: { pollingIntervalSeconds: 0.5 }, handler: async ([job]) => resolve(job.data) }], logger);
  });
  assert.deepEqual(await seen, { hello: 'world' });
  await second.stop({ graceful: true, wait: true, timeout: 5000 });
});

test('pg-boss tables live in the same database as the application', async () => {
  const r = await database.query<{ n: number }>(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'pgboss'`);
  assert.ok(r[0].n > 0);
});

test('two processes creating their queues at once on a fresh database both come up (no deadlock)', {
  skip: backendName !== 'postgres' && 'PGlite is single-process; runs with TEST_DATABASE_URL',
}, async () => {
  const fresh = await createTestDatabase();
  try {
    const queues = Array.from({ length: 12 }, (_, i) => `race-${i}`);
    const bosses = [0, 1].map(() => createBoss(fresh, { url: fresh.url, logger }));
    await Promise.all(
      bosses.map(async (b) => {
        await b.start();
        await createQueues(b, queues, fresh);
      }),
    );
    const r = await fresh.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgboss.queue WHERE name LIKE 'race-%'`);
    assert.equal(r[0].n, 12);
    await Promise.all(bosses.map((b) => b.stop({ graceful: false, wait: true })));
  } finally {
    await fresh.close();
  }
});
