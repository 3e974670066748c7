import type { Command } from 'commander';
import { createLogger } from '../config/logger.ts';
import { openDatabase } from '../db/client.ts';
import { migrate } from '../db/migrate.ts';
import { serve, worker } from '../app.ts';
import { VaultError } from '../contacts/vault.ts';
import { loadConfigOrExit } from './context.ts';

/** A wrong or missing master key is an operator error: one clear line, exit 2. */
function refuseToStart(err: unknown): never {
  if (err instanceof VaultError) {
    process.stderr.write(`mailwarden: refusing to start: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

function onSignals(close: () => Promise<void>) {
  let closing = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => {
      if (closing) process.exit(1);
      closing = true;
      close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
}

export function registerServeCommands(program: Command) {
  program
    .command('serve')
    .description('Run the HTTP API, the console and the job workers in one process (the embedded default)')
    .action(async () => {
      const config = loadConfigOrExit();
      const logger = createLogger({ level: config.logLevel, format: config.logFormat });
      if (config.masterKeySource === 'generated')
        logger.warn(`generated a new master key in ${config.dataDir}/master.key — back it up: without it the encrypted data cannot be read`);
      const running = await serve(config, logger).catch(refuseToStart);
      logger.info({ database: config.database.kind, outbox: !config.smtpUrl }, 'mailwarden is running');
      process.stdout.write(`\n  mailwarden console: ${running.url}\n\n`);
      onSignals(running.close);
    });

  program
    .command('worker')
    .description('Run job workers only (scale-out: several worker processes against one PostgreSQL)')
    .action(async () => {
      const config = loadConfigOrExit();
      const logger = createLogger({ level: config.logLevel, format: config.logFormat });
      if (config.database.kind === 'pglite') {
        process.stderr.write('mailwarden: worker needs DATABASE_URL (a PostgreSQL server); the embedded database runs its workers inside `serve`.\n');
        process.exit(2);
      }
      const running = await worker(config, logger).catch(refuseToStart);
      logger.info('mailwarden worker is running');
      onSignals(running.close);
    });

  program
    .command('migrate')
    .description('Apply pending database migrations and exit')
    .action(async () => {
      const config = loadConfigOrExit();
      const database = await openDatabase(config.database);
      const applied = await migrate(database, (m) => process.stdout.write(`${m}\n`));
      process.stdout.write(applied.length ? `${applied.length} migration(s) applied\n` : 'database schema is current\n');
      await database.close();
    });
}
