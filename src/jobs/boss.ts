// pg-boss job engine on the same database as everything else. On PostgreSQL it
// opens its own small pool; on PGlite it runs through pg-boss's `db` adapter
// (multi-statement SQL through exec, parameterised SQL through query).
import PgBoss from 'pg-boss';
import type { Database } from '../db/client.ts';
import type { Logger } from '../config/logger.ts';

export type JobHandler = (jobs: PgBoss.Job<any>[]) => Promise<unknown>;
export type JobDefinition = { queue: string; handler: JobHandler; options?: PgBoss.WorkOptions };

export function createBoss(database: Database, opts: { url?: string; logger: Logger }): PgBoss {
  let boss: PgBoss;
  if (database.kind === 'postgres') {
    if (!opts.url) throw new Error('createBoss: PostgreSQL url required');
    boss = new PgBoss({ connectionString: opts.url, max: 4 });
  } else {
    boss = new PgBoss({
      db: {
        async executeSql(text: string, values?: unknown[]) {
          if (values && values.length > 0) return { rows: await database.query(text, values) };
          const pglite = database.pglite!;
          const results = await pglite.exec(text);
          return { rows: results.at(-1)?.rows ?? [] };
        },
      },
    } as PgBoss.ConstructorOptions);
  }
  boss.on('error', (err) => opts.logger.error({ err }, 'job engine error'));
  return boss;
}

/**
 * Start pg-boss and register the given workers (`serve` and `worker` do this).
 * `database`: on PostgreSQL, queue creation is serialised across processes
 * with a session advisory lock — pg-boss 10 creates a partition table per
 * queue, and two workers starting together on a fresh database deadlocked
 * in `createQueue` (one of them exited).
 */
export async function startJobs(
  boss: PgBoss,
  defs: JobDefinition[],
  logger: Logger,
  database?: Pick<Database, 'kind' | 'pool'>,
): Promise<void> {
  await boss.start();
  await createQueues(
    boss,
    defs.map((d) => d.queue),
    database,
  );
  for (const def of defs) {
    await boss.work(def.queue, def.options ?? {}, def.handler);
    logger.debug({ queue: def.queue }, 'worker registered');
  }
}

/** Create the queues that do not exist yet, one process at a time on PostgreSQL (see startJobs). */
export async function createQueues(
  boss: PgBoss,
  queues: string[],
  database?: Pick<Database, 'kind' | 'pool'>,
): Promise<void> {
  await withQueueLock(database, async () => {
    for (const queue of queues) if (!(await boss.getQueue(queue))) await boss.createQueue(queue);
  });
}

const QUEUE_LOCK = 727_012;

async function withQueueLock(database: Pick<Database, 'kind' | 'pool'> | undefined, fn: () => Promise<void>) {
  if (database?.kind !== 'postgres' || !database.pool) return fn();
  const client = await database.pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [QUEUE_LOCK]);
    try {
      await fn();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [QUEUE_LOCK]);
    }
  } finally {
    client.release();
  }
}
