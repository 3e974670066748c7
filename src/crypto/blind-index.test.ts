import assert from 'node:assert/strict';
import { createHmac, createSecretKey, hkdfSync, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  BLIND_INDEX_MAX_BITS,
  blindIndex,
  blindIndexForWrite,
  blindIndexLookupValues,
  coincidenceCount,
  filterCandidates,
  recommendBlindIndexBits,
} from './blind-index.ts';
import { loadKeyring, newDataKeyRecord, newWorkspaceKeyRecords } from './field-cipher.ts';
import { LocalKeyProvider } from './key-provider.ts';

const root = randomBytes(32);

test('deterministic, in range, and equal for Buffer and KeyObject roots', () => {
  for (const bits of [1, 8, 16, 24, 31]) {
    const v = blindIndex(root, 'email', 'ada@example.com', bits);
    assert.ok(Number.isInteger(v) && v >= 0 && v < 2 ** bits, `bits ${bits}: ${v}`);
    assert.equal(blindIndex(root, 'email', 'ada@example.com', bits), v);
    assert.equal(blindIndex(createSecretKey(root), 'email', 'ada@example.com', bits), v);
  }
});

test('construction is HKDF(root, "blind-index/v1/"+name) then truncated HMAC-SHA256 (independent recomputation)', () => {
  const indexKey = Buffer.from(
    hkdfSync('sha256', root, Buffer.from('mailwarden/hkdf/v1'), Buffer.from('blind-index/v1/email'), 32),
  );
  const mac = createHmac('sha256', indexKey).update('ada@example.com').digest();
  const expected16 = (mac[0] << 8) | mac[1];
  assert.equal(blindIndex(root, 'email', 'ada@example.com', 16), expected16);
  // Shorter outputs are prefixes of longer ones.
  assert.equal(blindIndex(root, 'email', 'ada@example.com', 8), mac[0]);
  assert.equal(blindIndex(root, 'email', 'ada@example.com', 31), mac.readUInt32BE(0) >>> 1);
});

test('index names and workspaces give unrelated values', () => {
  // With 31 bits, accidental equality of two unrelated values has probability 2^-31.
  const value = 'example.com';
  const email = blindIndex(root, 'email', value, 31);
  assert.notEqual(blindIndex(root, 'email_domain', value, 31), email);
  assert.notEqual(blindIndex(root, 'phone', value, 31), email);
  assert.notEqual(blindIndex(randomBytes(32), 'email', value, 31), email);
});

test('truncated output is close to uniform (no bucket over-full)', () => {
  const bits = 4;
  const counts = new Array(2 ** bits).fill(0);
  const n = 16_000;
  for (let i = 0; i < n; i++) counts[blindIndex(root, 'email', `user${i}@example.com`, bits)]++;
  const expected = n / 2 ** bits;
  // ±15% of 1000 is > 4.5 standard deviations: a biased truncation would fail, a fair one practically never.
  for (const c of counts) assert.ok(Math.abs(c - expected) < expected * 0.15, `bucket count ${c}`);
});

test('rejects bad names, bits and empty values', () => {
  assert.throws(() => blindIndex(root, 'Email!', 'x', 16), TypeError);
  assert.throws(() => blindIndex(root, '', 'x', 16), TypeError);
  assert.throws(() => blindIndex(root, 'email', 'x', 0), RangeError);
  assert.throws(() => blindIndex(root, 'email', 'x', BLIND_INDEX_MAX_BITS + 1), RangeError);
  assert.throws(() => blindIndex(root, 'email', 'x', 12.5), RangeError);
  assert.throws(() => blindIndex(root, 'email', '', 16), TypeError);
});

test('keyring helpers: write uses the active key, lookup covers retiring keys during index rotation', async () => {
  const provider = new LocalKeyProvider(randomBytes(32));
  const [f1, i1] = await newWorkspaceKeyRecords(provider, 'ws-1');
  const kr1 = await loadKeyring(provider, [f1, i1]);
  const oldValue = blindIndexForWrite(kr1, 'email', 'ada@example.com', 31);
  assert.deepEqual(blindIndexLookupValues(kr1, 'email', 'ada@example.com', 31), [oldValue]);

  const i2 = await newDataKeyRecord(provider, 'ws-1', 2, 'blind-index');
  const kr2 = await loadKeyring(provider, [f1, { ...i1, state: 'retiring' }, i2]);
  const newValue = blindIndexForWrite(kr2, 'email', 'ada@example.com', 31);
  assert.notEqual(newValue, oldValue);
  assert.deepEqual(blindIndexLookupValues(kr2, 'email', 'ada@example.com', 31), [newValue, oldValue]);
});

test('candidate-set semantics: a lookup returns true matches plus coincidences, filtered after decryption', () => {
  // Simulate a table with a tiny 4-bit index: many rows share each index value.
  const rows = Array.from({ length: 200 }, (_, i) => ({ id: i, email: `user${i}@example.com` }));
  rows.push({ id: 999, email: 'user7@example.com' }); // a genuine duplicate
  const bits = 4;
  const idx = new Map(rows.map((r) => [r.id, blindIndex(root, 'email', r.email, bits)]));
  const wanted = blindIndex(root, 'email', 'user7@example.com', bits);
  const candidates = rows.filter((r) => idx.get(r.id) === wanted);
  assert.ok(candidates.length > 2, 'expected false positives with a 4-bit index');
  const matches = filterCandidates(candidates, (r) => r.email, 'user7@example.com');
  assert.deepEqual(
    matches.map((r) => r.id),
    [7, 999],
  );
});

test('coincidenceCount follows CipherSweet C = R / 2^Σmin(L,K)', () => {
  assert.equal(coincidenceCount(2 ** 31, [{ bits: 16, keyspaceBits: 24 }, { bits: 8 }]), 128);
  assert.equal(coincidenceCount(2 ** 24, [{ bits: 16, keyspaceBits: 24 }, { bits: 8 }]), 1);
  assert.equal(coincidenceCount(2 ** 16, [{ bits: 16, keyspaceBits: 24 }, { bits: 8 }]), 2 ** -8);
  assert.equal(coincidenceCount(1000, [{ bits: 20, keyspaceBits: 3 }]), 125);
});

test('recommendBlindIndexBits keeps 2 ≤ C < sqrt(R)', () => {
  const plan = recommendBlindIndexBits(1_000_000);
  assert.deepEqual([plan.bits, plan.minBits, plan.maxBits], [18, 10, 18]);
  assert.ok(plan.coincidences >= 2 && plan.coincidences < 1000);
  for (const r of [10, 100, 5_000, 100_000, 1_000_000, 50_000_000]) {
    const p = recommendBlindIndexBits(r);
    const c = coincidenceCount(r, [{ bits: p.bits }]);
    if (r >= 4) assert.ok(c >= 2, `R=${r}: C=${c}`);
    assert.ok(p.minBits <= p.bits);
  }
  // Other indexes over the same field consume the budget.
  assert.equal(recommendBlindIndexBits(1_000_000, { otherIndexBits: 6 }).bits, 12);
  assert.throws(() => recommendBlindIndexBits(0), RangeError);
});
