// Micro-benchmark for the crypto hot paths (not a test; no assertions on time).
//   node --import tsx src/crypto/micro-bench.ts [fields]
import { randomBytes } from 'node:crypto';
import { blindIndex } from './blind-index.ts';
import { decryptField, encryptField, loadKeyring, newWorkspaceKeyRecords } from './field-cipher.ts';
import { LocalKeyProvider } from './key-provider.ts';

const n = Number(process.argv[2] ?? 200_000);
const provider = new LocalKeyProvider(randomBytes(32));
const keyring = await loadKeyring(provider, await newWorkspaceKeyRecords(provider, 'ws-bench'));
const emails = Array.from({ length: 1000 }, (_, i) => `someone.${i}@example-${i % 37}.com`);

function rate(label: string, count: number, fn: () => void): number {
  for (let i = 0; i < Math.min(count, 20_000); i++) fn(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) fn();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const perSec = count / secs;
  console.log(
    `${label.padEnd(34)} ${Math.round(perSec).toLocaleString('en-US').padStart(12)} /s  (${((secs / count) * 1e6).toFixed(2)} µs each)`,
  );
  return perSec;
}

let i = 0;
const cts = emails.map((e, j) =>
  encryptField(keyring, { table: 'contacts', column: 'email', rowId: `row-${j}` }, e),
);
rate('encryptField (≈30-byte email)', n, () => {
  const j = i++ % 1000;
  encryptField(keyring, { table: 'contacts', column: 'email', rowId: `row-${j}` }, emails[j]);
});
rate('decryptField (≈30-byte email)', n, () => {
  const j = i++ % 1000;
  decryptField(keyring, { table: 'contacts', column: 'email', rowId: `row-${j}` }, cts[j]);
});
rate('encrypt+decrypt round trip', n, () => {
  const j = i++ % 1000;
  const ctx = { table: 'contacts', column: 'email', rowId: `row-${j}` };
  decryptField(keyring, ctx, encryptField(keyring, ctx, emails[j]));
});
const indexKey = keyring.blindIndexKey();
rate('blindIndex (email, 16 bits)', n, () => {
  blindIndex(indexKey, 'email', emails[i++ % 1000], 16);
});
console.log(`node ${process.version}, ${n.toLocaleString('en-US')} iterations each, single thread`);
