// `mailwarden doctor`: check configuration, database, keys; say what is wrong and how to fix it.
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { type ConfigError, loadConfig } from '../config/index.ts';
import { openDatabase } from '../db/client.ts';
import { pendingMigrations } from '../db/migrate.ts';

type Check = { name: string; ok: boolean; detail: string; fix?: string };

export async function runDoctor(env?: Record<string, string | undefined>): Promise<Check[]> {
  const checks: Check[] = [];
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
    checks.push({
      name: 'configuration',
      ok: true,
      detail: `port ${config.port}, public URL ${config.publicUrl}`,
    });
  } catch (err) {
    const e = err as ConfigError;
    checks.push({
      name: 'configuration',
      ok: false,
      detail: e.message,
      fix: `fix ${e.variable ?? 'the environment'} and run doctor again`,
    });
    return checks;
  }
  checks.push({ name: 'master key', ok: true, detail: `from ${config.masterKeySource}` });
  if (config.masterKeySource === 'data-dir' || config.masterKeySource === 'generated') {
    const mode = statSync(`${config.dataDir}/master.key`).mode & 0o777;
    checks.push({
      name: 'master key file permissions',
      ok: (mode & 0o077) === 0,
      detail: `mode ${mode.toString(8)}`,
      fix: `chmod 600 ${config.dataDir}/master.key`,
    });
  }
  try {
    const database = await openDatabase(config.database);
    const pending = await pendingMigrations(database);
    checks.push({
      name: 'database',
      ok: true,
      detail:
        config.database.kind === 'pglite'
          ? `embedded PGlite in ${config.database.dataDir}`
          : 'PostgreSQL reachable',
    });
    checks.push({
      name: 'migrations',
      ok: pending.length === 0,
      detail: pending.length ? `${pending.length} pending: ${pending.join(', ')}` : 'current',
      fix: 'run `mailwarden migrate` (serve also migrates at start)',
    });
    await database.close();
  } catch (err) {
    checks.push({
      name: 'database',
      ok: false,
      detail: (err as Error).message,
      fix:
        config.database.kind === 'postgres'
          ? 'check DATABASE_URL, that the server runs and accepts this user'
          : `check that ${config.dataDir} is writable and not used by another process`,
    });
  }
  checks.push({
    name: 'mail relay',
    ok: true,
    detail: config.smtpUrl
      ? `SMTP relay ${config.smtpUrl
          .split(',')
          .map((u) => new URL(u.trim()).host)
          .join(', ')}`
      : 'none configured: mail is captured in the built-in outbox',
  });
  checks.push({
    name: 'console build',
    ok: existsSync(new URL('../../web/dist/index.html', import.meta.url)),
    detail: 'web/dist',
    fix: 'run `npm run build:web` (npm start does it for you)',
  });
  return checks;
}

export function registerDoctorCommand(program: Command) {
  program
    .command('doctor')
    .description('Check configuration, database and keys; print what is wrong and how to fix it')
    .action(async () => {
      const checks = await runDoctor();
      for (const c of checks)
        process.stdout.write(
          `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}${!c.ok && c.fix ? `\n      fix: ${c.fix}` : ''}\n`,
        );
      process.exit(checks.every((c) => c.ok) ? 0 : 1);
    });
}
