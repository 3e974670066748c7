// Case keys: which reports are "the same message".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dedupeKeyOf } from './cases.ts';

const msg = (from: string, extra = '') =>
  Buffer.from(
    `From: ${from}\r\nSubject: Invoice overdue\r\n${extra}Content-Type: text/plain\r\n\r\nPay now.   \r\nThanks\r\n`,
  );

test('Message-ID decides when present, case-insensitively', () => {
  const a = dedupeKeyOf(msg('a@x.example', 'Message-ID: <ABC@x.example>\r\n'));
  assert.equal(a, 'mid:<abc@x.example>');
  assert.equal(dedupeKeyOf(msg('b@y.example', 'Message-ID: <abc@x.example>\r\n')), a);
});

test('without a Message-ID: From, Subject and body, whatever the line endings and trailing blanks', () => {
  const crlf = dedupeKeyOf(msg('a@x.example'));
  assert.match(crlf, /^body:[0-9a-f]{64}$/);
  assert.equal(
    dedupeKeyOf(
      Buffer.from(msg('a@x.example').toString().replace(/\r\n/g, '\n').replace('Pay now.   ', 'Pay now.')),
    ),
    crlf,
  );
  assert.notEqual(dedupeKeyOf(msg('b@x.example')), crlf, 'another sender with the same body is another case');
  assert.notEqual(
    dedupeKeyOf(msg('a@x.example', 'Message-ID: not-an-id\r\n')),
    dedupeKeyOf(msg('a@x.example', 'Message-ID: <z@x>\r\n')),
  );
});
