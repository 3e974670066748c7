// `mailwarden admin …`: break-glass account administration (audited as the CLI user).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { findUserByEmail } from '../auth/service.ts';
import { createFirstOwner, createUser, needsSetup, resetTwoFactor, unlockUser } from '../auth/users.ts';
import { Problem } from '../http/problem.ts';
import { cliActor, fail, withDatabase } from './context.ts';

async function readPassword(file: string | undefined): Promise<string> {
  if (file) return readFileSync(file === '-' ? 0 : file, 'utf8').replace(/\r?\n$/, '');
  if (process.env.MAILWARDEN_ADMIN_PASSWORD) return process.env.MAILWARDEN_ADMIN_PASSWORD;
  fail('give the password with --password-file FILE (or - for standard input)', 2);
}

function explain(err: unknown): never {
  if (err instanceof Problem) fail(err.detail, 1);
  throw err;
}

export function registerAdminCommands(program: Command) {
  const admin = program.command('admin').description('Administer staff accounts from the server');

  admin
    .command('create')
    .description('Create an owner account (the first one, or another owner)')
    .requiredOption('--email <email>', 'email address of the account')
    .option('--name <name>', 'display name', 'Owner')
    .option('--password-file <file>', 'file holding the password (- for standard input)')
    .action(async (opts: { email: string; name: string; passwordFile?: string }) => {
      const password = await readPassword(opts.passwordFile);
      await withDatabase(async ({ db }) => {
        const input = { email: opts.email, name: opts.name, password };
        const user = await ((await needsSetup(db)) ? createFirstOwner(db, cliActor(), input) : createUser(db, cliActor(), { ...input, role: 'owner' })).catch(explain);
        process.stdout.write(`created owner ${user.email} (id ${user.id})\n`);
      });
    });

  admin
    .command('unlock')
    .description('Lift a sign-in lock after repeated failures')
    .argument('<email>', 'account email')
    .action(async (email: string) => {
      await withDatabase(async ({ db }) => {
        const cleared = await unlockUser(db, cliActor(), email);
        process.stdout.write(cleared ? `unlocked ${email}\n` : `${email} was not locked\n`);
      });
    });

  admin
    .command('reset-2fa')
    .description('Remove an account’s second factor; it must enrol again at next sign-in')
    .argument('<email>', 'account email')
    .action(async (email: string) => {
      await withDatabase(async ({ db }) => {
        const user = await findUserByEmail(db, email);
        if (!user) fail(`no account ${email}`);
        await resetTwoFactor(db, cliActor(), user.id);
        process.stdout.write(`two-factor authentication reset for ${email}; sessions ended\n`);
      });
    });
}
