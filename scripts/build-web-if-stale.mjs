#!/usr/bin/env node
// Builds the console (web/dist) when it is missing or older than its sources,
// so `npm start` never needs a separate build step.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'web/dist/index.html');

function newest(dir) {
  let t = 0;
  for (const name of readdirSync(dir)) {
    if (name === 'dist' || name === 'node_modules') continue;
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

if (existsSync(dist) && statSync(dist).mtimeMs >= newest(join(root, 'web'))) process.exit(0);
console.log('building the console (web/dist)…');
const r = spawnSync('npm', ['run', '--silent', 'build:web'], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
