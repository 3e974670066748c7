import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import {
  type AttributeDefinition,
  type BadRow,
  type ImportOptions,
  type ValidRow,
  ERROR_FILE_HEADER,
  ImportConfigError,
  errorFileCsv,
  importRows,
  newImportStats,
} from './import-rows.ts';

const attributes: AttributeDefinition[] = [
  { key: 'plan', type: 'enum', options: ['free', 'pro', 'Enterprise'], sensitive: false },
  { key: 'seats', type: 'number', sensitive: false },
  { key: 'renewal', type: 'date', sensitive: false },
  { key: 'vip', type: 'boolean', sensitive: false },
  { key: 'ssn_last4', type: 'text', sensitive: true },
  { key: 'region', type: 'text', sensitive: false, required: true },
];

const mapping = {
  Email: 'email',
  'First name': 'firstName',
  'Last name': 'lastName',
  Phone: 'phone',
  Country: 'country',
  TZ: 'timeZone',
  Notes: 'notes',
  Plan: 'plan',
  Seats: 'seats',
  Renewal: 'renewal',
  VIP: 'vip',
  SSN4: 'ssn_last4',
  Region: 'region',
};
const HEADER = 'Email,First name,Last name,Phone,Country,TZ,Notes,Plan,Seats,Renewal,VIP,SSN4,Region,Ignored';

interface Collected {
  good: ValidRow[];
  bad: BadRow[];
  batches: number[];
}

async function collect(input: Readable, options: Partial<ImportOptions> = {}): Promise<Collected> {
  const out: Collected = { good: [], bad: [], batches: [] };
  for await (const batch of importRows(input, { format: 'csv', mapping, attributes, ...options })) {
    out.good.push(...batch.good);
    out.bad.push(...batch.bad);
    out.batches.push(batch.good.length + batch.bad.length);
  }
  return out;
}

const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

test('CSV: valid rows are normalised and typed, with line numbers', async () => {
  const csv = [
    HEADER,
    ' Ada@Example.COM ,Ada,Lovelace,020 7946 0958,gb,Europe/London,"Met at ""PyCon""",PRO,12,2025-03-01,yes,1234,EMEA,x',
    'grace@navy.mil,Grace,Hopper,+1 202 555 0123,US,america/new_york,,Enterprise,1.5e1,2025-01-02T10:00:00+02:00,0,,AMER,',
    '',
  ].join('\n');
  const { good, bad } = await collect(Readable.from([Buffer.from(csv)]));
  assert.deepEqual(bad, []);
  assert.deepEqual(good, [
    {
      line: 2,
      email: 'ada@example.com',
      emailDomain: 'example.com',
      firstName: 'Ada',
      lastName: 'Lovelace',
      phone: '+442079460958',
      country: 'GB',
      timeZone: 'Europe/London',
      notes: 'Met at "PyCon"',
      attributes: {
        plan: 'pro',
        seats: 12,
        renewal: '2025-03-01',
        vip: true,
        ssn_last4: '1234',
        region: 'EMEA',
      },
    },
    {
      line: 3,
      email: 'grace@navy.mil',
      emailDomain: 'navy.mil',
      firstName: 'Grace',
      lastName: 'Hopper',
      phone: '+12025550123',
      country: 'US',
      timeZone: 'America/New_York',
      notes: null,
      attributes: {
        plan: 'Enterprise',
        seats: 15,
        renewal: '2025-01-02T08:00:00.000Z',
        vip: false,
        region: 'AMER',
      },
    },
  ]);
});

test('CSV: each validation failure gets a reason and the source line', async () => {
  const rows = [
    HEADER, // 1
    'not-an-email,A,B,,,,,,,,,,EMEA,', // 2 invalid email
    'b@example.com,A,B,12,GB,,,,,,,,EMEA,', // 3 unparseable phone
    'c@example.com,A,B,,,,,,twelve,,,,EMEA,', // 4 wrong number type
    'd@example.com,A,B,,,,,,,31/12/2025,,,EMEA,', // 5 wrong date format
    'e@example.com,A,B,,,,,,,2025-02-30,,,EMEA,', // 6 impossible date
    'f@example.com,A,B,,,,,,,,maybe,,EMEA,', // 7 wrong boolean
    'g@example.com,A,B,,,,,gold,,,,,EMEA,', // 8 unknown enum value
    ',A,B,,,,,,,,,,EMEA,', // 9 missing email
    'h@example.com,A,B,,,,,,,,,,,', // 10 missing required attribute
    'i@example.com,A,B,,XX,,,,,,,,EMEA,', // 11 bad country
    'j@example.com,A,B,,,Mars/Base,,,,,,,EMEA,', // 12 bad time zone
    'k@example.com,A,B,,,,,,,,,,EMEA', // 13 column count (13 instead of 14)
  ];
  const { good, bad } = await collect(Readable.from([Buffer.from(rows.join('\r\n'))]));
  assert.deepEqual(good, []);
  const byLine = new Map(bad.map((b) => [b.line, b]));
  const expectations: [number, RegExp][] = [
    [2, /^email: invalid email address \(missing_at\)$/],
    [3, /^phone: unparseable phone number \(too_short\)$/],
    [4, /^seats: expected a number/],
    [5, /^renewal: expected a date as YYYY-MM-DD/],
    [6, /^renewal: expected a date/],
    [7, /^vip: expected true\/false/],
    [8, /^plan: unknown value \(allowed: free, pro, Enterprise\)$/],
    [9, /^email: required value missing$/],
    [10, /^region: required value missing$/],
    [11, /^country: not an ISO 3166-1 alpha-2/],
    [12, /^timeZone: not an IANA time zone/],
    [13, /^wrong number of columns: expected 14, got 13$/],
  ];
  assert.equal(bad.length, expectations.length);
  for (const [line, re] of expectations) {
    const b = byLine.get(line);
    assert.ok(b, `line ${line} missing`);
    assert.match(b.reason, re, `line ${line}`);
    assert.equal(b.raw, rows[line - 1], `raw of line ${line}`);
  }
  // The unknown enum value itself is not echoed into the reason.
  assert.ok(!byLine.get(8)!.reason.includes('gold'));
});

test('CSV: several problems in one row are all reported', async () => {
  const csv = `${HEADER}\nnope,A,B,12,,,,gold,x,,,,,\n`;
  const { bad } = await collect(Readable.from([Buffer.from(csv)]));
  assert.equal(bad.length, 1);
  assert.equal(
    bad[0].reason,
    'email: invalid email address (missing_at); phone: unparseable phone number (no_country); ' +
      'plan: unknown value (allowed: free, pro, Enterprise); seats: expected a number like 1234.5; ' +
      'region: required value missing',
  );
});

test('CSV: invalid UTF-8 is detected; BOM is stripped; valid non-ASCII passes', async () => {
  const input = bytes(
    [0xef, 0xbb, 0xbf],
    `${HEADER}\n`,
    'a@example.com,',
    [0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72], // "Müller" in Latin-1: invalid UTF-8
    ',X,,,,,,,,,,EMEA,\n',
    'b@example.com,Zoë,Ñúñez,,,,,,,,,,EMEA,\n',
  );
  const { good, bad } = await collect(Readable.from([input]));
  assert.equal(bad.length, 1);
  assert.equal(bad[0].line, 2);
  assert.match(bad[0].reason, /^firstName: invalid UTF-8/);
  assert.equal(good.length, 1);
  assert.equal(good[0].firstName, 'Zoë');
  assert.equal(good[0].lastName, 'Ñúñez');
});

test('CSV: multi-line quoted fields report their starting line (LF and CRLF), blank lines are counted', async () => {
  for (const eol of ['\n', '\r\n']) {
    const lines = [
      HEADER, // 1
      `a@example.com,A,B,,,,"first${eol}second${eol}third",,,,,,EMEA,`, // 2-4
      '', // 5
      `bad,A,B,,,,"x${eol}y",,,,,,EMEA,`, // 6-7
      '', // 8
      '', // 9
      'c@example.com,A,B,,,,,,,,,,EMEA,', // 10
      `bad2,A,B,,,,"x${eol}${eol}y",,,,,,EMEA,`, // 11-13
      'bad3,A,B,,,,,,,,,,EMEA,', // 14
    ];
    const { good, bad } = await collect(Readable.from([Buffer.from(lines.join(eol))]));
    assert.deepEqual(
      good.map((g) => g.line),
      [2, 10],
      `eol ${JSON.stringify(eol)}`,
    );
    assert.equal(good[0].notes, `first${eol}second${eol}third`);
    assert.deepEqual(
      bad.map((b) => b.line),
      [6, 11, 14],
      `eol ${JSON.stringify(eol)}`,
    );
  }
});

test('CSV: results do not depend on how the stream is chunked (multi-byte and CRLF splits)', async () => {
  const csv = Buffer.from(
    `${HEADER}\r\nzoë@example.com,Zoë,"Ñ\r\núñez",,,,,,,,,,EMEA,\r\n\r\nbad,Ä,B,,,,,,,,,,EMEA,\r\nb@example.com,日本,語,,,,,,,,,,EMEA,`,
  );
  const reference = await collect(Readable.from([csv]));
  assert.equal(reference.good.length + reference.bad.length, 3);
  for (let size = 1; size <= 9; size++) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < csv.length; i += size) chunks.push(csv.subarray(i, i + size));
    const r = await collect(Readable.from(chunks));
    assert.deepEqual(r.good, reference.good, `chunk size ${size}`);
    assert.deepEqual(r.bad, reference.bad, `chunk size ${size}`);
  }
});

test('CSV: a never-closed quote is reported at the line where the broken row starts', async () => {
  const csv = `${HEADER}\na@example.com,A,B,,,,,,,,,,EMEA,\n"b@example.com,A,B,,,,,,,,,,EMEA,\nc@example.com,A,B,,,,,,,,,,EMEA,\n`;
  const { good, bad } = await collect(Readable.from([Buffer.from(csv)]));
  assert.deepEqual(
    good.map((g) => g.line),
    [2],
  );
  assert.equal(bad.length, 1);
  assert.equal(bad[0].line, 3);
  assert.match(bad[0].reason, /quoted field is never closed/);
  assert.ok(bad[0].raw.startsWith('"b@example.com'));
});

test('CSV: a runaway row is cut at maxRowBytes instead of buffering the file', async () => {
  const huge = 'x'.repeat(10_000);
  const csv = `${HEADER}\na@example.com,A,B,,,,"${huge}\n`;
  const { good, bad } = await collect(Readable.from([Buffer.from(csv)]), { maxRowBytes: 2048 });
  assert.equal(good.length, 1 - 1);
  assert.equal(bad.length, 1);
  assert.equal(bad[0].line, 2);
  assert.match(bad[0].reason, /maximum row size/);
  assert.ok(bad[0].raw.length <= 2100, `raw kept ${bad[0].raw.length} chars`);
});

test('CSV: phone numbers use the row country, then the default country', async () => {
  const csv = `Email,Phone,Country\na@example.com,020 7946 0958,GB\nb@example.com,(202) 555-0123,\nc@example.com,01 42 68 53 00,FR\n`;
  const { good, bad } = await collect(Readable.from([Buffer.from(csv)]), {
    mapping: { Email: 'email', Phone: 'phone', Country: 'country' },
    attributes: [],
    defaultCountry: 'US',
  });
  assert.deepEqual(bad, []);
  assert.deepEqual(
    good.map((g) => g.phone),
    ['+442079460958', '+12025550123', '+33142685300'],
  );
});

test('configuration errors are thrown before any batch', async () => {
  const run = (options: Partial<ImportOptions>, csv = `${HEADER}\n`) =>
    collect(Readable.from([Buffer.from(csv)]), options);
  await assert.rejects(run({ mapping: { ...mapping, Ignored: 'nope' } }), /unknown field "nope"/);
  await assert.rejects(run({ mapping: { ...mapping, Missing: 'plan', Plan: 'seats' } }), ImportConfigError);
  await assert.rejects(run({}, 'Email,Plan\n'), /mapped column "First name" is not in the file/);
  await assert.rejects(run({ mapping: { Plan: 'plan' }, attributes }), /required field email is not mapped/);
  const { Region: _r, ...noRegion } = mapping;
  await assert.rejects(run({ mapping: noRegion }), /required attribute region is not mapped/);
  await assert.rejects(
    run({ attributes: [...attributes, { key: 'tier', type: 'enum', sensitive: false }] }),
    /enum attribute tier has no options/,
  );
  await assert.rejects(
    run({ attributes: [...attributes, { key: 'email', type: 'text', sensitive: false }] }),
    /invalid attribute key/,
  );
  await assert.rejects(run({}, ''), /file is empty/);
  await assert.rejects(run({ batchSize: 0 }), /batchSize/);
});

test('batches respect batchSize and keep every row exactly once, in line order', async () => {
  const rows = [HEADER];
  for (let i = 0; i < 23; i++)
    rows.push(i % 4 === 0 ? `bad${i},A,B,,,,,,,,,,EMEA,` : `u${i}@example.com,A,B,,,,,,,,,,EMEA,`);
  const stats = newImportStats();
  const { good, bad, batches } = await collect(Readable.from([Buffer.from(rows.join('\n'))]), {
    batchSize: 5,
    stats,
  });
  assert.deepEqual(batches, [5, 5, 5, 5, 3]);
  assert.equal(good.length, 17);
  assert.equal(bad.length, 6);
  const lines = [...good.map((g) => g.line), ...bad.map((b) => b.line)].sort((a, b) => a - b);
  assert.deepEqual(
    lines,
    Array.from({ length: 23 }, (_, i) => i + 2),
  );
  assert.deepEqual(stats, {
    rowsRead: 23,
    rowsYielded: 23,
    maxInFlight: stats.maxInFlight,
    good: 17,
    bad: 6,
  });
});

test('JSON Lines: native types, line numbers, malformed lines', async () => {
  const lines = [
    '{"email":"A@Example.com","seats":3,"vip":true,"plan":"pro","region":"EMEA","extra":{"x":1}}', // 1
    '', // 2
    '{"email":"b@example.com","seats":"4","vip":"no","region":"EMEA","renewal":"2025-12-31"}', // 3
    '{"email":"c@example.com",', // 4 malformed
    '["not","an","object"]', // 5
    '{"email":"d@example.com","seats":{"n":1},"region":"EMEA"}', // 6 wrong type
    '{"email":"e@example.com","region":null}', // 7 required missing
  ];
  const input = Readable.from([Buffer.from(`\uFEFF${lines.join('\r\n')}\r\n`)]);
  const { good, bad } = await collect(input, {
    format: 'jsonl',
    mapping: {
      email: 'email',
      seats: 'seats',
      vip: 'vip',
      plan: 'plan',
      region: 'region',
      renewal: 'renewal',
    },
  });
  assert.deepEqual(
    good.map((g) => [g.line, g.email, g.attributes]),
    [
      [1, 'a@example.com', { seats: 3, vip: true, plan: 'pro', region: 'EMEA' }],
      [3, 'b@example.com', { seats: 4, vip: false, region: 'EMEA', renewal: '2025-12-31' }],
    ],
  );
  assert.deepEqual(
    bad.map((b) => [b.line, b.reason]),
    [
      [4, 'malformed JSON'],
      [5, 'expected a JSON object per line'],
      [6, 'seats: expected a text value, got an object or array'],
      [7, 'region: required value missing'],
    ],
  );
  assert.equal(bad[0].raw, lines[3]);
});

test('JSON Lines: invalid UTF-8 and over-long lines are row errors; the stream continues', async () => {
  const input = Readable.from([
    bytes('{"email":"a@example.com","region":"'),
    bytes([0xc3]), // truncated 2-byte sequence
    bytes('x"}\n'),
    bytes(`{"email":"b@example.com","region":"${'y'.repeat(5000)}"}\n`),
    bytes('{"email":"c@example.com","region":"ok"}'), // no trailing newline
  ]);
  const { good, bad } = await collect(input, {
    format: 'jsonl',
    mapping: { email: 'email', region: 'region' },
    maxRowBytes: 1000,
  });
  assert.deepEqual(
    bad.map((b) => [b.line, b.reason.split(' (')[0]]),
    [
      [1, 'region: invalid UTF-8'],
      [2, 'line longer than 1000 characters'],
    ],
  );
  assert.ok(bad[1].raw.length <= 200);
  assert.deepEqual(
    good.map((g) => [g.line, g.email]),
    [[3, 'c@example.com']],
  );
});

test('streaming: a 200k-row file is processed with a bounded number of rows in flight', async () => {
  const TOTAL = 200_000;
  const ROWS_PER_CHUNK = 100;
  const BATCH = 1000;
  let produced = 0;
  let yielded = 0;
  let maxProducedAhead = 0;
  function* source() {
    yield Buffer.from('Email,Region,Seats\n');
    for (let i = 0; i < TOTAL; i += ROWS_PER_CHUNK) {
      let chunk = '';
      for (let j = i; j < i + ROWS_PER_CHUNK; j++) {
        chunk += j % 1000 === 999 ? `broken-${j},EMEA,x\n` : `user${j}@example.com,EMEA,${j % 50}\n`;
      }
      produced += ROWS_PER_CHUNK;
      maxProducedAhead = Math.max(maxProducedAhead, produced - yielded);
      yield Buffer.from(chunk);
    }
  }
  const stats = newImportStats();
  let good = 0;
  let bad = 0;
  let lastLine = 1;
  for await (const batch of importRows(Readable.from(source()), {
    format: 'csv',
    mapping: { Email: 'email', Region: 'region', Seats: 'seats' },
    attributes,
    batchSize: BATCH,
    stats,
  })) {
    good += batch.good.length;
    bad += batch.bad.length;
    yielded += batch.good.length + batch.bad.length;
    assert.ok(batch.good.length + batch.bad.length <= BATCH);
    for (const row of [...batch.good, ...batch.bad].sort((a, b) => a.line - b.line)) {
      assert.ok(row.line > lastLine);
      lastLine = row.line;
    }
  }
  assert.equal(good + bad, TOTAL);
  assert.equal(bad, TOTAL / 1000);
  assert.equal(lastLine, TOTAL + 1);
  // Rows parsed but not yet handed over never exceed a batch plus stream buffers…
  assert.ok(stats.maxInFlight <= BATCH + 20 * ROWS_PER_CHUNK, `maxInFlight ${stats.maxInFlight}`);
  // …and the source is pulled lazily, not read ahead to the end.
  assert.ok(maxProducedAhead <= BATCH + 60 * ROWS_PER_CHUNK, `source ran ${maxProducedAhead} rows ahead`);
  assert.ok(maxProducedAhead < TOTAL / 10);
});

test('streaming: stopping early stops reading the source', async () => {
  let produced = 0;
  function* source() {
    yield 'Email,Region\n';
    for (let i = 0; i < 1_000_000; i++) {
      produced++;
      yield `u${i}@example.com,EMEA\n`;
    }
  }
  const input = Readable.from(source());
  for await (const batch of importRows(input, {
    format: 'csv',
    mapping: { Email: 'email', Region: 'region' },
    attributes,
    batchSize: 100,
  })) {
    assert.equal(batch.good.length, 100);
    break;
  }
  assert.ok(input.destroyed);
  assert.ok(produced < 10_000, `produced ${produced}`);
});

test('errorFileCsv: RFC 4180 quoting, formula neutralisation, round-trips through a CSV parser', () => {
  const bad: BadRow[] = [
    { line: 2, reason: 'email: invalid email address (missing_at)', raw: 'nope,"Ada, Countess",x' },
    { line: 7, reason: 'malformed CSV', raw: 'multi\r\nline "quoted"' },
    { line: 9, reason: 'x', raw: '=HYPERLINK("http://evil.example","click")' },
    { line: 10, reason: 'y', raw: '+SUM(A1:A2)' },
    { line: 11, reason: 'z', raw: '@cmd' },
    { line: 12, reason: 'w', raw: '-2+3' },
  ];
  const text = errorFileCsv(bad);
  assert.ok(text.startsWith(ERROR_FILE_HEADER));
  const parsed = parse(text, { columns: true }) as { line: string; reason: string; raw: string }[];
  assert.deepEqual(
    parsed.map((r) => [Number(r.line), r.reason, r.raw]),
    [
      [2, bad[0].reason, bad[0].raw],
      [7, bad[1].reason, bad[1].raw],
      [9, 'x', `'${bad[2].raw}`],
      [10, 'y', `'${bad[3].raw}`],
      [11, 'z', `'${bad[4].raw}`],
      [12, 'w', `'${bad[5].raw}`],
    ],
  );
  assert.equal(errorFileCsv([]), ERROR_FILE_HEADER);
});
