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

/** Start pg-boss and register the given workers (`serve` and `worker` do this). */
export async function startJobs(boss: PgBoss, defs: JobDefinition[], logger: Logger): Promise<void> {
  await boss.start();
  for (const def of defs) {
    await boss.createQueue(def.queue);
    await boss.work(def.queue, def.options ?? {}, def.handler);
    logger.debug({ queue: def.queue }, 'worker registered');
  }
}
