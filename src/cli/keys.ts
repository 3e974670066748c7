// `mailwarden keys …`: data-key and master-key rotation (both audited).
import type { Command } from 'commander';
import { createBoss } from '../jobs/boss.ts';
import { enqueueRotation } from '../contacts/jobs.ts';
import { getRotation, type Rotation, rotateMasterKey, runningRotations, runRotation, startFieldKeyRotation } from '../contacts/rotation.ts';
import { keyProviderFromConfig, Vault } from '../contacts/vault.ts';
import { generateMasterKey } from '../crypto/key-provider.ts';
import { resealUnderMaster } from '../crypto/master-reseal.ts';
import { appendAudit } from '../audit/service.ts';
import { dataKeyRows } from '../contacts/vault.ts';
import { cliActor, cliLogger, fail, withDatabase } from './context.ts';

function describe(r: Rotation): string {
  const pct = r.total > 0 ? Math.min(100, (r.done / r.total) * 100).toFixed(1) : '100.0';
  return `rotation ${r.id}: field key v${r.fromVersion} → v${r.toVersion}, ${r.state}, ${r.done}/${r.total} rows (${pct}%)`;
}

async function sweepInline(db: Parameters<typeof runRotation>[0], vault: Vault, rotation: Rotation) {
  const started = Date.now();
  const final = await runRotation(db, vault, cliActor(), rotation.id, {
    onProgress: (r) => {
      const rate = Math.round(r.done / Math.max((Date.now() - started) / 1000, 0.001));
      process.stderr.write(`\r${describe(r)} ${rate.toLocaleString('en')} rows/s   `);
    },
  });
  process.stderr.write('\n');
  process.stdout.write(`${describe(final)}\n`);
}

export function registerKeysCommands(program: Command) {
  const keys = program.command('keys').description('Encryption keys of the customer-data vault');

  keys
    .command('status')
    .description('Data-key versions and the latest rotation')
    .action(async () => {
      await withDatabase(async (database, config) => {
        const vault = new Vault(database.db, keyProviderFromConfig(config));
        await vault.ready().catch((err) => fail((err as Error).message, 2));
        for (const k of await dataKeyRows(database.db)) process.stdout.write(`${k.purpose.padEnd(12)} v${k.version}  ${k.state.padEnd(9)} wrapped by ${k.masterKeyId}\n`);
        const r = await getRotation(database.db);
        process.stdout.write(r ? `${describe(r)}\n` : 'no rotation yet\n');
      });
    });

  keys
    .command('rotate')
    .description('Add a new field data-key version and re-encrypt every row under it')
    .option('--background', 'queue the re-encryption for the server’s job workers (PostgreSQL) instead of running it here')
    .action(async (opts: { background?: boolean }) => {
      await withDatabase(async (database, config) => {
        const vault = new Vault(database.db, keyProviderFromConfig(config));
        await vault.ready().catch((err) => fail((err as Error).message, 2));
        const rotation = await startFieldKeyRotation(database.db, vault, cliActor());
        process.stdout.write(`${describe(rotation)}\n`);
        if (opts.background) {
          if (config.database.kind !== 'postgres') fail('--background needs PostgreSQL; with the embedded database run `mailwarden keys resume` or let `serve` resume it', 2);
          const boss = createBoss(database, { url: config.database.url, logger: cliLogger(config) });
          await boss.start();
          await enqueueRotation(boss, rotation.id);
          await boss.stop({ graceful: true, wait: true });
          process.stdout.write('queued; follow it with `mailwarden keys status` or in the console\n');
          return;
        }
        await sweepInline(database.db, vault, rotation);
      });
    });

  keys
    .command('resume')
    .description('Continue an interrupted field-key rotation here')
    .action(async () => {
      await withDatabase(async (database, config) => {
        const vault = new Vault(database.db, keyProviderFromConfig(config));
        await vault.ready().catch((err) => fail((err as Error).message, 2));
        const running = await runningRotations(database.db);
        if (running.length === 0) return void process.stdout.write('no rotation is running\n');
        for (const r of running) await sweepInline(database.db, vault, r);
      });
    });

  keys
    .command('rotate-master')
    .description('Re-wrap the data keys under MAILWARDEN_MASTER_KEY (set the old key in MAILWARDEN_MASTER_KEY_PREVIOUS)')
    .action(async () => {
      await withDatabase(async (database, config) => {
        const provider = keyProviderFromConfig(config);
        const r = await rotateMasterKey(database.db, provider, cliActor()).catch((err) => fail((err as Error).message, 2));
        process.stdout.write(`re-wrapped ${r.rewrapped} data key(s) under master key ${r.masterKeyId}\n`);
        // TOTP secrets, DKIM keys, relay passwords, queued transactional mail: sealed under master sub-keys.
        const resealed = await resealUnderMaster(database.db, config.masterKey, config.masterKeyPrevious ?? []);
        for (const x of resealed) process.stdout.write(`${x.what}: ${x.resealed} re-sealed, ${x.current} already current${x.unreadable ? `, ${x.unreadable} UNREADABLE under every configured key` : ''}\n`);
        await appendAudit(database.db, cliActor(), { action: 'keys.master_resealed', details: { report: resealed } });
        if (resealed.some((x) => x.unreadable)) fail('some secrets open under none of the configured master keys: keep MAILWARDEN_MASTER_KEY_PREVIOUS and find the key they were sealed with', 1);
        process.stdout.write('remove MAILWARDEN_MASTER_KEY_PREVIOUS once every node runs with the new key\n');
      });
    });

  keys
    .command('generate')
    .description('Print a new random master key (base64)')
    .action(() => {
      process.stdout.write(`${generateMasterKey()}\n`);
    });
}
