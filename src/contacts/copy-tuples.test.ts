import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EncodedValues } from './contact-encoding.ts';
import { contactColumns, copyTuples } from './copy-tuples.ts';

/** A binary COPY body → its tuples' fields (null or the field's bytes), checking the framing on the way. */
function fieldsOf(body: Uint8Array): (Buffer | null)[][] {
  const b = Buffer.from(body);
  assert.equal(b.subarray(0, 11).toString('latin1'), 'PGCOPY\n\xff\r\n\0');
  let at = 19;
  const tuples: (Buffer | null)[][] = [];
  for (;;) {
    const n = b.readInt16BE(at);
    at += 2;
    if (n === -1) break;
    const fields: (Buffer | null)[] = [];
    for (let i = 0; i < n; i++) {
      const len = b.readInt32BE(at);
      at += 4;
      fields.push(len === -1 ? null : b.subarray(at, (at += len)));
    }
    tuples.push(fields);
  }
  assert.equal(at, b.length, 'nothing after the trailer');
  return tuples;
}

test('COPY tuples carry every contact column, 64-bit integers included, in contactColumns order', () => {
  const columns = contactColumns.split(',').map((c) => c.trim());
  const id = '0190a5b2-0000-7000-8000-00000000000a';
  const importId = '0190a5b2-0000-7000-8000-0000000000ff';
  const v = {
    id,
    keyVersion: 3,
    emailLength: 300,
    emailBidx: 5,
    emailDomainBidx: -6,
    profileEnc: Buffer.from('profile'),
    phoneBidx: null,
    attributes: { plan: 'pro', score: 2 },
    jobTitle: 'CTO',
    country: 'GB',
    timeZone: null,
    companyId: 2 ** 40 + 5,
    ownerUserId: -3,
    tags: ['a', 'é'],
    importRun: 2 ** 33 + 7,
  } as unknown as EncodedValues;
  const [t] = fieldsOf(copyTuples([v], importId).body);
  assert.equal(t.length, columns.length);
  const at = (c: string) => t[columns.indexOf(c)];
  assert.equal(at('id')!.toString('hex'), id.replaceAll('-', ''));
  assert.equal(at('key_version')!.readInt32BE(0), 3);
  assert.equal(at('email_length')!.readInt16BE(0), 300);
  assert.equal(at('email_length')!.length, 2, 'smallint');
  assert.equal(at('bidx_layout')!.length, 2, 'smallint');
  assert.equal(at('email_domain_bidx')!.readInt32BE(0), -6);
  assert.equal(at('phone_bidx'), null);
  assert.deepEqual(JSON.parse(at('attributes')!.subarray(1).toString()), { plan: 'pro', score: 2 });
  assert.equal(at('attributes')![0], 1, 'jsonb version byte');
  assert.equal(at('time_zone'), null);
  assert.equal(at('company_id')!.readBigInt64BE(0), BigInt(2 ** 40 + 5));
  assert.equal(at('owner_user_id')!.readBigInt64BE(0), -3n);
  assert.equal(at('import_run')!.readBigInt64BE(0), BigInt(2 ** 33 + 7));
  assert.deepEqual([...at('suppressed')!], [0]);
  assert.equal(at('import_id')!.toString('hex'), importId.replaceAll('-', ''));
  assert.ok(at('tags')!.includes(Buffer.from('é')));
});
