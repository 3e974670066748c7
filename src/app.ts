// Composition root: open the database, migrate, start jobs and the HTTP server.
// `serve` runs everything in one process; `worker` runs only the job workers.
import type PgBoss from 'pg-boss';
import { adminRoutes } from './auth/admin-routes.ts';
import { authRoutes } from './auth/routes.ts';
import { auditRoutes } from './audit/routes.ts';
import type { Config } from './config/index.ts';
import type { Logger } from './config/logger.ts';
import { deriveKey } from './crypto/aead.ts';
import { type Database, openDatabase } from './db/client.ts';
import { migrate } from './db/migrate.ts';
import { buildServer, type RoutesPlugin, type ServerDeps } from './http/server.ts';
import { createBoss, type JobDefinition, startJobs } from './jobs/boss.ts';
import { phishingRoutes } from './phishing/routes.ts';
import { settingsRoutes } from './settings/routes.ts';

/** Every domain's routes, in one list: a new domain adds itself here. */
export const domainRoutes: RoutesPlugin[] = [authRoutes, adminRoutes, auditRoutes, settingsRoutes, phishingRoutes];

/** Every domain's background jobs (run by `serve` and by `worker`). */
export const jobDefinitions: JobDefinition[] = [];

export function serverDeps(config: Config, database: Database, logger: Logger): ServerDeps {
  return { config, database, logger, totpKey: deriveKey(config.masterKey, 'totp-secrets') };
}

export async function openAndMigrate(config: Config, logger: Logger): Promise<Database> {
  const database = await openDatabase(config.database);
  await migrate(database, (m) => logger.info(m));
  return database;
}

export type Running = { url: string; close: () => Promise<void> };

export async function serve(config: Config, logger: Logger): Promise<Running> {
  const database = await openAndMigrate(config, logger);
  const boss = createBoss(database, { url: config.database.kind === 'postgres' ? config.database.url : undefined, logger });
  await startJobs(boss, jobDefinitions, logger);
  const { app } = await buildServer(serverDeps(config, database, logger), domainRoutes);
  const address = await app.listen({ port: config.port, host: config.host });
  const url = config.port === 0 ? address : config.publicUrl;
  return {
    url,
    async close() {
      await app.close();
      await stopBoss(boss);
      await database.close();
    },
  };
}

export async function worker(config: Config, logger: Logger): Promise<Running> {
  const database = await openAndMigrate(config, logger);
  const boss = createBoss(database, { url: config.database.kind === 'postgres' ? config.database.url : undefined, logger });
  await startJobs(boss, jobDefinitions, logger);
  return {
    url: '',
    async close() {
      await stopBoss(boss);
      await database.close();
    },
  };
}

async function stopBoss(boss: PgBoss) {
  await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
}
