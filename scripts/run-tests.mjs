#!/usr/bin/env node
// Runs the test suite with node's own test runner (through tsx for TypeScript).
//   npm test                 unit + integration tests (PGlite, or TEST_DATABASE_URL)
//   npm test -- --browser    browser tests under test/browser (playwright-core + Debian chromium)
//   npm test -- src/auth     only the test files below the given paths
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const browser = args.includes('--browser');
const roots = args.filter((a) => !a.startsWith('--'));

function findTests(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const searchRoots = roots.length ? roots : browser ? ['test/browser'] : ['src', 'test'];
const files = searchRoots
  .flatMap((r) => (statSync(join(root, r)).isDirectory() ? findTests(join(root, r)) : [r]))
  .filter((f) => browser === f.startsWith('test/browser'))
  .sort();

if (files.length === 0) {
  console.error('no test files found under', searchRoots.join(', '));
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/summary-reporter.mjs',
    '--test-reporter-destination=stdout',
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);
