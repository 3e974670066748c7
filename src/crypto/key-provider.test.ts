import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspect } from 'node:util';
import {
  type KeyProvider,
  KeyUnwrapError,
  LocalKeyProvider,
  MasterKeyError,
  generateMasterKey,
  localMasterKeyId,
  parseMasterKey,
  rewrap,
} from './key-provider.ts';

const masterA = randomBytes(32);
const masterB = randomBytes(32);

test('parseMasterKey accepts hex, base64, base64url and 32 raw bytes, all to the same key', () => {
  const k = randomBytes(32);
  for (const form of [
    k.toString('hex'),
    k.toString('hex').toUpperCase(),
    k.toString('base64'),
    k.toString('base64url'),
    `  ${k.toString('base64')}\n`,
    Buffer.from(k),
    Buffer.from(`${k.toString('hex')}\n`),
  ]) {
    assert.deepEqual(parseMasterKey(form), k);
  }
});

test('parseMasterKey rejects wrong lengths, garbage and repeated-byte keys', () => {
  for (const bad of [
    '',
    'abc',
    randomBytes(16).toString('hex'),
    randomBytes(31).toString('base64'),
    'z'.repeat(64),
  ]) {
    assert.throws(() => parseMasterKey(bad), MasterKeyError, bad);
  }
  assert.throws(() => parseMasterKey(Buffer.alloc(32, 0)), /repeated byte/);
  assert.throws(() => parseMasterKey('00'.repeat(32)), /repeated byte/);
});

test('generateMasterKey yields distinct parseable 32-byte keys', () => {
  const a = generateMasterKey();
  assert.equal(parseMasterKey(a).length, 32);
  assert.notEqual(a, generateMasterKey());
});

test('key id is a short stable fingerprint that does not contain the key', () => {
  const p = new LocalKeyProvider(masterA);
  assert.match(p.id, /^local:[0-9a-f]{16}$/);
  assert.equal(p.id, new LocalKeyProvider(Buffer.from(masterA)).id);
  assert.equal(p.id, localMasterKeyId(masterA));
  assert.notEqual(p.id, new LocalKeyProvider(masterB).id);
  const hex = masterA.toString('hex');
  assert.ok(!hex.includes(p.id.slice(6)));
  // No key material in logs or JSON.
  assert.ok(!inspect(p).includes(hex));
  assert.ok(!JSON.stringify(p).includes(hex));
  assert.ok(!JSON.stringify(p).includes(masterA.toString('base64')));
});

test('wrap/unwrap round-trips and binds the context', async () => {
  const p = new LocalKeyProvider(masterA);
  const dataKey = randomBytes(32);
  const w = await p.wrapKey(dataKey, 'ws-1|field|1');
  assert.equal(w.masterKeyId, p.id);
  assert.ok(!w.wrapped.includes(dataKey));
  assert.deepEqual(await p.unwrapKey(w, 'ws-1|field|1'), dataKey);
  await assert.rejects(p.unwrapKey(w, 'ws-2|field|1'), (e: unknown) => {
    assert.ok(e instanceof KeyUnwrapError);
    assert.equal(e.code, 'KEY_UNWRAP_FAILED');
    assert.equal(e.reason, 'authentication_failed');
    return true;
  });
});

test('unwrapping under another master key fails clearly, never returning a wrong key', async () => {
  const a = new LocalKeyProvider(masterA);
  const b = new LocalKeyProvider(masterB);
  const w = await a.wrapKey(randomBytes(32), 'ctx');
  assert.equal(b.canUnwrap(w.masterKeyId), false);
  await assert.rejects(b.unwrapKey(w, 'ctx'), (e: unknown) => {
    assert.ok(e instanceof KeyUnwrapError);
    assert.equal(e.reason, 'unknown_master_key');
    assert.match(e.message, new RegExp(a.id));
    return true;
  });
  // Lying about the master key id does not help either.
  await assert.rejects(
    b.unwrapKey({ wrapped: w.wrapped, masterKeyId: b.id }, 'ctx'),
    /failed authentication/,
  );
});

test('wrapKey rejects non-32-byte data keys', async () => {
  await assert.rejects(new LocalKeyProvider(masterA).wrapKey(randomBytes(16), 'ctx'), TypeError);
});

test('rotation: rewrap moves a data key to the new master without changing it', async () => {
  const old = new LocalKeyProvider(masterA);
  const dataKey = randomBytes(32);
  const w = await old.wrapKey(dataKey, 'ctx');
  // During rotation one provider holds the new key as current and the old one as previous.
  const rotating = new LocalKeyProvider(masterB, { previous: [masterA] });
  assert.deepEqual(rotating.keyIds, [new LocalKeyProvider(masterB).id, old.id]);
  assert.deepEqual(await rotating.unwrapKey(w, 'ctx'), dataKey);
  const w2 = await rewrap(rotating, rotating, w, 'ctx');
  assert.equal(w2.masterKeyId, rotating.id);
  assert.notDeepEqual(w2.wrapped, w.wrapped);
  // After rotation the old key can be dropped.
  const after = new LocalKeyProvider(masterB);
  assert.deepEqual(await after.unwrapKey(w2, 'ctx'), dataKey);
  await assert.rejects(after.unwrapKey(w, 'ctx'), KeyUnwrapError);
});

test('rewrap works across provider implementations through the interface only', async () => {
  // A stand-in "KMS" provider proves callers depend on the interface, not LocalKeyProvider.
  const inner = new LocalKeyProvider(masterB);
  const calls: string[] = [];
  const kms: KeyProvider = {
    id: 'kms:arn:example',
    canUnwrap: (id) => id === 'kms:arn:example',
    async wrapKey(dataKey, context) {
      calls.push('wrap');
      const w = await inner.wrapKey(dataKey, context);
      return { wrapped: w.wrapped, masterKeyId: 'kms:arn:example' };
    },
    async unwrapKey(w, context) {
      calls.push('unwrap');
      return inner.unwrapKey({ wrapped: w.wrapped, masterKeyId: inner.id }, context);
    },
  };
  const local = new LocalKeyProvider(masterA);
  const dataKey = randomBytes(32);
  const moved = await rewrap(local, kms, await local.wrapKey(dataKey, 'c'), 'c');
  assert.equal(moved.masterKeyId, 'kms:arn:example');
  assert.deepEqual(await kms.unwrapKey(moved, 'c'), dataKey);
  assert.deepEqual(calls, ['wrap', 'unwrap']);
});

test('fromEnv reads current and previous keys; missing variable is a clear error', async () => {
  const env = {
    MAILWARDEN_MASTER_KEY: masterB.toString('base64'),
    MAILWARDEN_MASTER_KEY_PREVIOUS: ` ${masterA.toString('hex')} `,
  };
  const p = LocalKeyProvider.fromEnv(env);
  assert.equal(p.id, localMasterKeyId(masterB));
  assert.ok(p.canUnwrap(localMasterKeyId(masterA)));
  assert.throws(() => LocalKeyProvider.fromEnv({}), /MAILWARDEN_MASTER_KEY is not set/);
  assert.throws(() => LocalKeyProvider.fromEnv({ MAILWARDEN_MASTER_KEY: 'short' }), MasterKeyError);
});

test('fromFile reads raw-byte and text key files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mw-key-'));
  try {
    writeFileSync(join(dir, 'raw.key'), masterA);
    writeFileSync(join(dir, 'text.key'), `${masterB.toString('hex')}\n`);
    const p = LocalKeyProvider.fromFile(join(dir, 'text.key'), [join(dir, 'raw.key')]);
    assert.deepEqual(p.keyIds, [localMasterKeyId(masterB), localMasterKeyId(masterA)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
