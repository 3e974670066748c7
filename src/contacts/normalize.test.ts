import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  emailDomain,
  isCountryCode,
  isValidTimeZone,
  normaliseCountry,
  normaliseEmail,
  normalisePhone,
  normaliseTimeZone,
} from './normalize.ts';

test('normaliseEmail: canonical forms', () => {
  const cases: [string, string][] = [
    ['  Ada.Lovelace@Example.COM ', 'ada.lovelace@example.com'],
    ['ada+news@example.co.uk', 'ada+news@example.co.uk'],
    ['user@münchen.de', 'user@xn--mnchen-3ya.de'],
    ['user@MÜNCHEN.DE', 'user@xn--mnchen-3ya.de'],
    ['user@xn--mnchen-3ya.de', 'user@xn--mnchen-3ya.de'],
    ['user@пример.рф', 'user@xn--e1afmkfd.xn--p1ai'],
    ['user@example.com.', 'user@example.com'],
    ["o'brien@example.ie", "o'brien@example.ie"],
    ['a@b.io', 'a@b.io'],
    // 254 characters in total: the maximum accepted.
    [
      `${'a'.repeat(64)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.ee.com`,
      `${'a'.repeat(64)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.ee.com`,
    ],
    // NFC: a decomposed "ü" (u + U+0308) in the domain gives the same result as the composed one.
    ['user@mu\u0308nchen.de', 'user@xn--mnchen-3ya.de'],
  ];
  for (const [input, expected] of cases) {
    assert.deepEqual(normaliseEmail(input), { ok: true, value: expected }, input);
  }
});

test('normaliseEmail: typed error reasons', () => {
  const cases: [string, string][] = [
    ['', 'empty'],
    ['   ', 'empty'],
    ['ada.example.com', 'missing_at'],
    ['@example.com', 'missing_at'],
    ['ada@', 'missing_at'],
    ['ada..lovelace@example.com', 'invalid_local_part'],
    ['.ada@example.com', 'invalid_local_part'],
    ['ada.@example.com', 'invalid_local_part'],
    ['"ada lovelace"@example.com', 'invalid_local_part'],
    ['a@b@example.com', 'invalid_local_part'],
    ['ada lovelace@example.com', 'invalid_local_part'],
    [`${'a'.repeat(65)}@example.com`, 'invalid_local_part'],
    ['jörg@example.com', 'non_ascii_local_part'],
    ['ada@localhost', 'invalid_domain'],
    ['ada@127.0.0.1', 'invalid_domain'],
    ['ada@[127.0.0.1]', 'invalid_domain'],
    ['ada@example.c0m', 'invalid_domain'],
    ['ada@-example.com', 'invalid_domain'],
    ['ada@exa_mple.com', 'invalid_domain'],
    ['ada@exa mple.com', 'invalid_domain'],
    ['ada@example..com', 'invalid_domain'],
    [`ada@${'a'.repeat(64)}.com`, 'invalid_domain'],
    [`a@${`${'b'.repeat(50)}.`.repeat(5)}com`, 'invalid_domain'], // domain > 253 characters
    [`${'a'.repeat(64)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.eee.com`, 'too_long'], // 255 > 254 in total
  ];
  for (const [input, reason] of cases) {
    assert.deepEqual(normaliseEmail(input), { ok: false, reason }, input);
  }
});

test('emailDomain returns the ASCII domain of a normalised address', () => {
  assert.equal(emailDomain('user@xn--mnchen-3ya.de'), 'xn--mnchen-3ya.de');
  assert.equal(emailDomain('a+b@sub.example.com'), 'sub.example.com');
  assert.throws(() => emailDomain('nope'), TypeError);
});

test('normalisePhone: E.164 output from international and national forms', () => {
  const cases: [string, string | undefined, string][] = [
    ['+44 20 7946 0958', undefined, '+442079460958'],
    ['020 7946 0958', 'GB', '+442079460958'],
    ['020 7946 0958', 'gb', '+442079460958'],
    ['(202) 555-0123', 'US', '+12025550123'],
    ['+1 202-555-0123 ext. 12', undefined, '+12025550123'],
    ['+33 1 42 68 53 00', 'US', '+33142685300'],
    // An unknown default country is ignored rather than breaking international numbers.
    ['+44 20 7946 0958', 'ZZ', '+442079460958'],
  ];
  for (const [raw, country, expected] of cases) {
    assert.deepEqual(normalisePhone(raw, country), { ok: true, value: expected }, raw);
  }
});

test('normalisePhone: error reasons', () => {
  const cases: [string, string | undefined, string][] = [
    ['', 'GB', 'empty'],
    ['abc', 'GB', 'not_a_number'],
    ['call +44 20 7946 0958', 'GB', 'not_a_number'],
    ['2025550123', undefined, 'no_country'],
    ['12', 'GB', 'too_short'],
    ['+4412345678901234', undefined, 'too_long'],
    ['+1 555 555 5555', undefined, 'invalid_number'],
  ];
  for (const [raw, country, reason] of cases) {
    assert.deepEqual(normalisePhone(raw, country), { ok: false, reason }, raw);
  }
  // 'possible' mode accepts a well-formed number in an unallocated range.
  assert.deepEqual(normalisePhone('+1 555 555 5555', undefined, { validity: 'possible' }), {
    ok: true,
    value: '+15555555555',
  });
});

test('normaliseCountry / isCountryCode', () => {
  assert.deepEqual(normaliseCountry(' fr '), { ok: true, value: 'FR' });
  assert.deepEqual(normaliseCountry('UK'), { ok: true, value: 'GB' });
  assert.deepEqual(normaliseCountry('XK'), { ok: true, value: 'XK' });
  assert.deepEqual(normaliseCountry(''), { ok: false, reason: 'empty' });
  for (const bad of ['ZZ', 'EU', 'USA', 'F', 'U5', 'AN']) {
    assert.deepEqual(normaliseCountry(bad), { ok: false, reason: 'invalid_country' }, bad);
  }
  assert.equal(isCountryCode('DE'), true);
  assert.equal(isCountryCode('de'), false);
});

test('ISO list: every code has a CLDR region name (catches typos)', () => {
  const names = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
  let count = 0;
  for (let a = 65; a <= 90; a++) {
    for (let b = 65; b <= 90; b++) {
      const code = String.fromCharCode(a, b);
      if (isCountryCode(code)) {
        count++;
        assert.ok(names.of(code), code);
      }
    }
  }
  assert.equal(count, 250); // 249 ISO 3166-1 codes + XK
});

test('normaliseTimeZone / isValidTimeZone', () => {
  const okCases: [string, string][] = [
    ['Europe/London', 'Europe/London'],
    ['europe/london', 'Europe/London'],
    ['America/Argentina/Buenos_Aires', 'America/Argentina/Buenos_Aires'],
    ['UTC', 'UTC'],
    ['utc', 'UTC'],
    ['Etc/UTC', 'UTC'],
    ['Asia/Kolkata', 'Asia/Kolkata'],
    ['US/Eastern', 'US/Eastern'],
  ];
  for (const [raw, expected] of okCases)
    assert.deepEqual(normaliseTimeZone(raw), { ok: true, value: expected }, raw);
  for (const bad of ['Mars/Olympus_Mons', '+02:00', 'Europe/', 'Europe/London; DROP', '../etc/passwd']) {
    assert.deepEqual(normaliseTimeZone(bad), { ok: false, reason: 'invalid_time_zone' }, bad);
  }
  assert.deepEqual(normaliseTimeZone(' '), { ok: false, reason: 'empty' });
  assert.equal(isValidTimeZone('Pacific/Auckland'), true);
  assert.equal(isValidTimeZone('Nowhere/Special'), false);
  // Every zone Intl advertises is accepted unchanged.
  for (const z of Intl.supportedValuesOf('timeZone'))
    assert.deepEqual(normaliseTimeZone(z), { ok: true, value: z });
});

test('libphonenumber-js carries our patch (patches/): its validity regexes are compiled once, not per call', () => {
  // Without the patch every parse rebuilds each pattern (the US one is 637 characters) into a new RegExp:
  // ~10 KB of garbage and ~6 µs per phone number, a large share of an import's CPU. `npm install` applies
  // it (postinstall: patch-package); behaviour is the same either way, which the tests above check.
  for (const build of ['es6', 'es6-modern', 'build']) {
    const file = new URL(`../../node_modules/libphonenumber-js/${build}/helpers/matchesEntirely.js`, import.meta.url);
    const hint = `libphonenumber-js/${build} is not patched: run \`npx patch-package\` (npm install does, unless scripts are off)`;
    assert.match(readFileSync(file, 'utf8'), /compiled\.get\(regularExpressionText\)/, hint);
  }
});
