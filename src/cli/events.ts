// `mailwarden events ingest --format postfix|jsonl FILE|-` and `events prune`.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { validateEvents, type MonitorEvent, type Reject } from '../monitoring/events.ts';
import { PostfixParser } from '../monitoring/postfix.ts';
import { monitorFor, stopMonitor } from '../monitoring/registry.ts';
import type { Database } from '../db/client.ts';
import { fail, withDatabase } from './context.ts';

export type IngestSummary = { lines: number; accepted: number; rejected: number; rejects: Reject[]; alertsCreated: number };

/** Read a log stream, validate each record and ingest the good ones in batches. */
export async function ingestStream(database: Database, input: NodeJS.ReadableStream, format: 'postfix' | 'jsonl', opts: { year?: number; localDomains?: string[]; batch?: number } = {}): Promise<IngestSummary> {
  const monitor = monitorFor(database, { prune: false });
  const postfix = format === 'postfix' ? new PostfixParser({ year: opts.year, localDomains: opts.localDomains }) : null;
  const summary: IngestSummary = { lines: 0, accepted: 0, rejected: 0, rejects: [], alertsCreated: 0 };
  let batch: MonitorEvent[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const r = await monitor.ingest(batch);
    summary.accepted += r.accepted;
    summary.alertsCreated += r.alertsCreated;
    batch = [];
  };
  const reject = (r: Reject) => {
    summary.rejected++;
    if (summary.rejects.length < 1000) summary.rejects.push(r);
  };
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of rl) {
    summary.lines++;
    if (postfix) {
      const before = postfix.rejects.length;
      batch.push(...postfix.line(line));
      for (const r of postfix.rejects.slice(before)) reject(r);
    } else {
      if (!line.trim()) continue;
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch {
        reject({ index: summary.lines - 1, line: summary.lines, reason: 'not valid JSON' });
        continue;
      }
      const { events, rejects } = validateEvents([rec], 'jsonl');
      batch.push(...events);
      for (const r of rejects) reject({ ...r, index: summary.lines - 1, line: summary.lines });
    }
    if (batch.length >= (opts.batch ?? 2000)) await flush();
  }
  await flush();
  return summary;
}

export function registerEventsCommands(program: Command) {
  const events = program.command('events').description('Security events: ingest mail-server logs and event files, prune');
  events
    .command('ingest')
    .description('Ingest events from a file or standard input (-), validating each record')
    .requiredOption('--format <format>', 'postfix (maillog lines) or jsonl (one event per line, see docs/monitoring.md)')
    .option('--year <year>', 'year for syslog timestamps, which carry none (default: this year)', (v) => Number(v))
    .option('--local-domains <list>', 'comma-separated domains that are ours (forwarding detection)', (v) => v.split(',').map((d) => d.trim().toLowerCase()))
    .argument('<file>', 'path, or - for standard input')
    .action(async (file: string, o: { format: string; year?: number; localDomains?: string[] }) => {
      if (o.format !== 'postfix' && o.format !== 'jsonl') fail('--format must be postfix or jsonl', 2);
      await withDatabase(async (database) => {
        const input = file === '-' ? process.stdin : createReadStream(file);
        const s = await ingestStream(database, input, o.format as 'postfix' | 'jsonl', o);
        await stopMonitor(database);
        for (const r of s.rejects) process.stderr.write(`line ${r.line ?? r.index + 1}: ${r.reason}\n`);
        process.stdout.write(`${s.lines} lines read, ${s.accepted} events stored, ${s.rejected} rejected, ${s.alertsCreated} alerts raised\n`);
        if (s.rejected && !s.accepted) process.exitCode = 1;
      });
    });
  events
    .command('prune')
    .description('Delete events older than the retention setting now (serve also does this hourly)')
    .action(async () => {
      await withDatabase(async (database) => {
        const m = monitorFor(database, { prune: false });
        await m.ready;
        const n = await m.prune();
        await stopMonitor(database);
        process.stdout.write(`${n} events older than ${m.config.retentionDays} days deleted\n`);
      });
    });
}
