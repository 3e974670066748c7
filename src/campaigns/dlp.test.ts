import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cardNetwork, compileWorkspacePattern, ibanValid, luhnValid, maskMatch, PatternError, scanMessage, scanParts } from './dlp.ts';

describe('checksums', () => {
  test('Luhn accepts test card numbers and rejects one-digit changes', () => {
    for (const n of ['4111111111111111', '5555555555554444', '378282246310005', '6011111111111117', '3530111333300000'])
      assert.ok(luhnValid(n), n);
    assert.equal(luhnValid('4111111111111112'), false);
    assert.equal(cardNetwork('4111111111111111'), 'Visa');
    assert.equal(cardNetwork('378282246310005'), 'American Express');
    assert.equal(cardNetwork('9111111111111111'), null);
  });
  test('IBAN mod-97 and country length', () => {
    assert.ok(ibanValid('GB82 WEST 1234 5698 7654 32'));
    assert.ok(ibanValid('DE89370400440532013000'));
    assert.ok(ibanValid('FR1420041010050500013M02606'));
    assert.equal(ibanValid('GB82WEST12345698765433'), false, 'wrong check');
    assert.equal(ibanValid('GB82WEST123456987654'), false, 'wrong length');
  });
});

describe('scanMessage', () => {
  test('finds a card number with its location, masked', () => {
    const f = scanMessage({ subject: 'Hello', text: 'line one\nyour card 4111 1111 1111 1111 is on file' });
    assert.equal(f.length, 1);
    assert.deepEqual({ kind: f[0].kind, name: f[0].name, location: f[0].location, line: f[0].line, column: f[0].column }, {
      kind: 'payment_card',
      name: 'Visa',
      location: 'text',
      line: 2,
      column: 11,
    });
    assert.equal(f[0].preview.includes('1111 1111 1111'), false, 'never echoes the full number');
    assert.match(f[0].preview, /^4111.*1111$/);
  });

  test('does not flag numbers that fail Luhn, order numbers or phone numbers', () => {
    const f = scanMessage({ subject: 'Order 4111111111111112', text: 'Call +44 20 7946 0958, order #123456789012, ref 2024-01-15' });
    assert.deepEqual(f, []);
  });

  test('finds IBAN, SSN (dashed and labelled) and decodes HTML entities', () => {
    const f = scanMessage({
      subject: 'Your IBAN GB82 WEST 1234 5698 7654 32',
      html: '<p>SSN: 123-45-6789</p><p>card 4111&#32;1111&#32;1111&#32;1111</p>',
      text: 'social security number 123 45 6789',
    });
    const kinds = f.map((x) => `${x.location}:${x.kind}`).sort();
    assert.deepEqual(kinds, ['html:payment_card', 'html:us_ssn', 'subject:iban', 'text:us_ssn']);
  });

  test('invalid SSNs (area 000/666/9xx, group 00) are not flagged', () => {
    assert.deepEqual(scanMessage({ subject: '000-12-3456 666-12-3456 900-12-3456 123-00-4567' }), []);
  });

  test('provider secrets', () => {
    const secrets = [
      'AKIAIOSFODNN7EXAMPLE',
      `ghp_${'a'.repeat(36)}`,
      `xoxb-123456789012-abcdefghij`,
      `sk_live_${'4eC39HqLyjWDarjtT1zdp7dc'}`,
      `AIza${'B'.repeat(35)}`,
      `SG.${'a'.repeat(22)}.${'b'.repeat(43)}`,
      '-----BEGIN RSA PRIVATE KEY-----',
      'password = hunter2hunter2',
      `mwk_${'x'.repeat(30)}`,
    ];
    for (const s of secrets) {
      const f = scanMessage({ subject: 'x', text: `here: ${s} end` });
      assert.equal(f.length >= 1, true, s);
      assert.equal(f[0].kind, 'secret', s);
    }
  });

  test('attachments: text attachments and printable runs of binary ones', () => {
    const f = scanMessage({
      subject: 's',
      attachments: [
        { filename: 'list.csv', contentType: 'text/csv', content: Buffer.from('name,iban\nA,DE89370400440532013000\n') },
        { filename: 'x.bin', contentType: 'application/octet-stream', content: Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(' AKIAIOSFODNN7EXAMPLE '), Buffer.from([0])]) },
      ],
    });
    assert.deepEqual(
      f.map((x) => `${x.location}:${x.kind}:${x.line}`),
      ['attachment:list.csv:iban:2', 'attachment:x.bin:secret:1'],
    );
  });

  test('workspace patterns, with ReDoS-prone patterns refused', () => {
    const f = scanParts([{ location: 'html', text: 'Project NIGHTJAR launches soon' }], [{ name: 'Codename', pattern: '\\bnightjar\\b' }]);
    assert.equal(f.length, 1);
    assert.equal(f[0].kind, 'custom');
    assert.equal(f[0].name, 'Codename');
    assert.throws(() => compileWorkspacePattern({ name: 'bad', pattern: '(a+)+$' }), PatternError);
    assert.throws(() => compileWorkspacePattern({ name: 'bad', pattern: '([' }), PatternError);
  });

  test('maskMatch hides the middle', () => {
    assert.equal(maskMatch('AKIAIOSFODNN7EXAMPLE'), 'AKIA••••••••••••MPLE');
    assert.equal(maskMatch('short'), '•••••');
  });
});
