// Synthetic modern mail (src/phishing/fixtures/modern, written for this test, not taken from any
// collection): transactional and marketing mail of banks, carriers, SaaS and e-mail service
// providers in four languages, and lures from attacker-owned, lookalike and compromised domains.
// The corpus has no authenticated mail of this kind, so these pin the expert rules that serve it
// (authenticated own site, sender trackers, disclaimers) against the model they run with.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { scanMessage } from './scan.ts';

const dir = new URL('./fixtures/modern/', import.meta.url);
const files = (kind: string) =>
  readdirSync(new URL(`${kind}/`, dir))
    .filter((f) => f.endsWith('.eml'))
    .sort();

/** Legitimate mail that may be flagged suspicious (a bill "due today" is urgency and a payment). */
const MAY_BE_SUSPICIOUS = new Set(['pt-boleto.eml']);
/** Lures that only reach suspicious: a compromised account sharing from its own company's SharePoint. */
const AT_LEAST_SUSPICIOUS = new Set(['sharepoint-compromised.eml']);

describe('synthetic modern mail', () => {
  test('there is something to check', () => {
    assert.ok(files('legitimate').length >= 20 && files('phishing').length >= 10);
  });
  for (const f of files('legitimate'))
    test(`legitimate: ${f}`, async () => {
      const r = await scanMessage(readFileSync(new URL(`legitimate/${f}`, dir)));
      if (MAY_BE_SUSPICIOUS.has(f)) assert.notEqual(r.verdict, 'phishing', `score ${r.score}`);
      else assert.equal(r.verdict, 'clean', `score ${r.score}: ${r.reasons.map((x) => x.signal).join(', ')}`);
    });
  for (const f of files('phishing'))
    test(`phishing: ${f}`, async () => {
      const r = await scanMessage(readFileSync(new URL(`phishing/${f}`, dir)));
      if (AT_LEAST_SUSPICIOUS.has(f)) assert.notEqual(r.verdict, 'clean', `score ${r.score}`);
      else assert.equal(r.verdict, 'phishing', `score ${r.score}: ${r.reasons.map((x) => x.signal).join(', ')}`);
    });
});
