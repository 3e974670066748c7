import assert from 'node:assert/strict';
import { createCipheriv, createSecretKey, hkdfSync, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  AEAD_FORMAT_V1,
  DecryptionError,
  HEADER_BYTES,
  NONCE_BYTES,
  TAG_BYTES,
  deriveKey,
  openWithKey,
  sealWithKey,
  sealWithReserve,
} from './aead.ts';

const key = Buffer.alloc(32, 7);

function assertDecryptionError(fn: () => unknown, reason?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DecryptionError, `expected DecryptionError, got ${String(err)}`);
    assert.equal(err.code, 'DECRYPTION_FAILED');
    if (reason) assert.equal(err.reason, reason);
    return true;
  });
}

test('seal/open round-trips strings, buffers, empty and large plaintexts', () => {
  for (const pt of ['JBSWY3DPEHPK3PXP', '', 'ünïcødé ✉️', Buffer.from([0, 1, 2, 255]), randomBytes(70_000)]) {
    const sealed = sealWithKey(key, pt, 'totp:user:42');
    const expected = typeof pt === 'string' ? Buffer.from(pt, 'utf8') : pt;
    assert.equal(sealed.length, HEADER_BYTES + expected.length);
    assert.equal(sealed[0], AEAD_FORMAT_V1);
    assert.deepEqual(openWithKey(key, sealed, 'totp:user:42'), expected);
  }
});

test('layout is format | nonce | tag | ciphertext and interoperates with plain AES-256-GCM', () => {
  // Build a v1 value by hand with node:crypto directly; openWithKey must accept it.
  const nonce = Buffer.alloc(NONCE_BYTES, 0xab);
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  c.setAAD(Buffer.concat([Buffer.from([AEAD_FORMAT_V1]), Buffer.from('ctx', 'utf8')]));
  const ct = Buffer.concat([c.update('hello'), c.final()]);
  const manual = Buffer.concat([Buffer.from([AEAD_FORMAT_V1]), nonce, c.getAuthTag(), ct]);
  assert.equal(openWithKey(key, manual, 'ctx').toString('utf8'), 'hello');
});

test('sealWithReserve leaves room for a caller header in front of a normal sealed value', () => {
  const out = sealWithReserve(key, 'payload', 'aad', 5);
  assert.equal(out.length, 5 + HEADER_BYTES + 7);
  assert.equal(out[5], AEAD_FORMAT_V1);
  assert.equal(openWithKey(key, out.subarray(5), 'aad').toString(), 'payload');
  assert.throws(() => sealWithReserve(key, 'x', 'aad', -1), RangeError);
});

test('each seal uses a fresh random nonce', () => {
  const nonces = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    nonces.add(
      sealWithKey(key, 'same', 'a')
        .subarray(1, 1 + NONCE_BYTES)
        .toString('hex'),
    );
  }
  assert.equal(nonces.size, 1000);
});

test('accepts a reusable secret KeyObject as well as a Buffer', () => {
  const ko = createSecretKey(key);
  const sealed = sealWithKey(ko, 'x', 'aad');
  assert.equal(openWithKey(key, sealed, 'aad').toString(), 'x');
  assert.equal(openWithKey(ko, sealWithKey(key, 'y', 'aad'), 'aad').toString(), 'y');
});

test('wrong AAD, wrong key and every flipped bit are rejected with DecryptionError', () => {
  const sealed = sealWithKey(key, 'secret-value', 'users.totp_secret|42');
  assertDecryptionError(() => openWithKey(key, sealed, 'users.totp_secret|43'), 'authentication_failed');
  assertDecryptionError(() => openWithKey(Buffer.alloc(32, 8), sealed, 'users.totp_secret|42'));
  // Flip one bit in each byte after the format byte (nonce, tag, ciphertext).
  for (let i = 1; i < sealed.length; i++) {
    const t = Buffer.from(sealed);
    t[i] ^= 0x01;
    assertDecryptionError(() => openWithKey(key, t, 'users.totp_secret|42'), 'authentication_failed');
  }
});

test('truncated, empty and unknown-format inputs are rejected', () => {
  const sealed = sealWithKey(key, 'abc', 'x');
  assertDecryptionError(() => openWithKey(key, sealed.subarray(0, HEADER_BYTES - 1), 'x'), 'malformed');
  assertDecryptionError(() => openWithKey(key, Buffer.alloc(0), 'x'), 'malformed');
  // Dropping ciphertext bytes keeps a valid header but fails authentication.
  assertDecryptionError(
    () => openWithKey(key, sealed.subarray(0, sealed.length - 1), 'x'),
    'authentication_failed',
  );
  const v2 = Buffer.from(sealed);
  v2[0] = 0x02;
  assertDecryptionError(() => openWithKey(key, v2, 'x'), 'unsupported_format');
});

test('DecryptionError message carries neither key nor plaintext', () => {
  const sealed = sealWithKey(key, 'TOPSECRETVALUE', 'x');
  try {
    openWithKey(Buffer.alloc(32, 9), sealed, 'x');
    assert.fail('should have thrown');
  } catch (err) {
    assert.ok(err instanceof DecryptionError);
    assert.ok(!err.message.includes('TOPSECRETVALUE'));
    assert.ok(!err.message.includes(key.toString('hex')));
  }
});

test('rejects keys of the wrong size', () => {
  assert.throws(() => sealWithKey(Buffer.alloc(16), 'x', 'a'), TypeError);
  assert.throws(() => openWithKey(Buffer.alloc(31), Buffer.alloc(40), 'a'), TypeError);
  assert.throws(() => sealWithKey(createSecretKey(Buffer.alloc(16)), 'x', 'a'), TypeError);
});

test('deriveKey: deterministic, 32 bytes, independent per purpose and per master', () => {
  const master = Buffer.alloc(32, 1);
  const a = deriveKey(master, 'totp-secrets');
  assert.equal(a.length, 32);
  assert.deepEqual(deriveKey(master, 'totp-secrets'), a);
  const purposes = ['totp-secrets', 'blind-index', 'tracking-tokens', 'totp-secrets ', 'Totp-secrets'];
  const outs = new Set(purposes.map((p) => deriveKey(master, p).toString('hex')));
  assert.equal(outs.size, purposes.length);
  assert.notDeepEqual(deriveKey(Buffer.alloc(32, 2), 'totp-secrets'), a);
  assert.notDeepEqual(a, master);
});

test('deriveKey is HKDF-SHA256 with the documented salt and info (pinned vector)', () => {
  const master = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
  const expected = Buffer.from(
    hkdfSync('sha256', master, Buffer.from('mailwarden/hkdf/v1'), Buffer.from('totp-secrets'), 32),
  );
  assert.deepEqual(deriveKey(master, 'totp-secrets'), expected);
  // Pinned so an accidental change of salt/info (which would orphan every derived key) fails loudly.
  assert.equal(deriveKey(master, 'totp-secrets').toString('hex'), PINNED_TOTP_KEY);
});

test('deriveKey validates its inputs', () => {
  assert.throws(() => deriveKey(Buffer.alloc(16), 'x'), TypeError);
  assert.throws(() => deriveKey(Buffer.alloc(32), ''), TypeError);
  assert.throws(() => deriveKey(Buffer.alloc(32), 'x', 8), RangeError);
});

// Cross-checked with an independent HKDF (Python hmac/hashlib, RFC 5869 extract+expand).
const PINNED_TOTP_KEY = '16036fc514170773b3ca5f589d5121389f0bda98544f2ac710c7460994098b12';
