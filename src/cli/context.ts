// Shared set-up for CLI commands: configuration (a bad value is one clear line
// and exit 2), logger, and a migrated database.
import { ConfigError, type Config, loadConfig } from '../config/index.ts';
import { createLogger, type Logger } from '../config/logger.ts';
import { openAndMigrate } from '../app.ts';
import type { Database } from '../db/client.ts';

export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mailwarden: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

export function cliLogger(config: Config, level = 'warn'): Logger {
  return createLogger({ level: process.env.LOG_LEVEL ?? level, format: config.logFormat }, undefined);
}

export async function withDatabase<T>(fn: (database: Database, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfigOrExit();
  const database = await openAndMigrate(config, cliLogger(config));
  try {
    return await fn(database, config);
  } finally {
    await database.close();
  }
}

export const cliActor = () => ({ type: 'system' as const, label: `cli:${process.env.USER ?? 'unknown'}` });

export function fail(message: string, code = 1): never {
  process.stderr.write(`mailwarden: ${message}\n`);
  process.exit(code);
}
