// Development entry point: node --import tsx src/phishing/bin.ts [--format text|jsonl] [--verbose] PATH...
// (The product CLI wires scanPaths into `mailwarden scan`.)
import { scanPaths } from './cli.ts';

const args = process.argv.slice(2);
let format: 'text' | 'jsonl' = 'text';
let verbose = false;
const paths: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--format') {
    const v = args[++i];
    if (v !== 'text' && v !== 'jsonl') {
      console.error('--format must be text or jsonl');
      process.exit(2);
    }
    format = v;
  } else if (a.startsWith('--format=')) format = a.slice(9) === 'jsonl' ? 'jsonl' : 'text';
  else if (a === '--verbose' || a === '-v') verbose = true;
  else paths.push(a);
}
if (!paths.length) {
  console.error('usage: node --import tsx src/phishing/bin.ts [--format text|jsonl] [--verbose] PATH...');
  process.exit(2);
}
const summary = await scanPaths(paths, { format, out: process.stdout, verbose });
process.exitCode = summary.errors > 0 && summary.messages === 0 ? 1 : 0;
