import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { test } from 'node:test';
import { hmacSha256, hmacSha256Key, hmacSha256Prefix32 } from './hmac.ts';

test('hmacSha256 equals createHmac (RFC 2104 test case 2, random keys of 1–64 bytes, messages of any length and script)', () => {
  // RFC 4231 test case 2: key "Jefe".
  const jefe = hmacSha256Key(Buffer.from('Jefe'));
  assert.equal(
    hmacSha256(jefe, 'what do ya want for nothing?').toString('hex'),
    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  );
  const alphabet = ['a', 'Z', '0', '@', '.', 'é', 'ß', '日', '😀', '\u0000', ' '];
  for (let round = 0; round < 300; round++) {
    const raw = randomBytes(randomInt(1, 65));
    const key = hmacSha256Key(raw);
    for (let m = 0; m < 5; m++) {
      // Lengths up to ~1,000 UTF-16 units grow the key's scratch bytes; a few of 5,000 need bytes of their own.
      const length = randomInt(0, m === 4 ? 1000 : m === 3 && round % 50 === 0 ? 5000 : 40);
      const message = Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join('');
      const expected = createHmac('sha256', raw).update(message, 'utf8').digest();
      assert.deepEqual(hmacSha256(key, message), expected, `round ${round}`);
      // The blind indexes' form: the first four bytes, unsigned (also when the top bit is set).
      assert.equal(hmacSha256Prefix32(key, message), expected.readUInt32BE(0), `round ${round}`);
    }
  }
});

test('hmacSha256: each result is its own buffer, and the message does not stay in the key scratch bytes', () => {
  const key = hmacSha256Key(randomBytes(32));
  const a = hmacSha256(key, 'ada@example.com');
  const b = hmacSha256(key, 'bob@example.com');
  assert.notDeepEqual(a, b);
  assert.deepEqual(a, hmacSha256(key, 'ada@example.com'));
  assert.equal(key.inner.includes(Buffer.from('bob@example.com')), false);
});

test('hmacSha256Key rejects keys it cannot pad into one block', () => {
  assert.throws(() => hmacSha256Key(Buffer.alloc(0)), RangeError);
  assert.throws(() => hmacSha256Key(randomBytes(65)), RangeError);
});
