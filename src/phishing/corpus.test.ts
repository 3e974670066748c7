// Sanity checks against the real corpus (skipped when ../shared/corpus is absent). These are not
// the published figures (see bench/phishing), and the bundled model was trained on this corpus,
// so they only guard against regressions that break detection or flood false positives.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { scanMessage } from './scan.ts';
import { DEFAULT_CORPUS, SA_DATA } from './train.ts';

const phishDir = join(DEFAULT_CORPUS, 'dev/phishing');
const legitDir = join(DEFAULT_CORPUS, 'dev/legit-mailing-list');
const present = existsSync(phishDir) && existsSync(legitDir);

function sample(dir: string, ext: string, n: number): string[] {
  const all = readdirSync(dir).filter((f) => f.endsWith(ext)).sort();
  const step = Math.max(1, Math.floor(all.length / n));
  return all.filter((_, i) => i % step === 0).slice(0, n).map((f) => join(dir, f));
}

async function flaggedShare(files: string[]): Promise<number> {
  let flagged = 0;
  for (const f of files) if ((await scanMessage(readFileSync(f))).verdict === 'phishing') flagged++;
  return flagged / files.length;
}

describe('real corpus', { skip: present ? false : `corpus not found at ${DEFAULT_CORPUS}` }, () => {
  test('most sampled phishing is flagged', async () => {
    assert.ok((await flaggedShare(sample(phishDir, '.eml', 150))) >= 0.75);
  });
  test('sampled legitimate list mail and SpamAssassin ham are rarely flagged', async () => {
    assert.ok((await flaggedShare(sample(legitDir, '.eml', 150))) <= 0.03);
    if (existsSync(join(SA_DATA, 'hard-ham-1'))) assert.ok((await flaggedShare(sample(join(SA_DATA, 'hard-ham-1'), '.txt', 100))) <= 0.05);
  });
  test('every sampled file scans with an explained score', async () => {
    for (const f of sample(phishDir, '.eml', 40)) {
      const r = await scanMessage(readFileSync(f));
      if (r.verdict !== 'clean') assert.ok(r.reasons.some((x) => x.weight > 0), f);
    }
  });
});
