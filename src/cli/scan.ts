// `mailwarden scan [--format text|jsonl] PATH...`: score files, folders and mbox files.
import type { Command } from 'commander';
import { Option } from 'commander';
import { scanPaths } from '../phishing/cli.ts';

export function registerScanCommand(program: Command) {
  program
    .command('scan')
    .description('Score raw messages for phishing (.eml/.txt files, folders, mbox files) with readable reasons')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'jsonl']).default('text'))
    .option('--verbose', 'list every reason, not only the top three (text format)')
    .option('--live-auth', 'check SPF/DKIM/DMARC/ARC with DNS instead of trusting Authentication-Results')
    .argument('<paths...>', 'files or folders')
    .action(async (paths: string[], opts: { format: 'text' | 'jsonl'; verbose?: boolean; liveAuth?: boolean }) => {
      const summary = await scanPaths(paths, {
        format: opts.format,
        out: process.stdout,
        verbose: opts.verbose,
        scan: { authMode: opts.liveAuth ? 'live' : 'offline' },
      });
      // Unreadable files were reported line by line; fail only when nothing could be read.
      process.exitCode = summary.errors > 0 && summary.messages === 0 ? 1 : 0;
    });
}
