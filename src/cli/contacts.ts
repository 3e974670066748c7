// `mailwarden contacts import FILE …`: streaming import from the server, with a
// progress bar (rate and ETA). Re-run with --resume ID after a crash.
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Transform } from 'node:stream';
import type { Command } from 'commander';
import { keyProviderFromConfig, Vault } from '../contacts/vault.ts';
import { createImport, getImport, type ImportOptions, type ImportProgress, runImport } from '../contacts/import.ts';
import { Problem } from '../http/problem.ts';
import { cliActor, fail, withDatabase } from './context.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function progressLine(p: { bytes: number; total: number; rows: number; startedAt: number; now?: number }): string {
  const now = p.now ?? Date.now();
  const secs = Math.max((now - p.startedAt) / 1000, 0.001);
  const frac = p.total > 0 ? Math.min(p.bytes / p.total, 1) : 0;
  const width = 30;
  const filled = Math.round(frac * width);
  const rate = p.rows / secs;
  const eta = frac > 0 ? secs / frac - secs : Number.NaN;
  const fmt = (s: number) => (Number.isFinite(s) ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : '--');
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(1)}% ${p.rows.toLocaleString('en')} rows ${Math.round(rate).toLocaleString('en')} rows/s ETA ${fmt(eta)}`;
}

export function registerContactsCommands(program: Command) {
  const contacts = program.command('contacts').description('Customer-data vault: contacts');
  contacts
    .command('import')
    .description('Import contacts from a CSV or JSON Lines file (streamed; resumable)')
    .argument('<file>', 'CSV (header row required) or .jsonl file')
    .option('--list <name>', 'add every imported contact to this list (created if missing)')
    .option('--map <col=field>', 'map a column to a field (email, firstName, lastName, phone, country, timeZone, notes, or an attribute key); repeatable', collect, [])
    .option('--on-duplicate <mode>', 'update | skip', 'skip')
    .option('--format <format>', 'csv | jsonl (default: from the file extension)')
    .option('--default-country <code>', 'country for national phone numbers')
    .option('--resume <importId>', 'continue an interrupted import of the same file')
    .option('--batch-size <n>', 'rows per transaction', '1000')
    .option('--consent <purpose=state>', 'record consent for every imported contact, e.g. marketing_email=subscribed (evidence: this import file)')
    .action(async (file: string, opts: { list?: string; map: string[]; onDuplicate: string; format?: string; defaultCountry?: string; resume?: string; batchSize: string; consent?: string }) => {
      if (opts.onDuplicate !== 'update' && opts.onDuplicate !== 'skip') fail('--on-duplicate must be update or skip', 2);
      const format = (opts.format ?? (/\.(jsonl|ndjson)$/i.test(file) ? 'jsonl' : 'csv')) as 'csv' | 'jsonl';
      const mapping: Record<string, string> = {};
      for (const m of opts.map) {
        const i = m.lastIndexOf('=');
        if (i <= 0) fail(`--map ${m}: expected column=field`, 2);
        mapping[m.slice(0, i)] = m.slice(i + 1);
      }
      if (!opts.resume && Object.keys(mapping).length === 0) fail('give at least one --map column=field (email is required)', 2);
      const consentMatch = opts.consent ? /^([a-z0-9_:-]{1,64})=(subscribed|pending|unsubscribed)$/.exec(opts.consent) : null;
      if (opts.consent && !consentMatch) fail('--consent must be purpose=subscribed|pending|unsubscribed', 2);
      const consent = consentMatch ? { purpose: consentMatch[1], state: consentMatch[2] as 'subscribed' | 'pending' | 'unsubscribed' } : null;
      const total = statSync(file).size;
      await withDatabase(async (database, config) => {
        const vault = new Vault(database.db, keyProviderFromConfig(config));
        await vault.ready().catch((err) => fail((err as Error).message, 2));
        const options: ImportOptions = { mapping, list: opts.list ?? null, onDuplicate: opts.onDuplicate as 'update' | 'skip', defaultCountry: opts.defaultCountry ?? null, consent };
        const imp = opts.resume
          ? await getImport(database.db, opts.resume).catch(() => fail(`no import ${opts.resume}`))
          : await createImport(database.db, { filename: basename(file), format, options, createdBy: cliActor().label });
        process.stderr.write(`import ${imp.id}${imp.rowsDone ? ` (resuming after ${imp.rowsDone} rows)` : ''}\n`);
        let bytes = 0;
        const counter = new Transform({
          transform(chunk: Buffer, _e, cb) {
            bytes += chunk.length;
            cb(null, chunk);
          },
        });
        const startedAt = Date.now();
        let last = 0;
        const tty = process.stderr.isTTY;
        const show = (p: ImportProgress, force = false) => {
          if (!force && Date.now() - last < 250) return;
          last = Date.now();
          const line = progressLine({ bytes, total, rows: p.stats.rowsYielded, startedAt });
          process.stderr.write(tty ? `\r${line}` : `${line}\n`);
        };
        let final: ImportProgress | null = null;
        try {
          const done = await runImport(database.db, vault, cliActor(), imp.id, createReadStream(file).pipe(counter), {
            batchSize: Number(opts.batchSize),
            onProgress: (p) => {
              final = p;
              show(p);
            },
          });
          if (final) show(final, true);
          process.stderr.write('\n');
          process.stdout.write(
            `imported ${done.rowsDone} rows: ${done.inserted} new, ${done.updated} updated, ${done.skipped} skipped, ${done.failed} rejected, ${done.suppressed} suppressed\n`,
          );
          if (done.failed > 0) process.stdout.write(`error file: mailwarden contacts errors ${done.id} > errors.csv (or download it from the console)\n`);
        } catch (err) {
          process.stderr.write('\n');
          if (err instanceof Problem) fail(err.detail);
          fail(`${(err as Error).message}; resume with --resume ${imp.id}`);
        }
      });
    });

  contacts
    .command('errors')
    .description('Print the error file (line,reason,raw) of an import')
    .argument('<importId>')
    .action(async (importId: string) => {
      const { importErrors } = await import('../contacts/import.ts');
      const { errorFileCsv } = await import('../contacts/import-rows.ts');
      await withDatabase(async (database, config) => {
        const vault = new Vault(database.db, keyProviderFromConfig(config));
        process.stdout.write(errorFileCsv(await importErrors(database.db, await vault.ready(), importId)));
      });
    });
}
