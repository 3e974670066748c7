#!/usr/bin/env node
// npm run bench -- NAME [args...]  runs bench/NAME/index.ts through tsx.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const [name, ...rest] = process.argv.slice(2);
const benches = readdirSync(new URL('../bench', import.meta.url)).filter((d) => d !== 'lib');
if (!name || !existsSync(new URL(`../bench/${name}/index.ts`, import.meta.url))) {
  console.error(`usage: npm run bench -- NAME   (one of: ${benches.join(', ')})`);
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}/index.ts`, ...rest], {
  stdio: 'inherit',
  cwd: new URL('..', import.meta.url).pathname,
});
process.exit(r.status ?? 1);
