import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { Worker } from 'node:worker_threads';
import { DecryptionError } from './aead.ts';
import {
  type DataKeyRecord,
  FIELD_FORMAT_V1,
  FIELD_OVERHEAD_BYTES,
  KeyringError,
  decryptField,
  decryptFieldText,
  encryptField,
  fieldKeyVersion,
  keyringForWorker,
  keyringFromWorker,
  loadKeyring,
  newDataKeyRecord,
  newWorkspaceKeyRecords,
  reencryptField,
  rewrapDataKeyRecord,
} from './field-cipher.ts';
import { LocalKeyProvider } from './key-provider.ts';

const masterA = randomBytes(32);
const masterB = randomBytes(32);
const provider = new LocalKeyProvider(masterA);
const ctx = { table: 'contacts', column: 'email', rowId: 'c-1' };

async function keyringFor(workspaceId = 'ws-1', p = provider) {
  return loadKeyring(p, await newWorkspaceKeyRecords(p, workspaceId));
}

function isKeyringError(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof KeyringError, `expected KeyringError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  };
}

test('newDataKeyRecord returns a storable row with no plaintext key material', async () => {
  const now = new Date('2025-01-02T03:04:05Z');
  const r = await newDataKeyRecord(provider, 'ws-1', 1, 'field', now);
  assert.deepEqual(Object.keys(r).sort(), [
    'createdAt',
    'masterKeyId',
    'purpose',
    'state',
    'version',
    'workspaceId',
    'wrappedKey',
  ]);
  assert.equal(r.state, 'active');
  assert.equal(r.masterKeyId, provider.id);
  assert.equal(r.createdAt, now);
  assert.ok(Buffer.isBuffer(r.wrappedKey));
  await assert.rejects(newDataKeyRecord(provider, 'ws-1', 0), RangeError);
});

test('encrypt/decrypt round trip; ciphertexts are randomised and carry the key version', async () => {
  const kr = await keyringFor();
  const a = encryptField(kr, ctx, 'ada@example.com');
  const b = encryptField(kr, ctx, 'ada@example.com');
  assert.notDeepEqual(a, b);
  assert.equal(a[0], FIELD_FORMAT_V1);
  assert.equal(fieldKeyVersion(a), 1);
  assert.equal(a.length, FIELD_OVERHEAD_BYTES + Buffer.byteLength('ada@example.com'));
  assert.equal(decryptFieldText(kr, ctx, a), 'ada@example.com');
  assert.deepEqual(decryptField(kr, ctx, b), Buffer.from('ada@example.com'));
  // Numeric and bigint row ids are accepted and equivalent to their string form.
  const n = encryptField(kr, { ...ctx, rowId: 42 }, 'x');
  assert.equal(decryptFieldText(kr, { ...ctx, rowId: '42' }, n), 'x');
  assert.equal(decryptFieldText(kr, { ...ctx, rowId: 42n }, n), 'x');
});

test('a ciphertext copied to another row, column, table or workspace fails to decrypt', async () => {
  const kr = await keyringFor('ws-1');
  const ct = encryptField(kr, ctx, 'secret');
  for (const other of [
    { ...ctx, rowId: 'c-2' },
    { ...ctx, column: 'phone' },
    { ...ctx, table: 'leads' },
  ]) {
    assert.throws(() => decryptField(kr, other, ct), DecryptionError);
  }
  // Same master key, other workspace: different data keys, and the AAD differs too.
  const kr2 = await keyringFor('ws-2');
  assert.throws(() => decryptField(kr2, ctx, ct), DecryptionError);
});

test('relabelling the key version or flipping any byte is detected', async () => {
  const kr = await keyringFor();
  const ct = encryptField(kr, ctx, 'secret');
  const relabelled = Buffer.from(ct);
  relabelled.writeUInt32BE(2, 1);
  assert.throws(() => decryptField(kr, ctx, relabelled), isKeyringError('UNKNOWN_KEY_VERSION'));
  for (let i = 5; i < ct.length; i++) {
    const t = Buffer.from(ct);
    t[i] ^= 0x80;
    assert.throws(() => decryptField(kr, ctx, t), DecryptionError, `byte ${i}`);
  }
  const badFormat = Buffer.from(ct);
  badFormat[0] = 0x01;
  assert.throws(() => decryptField(kr, ctx, badFormat), DecryptionError);
  assert.throws(() => decryptField(kr, ctx, ct.subarray(0, 10)), DecryptionError);
});

test('table/column/rowId must be non-empty and NUL-free (unambiguous AAD)', async () => {
  const kr = await keyringFor();
  assert.throws(() => encryptField(kr, { ...ctx, rowId: '' }, 'x'), TypeError);
  assert.throws(() => encryptField(kr, { ...ctx, column: 'a\u0000b' }, 'x'), TypeError);
});

test('loadKeyring: unknown master key is a clear error at load time', async () => {
  const records = await newWorkspaceKeyRecords(provider, 'ws-1');
  const other = new LocalKeyProvider(masterB);
  await assert.rejects(loadKeyring(other, records), (e: unknown) => {
    isKeyringError('UNKNOWN_MASTER_KEY')(e);
    assert.match((e as Error).message, new RegExp(provider.id));
    assert.match((e as Error).message, new RegExp(other.id));
    return true;
  });
});

test('loadKeyring: a wrapped key that fails to unwrap (tampered or moved) is an error, not skipped', async () => {
  const records = await newWorkspaceKeyRecords(provider, 'ws-1');
  const tampered = records.map((r) => ({ ...r, wrappedKey: Buffer.from(r.wrappedKey) }));
  tampered[0].wrappedKey[20] ^= 1;
  await assert.rejects(loadKeyring(provider, tampered), isKeyringError('UNWRAP_FAILED'));
  // Row moved to another workspace: the wrap context binds workspace/purpose/version.
  const moved = records.map((r) => ({ ...r, workspaceId: 'ws-evil' }));
  await assert.rejects(loadKeyring(provider, moved), isKeyringError('UNWRAP_FAILED'));
  // Field key relabelled as the blind-index key.
  const swapped: DataKeyRecord[] = [
    { ...records[0], purpose: 'blind-index' },
    { ...records[1], purpose: 'field' },
  ];
  await assert.rejects(loadKeyring(provider, swapped), isKeyringError('UNWRAP_FAILED'));
});

test('loadKeyring: structural problems are rejected', async () => {
  const [field, index] = await newWorkspaceKeyRecords(provider, 'ws-1');
  await assert.rejects(loadKeyring(provider, []), isKeyringError('NO_KEYS'));
  await assert.rejects(loadKeyring(provider, [field]), isKeyringError('NO_ACTIVE_KEY'));
  await assert.rejects(loadKeyring(provider, [field, index, field]), isKeyringError('DUPLICATE_VERSION'));
  const other = await newDataKeyRecord(provider, 'ws-2', 2);
  await assert.rejects(loadKeyring(provider, [field, index, other]), isKeyringError('WORKSPACE_MISMATCH'));
  const v2 = await newDataKeyRecord(provider, 'ws-1', 2);
  await assert.rejects(loadKeyring(provider, [field, index, v2]), isKeyringError('MULTIPLE_ACTIVE'));
  await assert.rejects(
    loadKeyring(provider, [{ ...field, state: 'bogus' as never }, index]),
    isKeyringError('INVALID_RECORD'),
  );
});

test('keyring never exposes key material through inspect or JSON', async () => {
  const records = await newWorkspaceKeyRecords(provider, 'ws-1');
  const kr = await loadKeyring(provider, records);
  const dataKey = await provider.unwrapKey(
    { wrapped: records[0].wrappedKey, masterKeyId: records[0].masterKeyId },
    'mailwarden/data-key/v1\u0000ws-1\u0000field\u00001',
  );
  const hex = dataKey.toString('hex');
  assert.ok(!inspect(kr, { showHidden: true, depth: 10 }).includes(hex));
  assert.ok(!JSON.stringify(kr).includes(hex));
  assert.deepEqual(Object.keys(kr).sort(), [
    'activeIndexVersion',
    'activeVersion',
    'indexVersions',
    'versions',
    'workspaceId',
  ]);
});

test('data-key rotation: new active key, old retiring, sweep re-encrypts, then retire', async () => {
  const [f1, i1] = await newWorkspaceKeyRecords(provider, 'ws-1');
  const kr1 = await loadKeyring(provider, [f1, i1]);
  const oldCt = encryptField(kr1, ctx, 'ada@example.com');

  const f2 = await newDataKeyRecord(provider, 'ws-1', 2);
  const kr2 = await loadKeyring(provider, [{ ...f1, state: 'retiring' }, f2, i1]);
  assert.equal(kr2.activeVersion, 2);
  assert.deepEqual(kr2.versions, [1, 2]);
  assert.equal(fieldKeyVersion(encryptField(kr2, ctx, 'new')), 2);
  assert.equal(decryptFieldText(kr2, ctx, oldCt), 'ada@example.com');

  const swept = reencryptField(kr2, ctx, oldCt);
  assert.ok(swept);
  assert.equal(fieldKeyVersion(swept), 2);
  assert.equal(reencryptField(kr2, ctx, swept), null);

  const kr3 = await loadKeyring(provider, [{ ...f1, state: 'retired' }, f2, i1]);
  assert.deepEqual(kr3.versions, [2]);
  assert.equal(decryptFieldText(kr3, ctx, swept), 'ada@example.com');
  assert.throws(() => decryptField(kr3, ctx, oldCt), isKeyringError('UNKNOWN_KEY_VERSION'));
});

test('master-key rotation: rewrapping records keeps every ciphertext readable', async () => {
  const records = await newWorkspaceKeyRecords(provider, 'ws-1');
  const kr = await loadKeyring(provider, records);
  const ct = encryptField(kr, ctx, 'ada@example.com');

  const rotating = new LocalKeyProvider(masterB, { previous: [masterA] });
  const rewrapped = await Promise.all(records.map((r) => rewrapDataKeyRecord(rotating, rotating, r)));
  assert.ok(rewrapped.every((r) => r.masterKeyId === rotating.id));
  assert.deepEqual(
    rewrapped.map((r) => [r.version, r.purpose, r.state, r.createdAt]),
    records.map((r) => [r.version, r.purpose, r.state, r.createdAt]),
  );

  const onlyNew = new LocalKeyProvider(masterB);
  const kr2 = await loadKeyring(onlyNew, rewrapped);
  assert.equal(decryptFieldText(kr2, ctx, ct), 'ada@example.com');
  // Un-rewrapped rows are now a load-time error under the new key alone.
  await assert.rejects(loadKeyring(onlyNew, records), isKeyringError('UNKNOWN_MASTER_KEY'));
});

test('Keyring cannot be constructed around arbitrary keys', async () => {
  const kr = await keyringFor();
  const Ctor = kr.constructor as unknown as new (...args: unknown[]) => unknown;
  assert.throws(() => new Ctor(Symbol('x'), 'ws', {}, 1, 1), /loadKeyring/);
});

test('a keyring rebuilt in a worker thread decrypts and encrypts like the original', async () => {
  const kr = await keyringFor('ws-worker');
  // The transfer holds KeyObjects only: structured clone keeps them in process, never as bytes in the message.
  const transfer = keyringForWorker(kr);
  assert.ok(transfer.field.every(([, k]) => k.type === 'secret'));
  const w = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     parentPort.postMessage(workerData.field.map(([v, k]) => [v, k.type, k.symmetricKeySize]));`,
    { eval: true, workerData: transfer },
  );
  const [msg] = await once(w, 'message');
  assert.deepEqual(msg, [[kr.activeVersion, 'secret', 32]]);
  await w.terminate();
  const rebuilt = keyringFromWorker(transfer);
  assert.equal(rebuilt.activeVersion, kr.activeVersion);
  assert.equal(decryptFieldText(rebuilt, ctx, encryptField(kr, ctx, 'a@b.example')), 'a@b.example');
  assert.equal(decryptFieldText(kr, ctx, encryptField(rebuilt, ctx, 'c@d.example')), 'c@d.example');
  assert.doesNotMatch(JSON.stringify(rebuilt), /secret|key":/);
});
