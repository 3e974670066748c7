// Segments against a real database (PGlite, or PostgreSQL with TEST_DATABASE_URL):
// the current-consent table kept by its trigger, exact email-domain conditions
// (decrypt-and-check of the blind-index bucket), the write-once ledger guard,
// and automated engagement being ignored.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { systemActor } from '../audit/service.ts';
import { campaigns, engagementEvents, engagementTypeCodes } from '../campaigns/schema.ts';
import * as contactsSvc from '../contacts/service.ts';
import { domainBidx, keyProviderFromConfig, uuidv7, Vault } from '../contacts/vault.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import { rows } from '../db/client.ts';
import { ledgerInsert } from './compile.ts';
import type { Rule } from './rules.ts';
import {
  builderOptions,
  compileContext,
  countSegment,
  countSegmentLive,
  createSegment,
  freezeSegment,
  sampleSegment,
} from './service.ts';

let db: TestDatabase;
let kr: Keyring;
const actor = systemActor('test');
const ids: Record<string, string> = {};
let collidingDomain = '';

async function person(
  name: string,
  email: string,
  consent: 'subscribed' | 'pending' | 'unsubscribed' | null = 'subscribed',
) {
  const c = await contactsSvc.createContact(db.db, kr, actor, { email, firstName: name });
  ids[name] = c.id;
  if (consent)
    await contactsSvc.setConsent(db.db, kr, actor, c.id, {
      purpose: 'marketing_email',
      state: consent,
      source: 'test',
      evidence: {},
    });
  return c.id;
}

const current = async (contactId: string, purpose = 'marketing_email') =>
  (
    await rows<{ state: string }>(
      db.db,
      sql`SELECT state FROM contact_consent_current WHERE contact_id = ${contactId}::uuid AND purpose = ${purpose}`,
    )
  )[0]?.state ?? 'none';

before(async () => {
  db = await createTestDatabase();
  kr = await new Vault(db.db, keyProviderFromConfig({ masterKey: randomBytes(32) })).keyring();
  // A domain whose 8-bit blind index collides with target.example: its contacts
  // land in the same bucket, so only decryption can tell them apart.
  const target = domainBidx(kr, 'target.example');
  for (let i = 0; !collidingDomain; i++)
    if (domainBidx(kr, `d${i}.example`) === target) collidingDomain = `d${i}.example`;
  await person('tia', 'tia@target.example');
  await person('tom', 'tom@target.example');
  await person('oli', `oli@${collidingDomain}`);
  await person('pam', 'pam@elsewhere.example');
});
after(async () => {
  await db?.close();
});

describe('current consent', () => {
  test('every write path keeps contact_consent_current on the latest consent', async () => {
    const id = await person('cat', 'cat@elsewhere.example', null);
    assert.equal(await current(id), 'none');
    await contactsSvc.setConsent(db.db, kr, actor, id, {
      purpose: 'marketing_email',
      state: 'pending',
      source: 'test',
      evidence: {},
    });
    assert.equal(await current(id), 'pending');
    await contactsSvc.setConsent(db.db, kr, actor, id, {
      purpose: 'marketing_email',
      state: 'subscribed',
      source: 'test',
      evidence: {},
    });
    assert.equal(await current(id), 'subscribed');
    // Raw multi-row insert (as the importer does): the latest row of the statement wins, per purpose.
    const ev = contactsSvc.consentRow(kr, id, {
      purpose: 'x',
      state: 'subscribed',
      source: 'test',
      evidence: {},
    });
    await db.db.execute(sql`INSERT INTO contact_consents (id, workspace_id, contact_id, purpose, state, source, key_version, evidence_enc, at) VALUES
      (${uuidv7()}::uuid, 1, ${id}::uuid, 'marketing_email', 'unsubscribed', 'raw', ${ev.keyVersion}, ${ev.evidenceEnc}, now() + interval '1 minute'),
      (${uuidv7()}::uuid, 1, ${id}::uuid, 'marketing_email', 'pending', 'raw', ${ev.keyVersion}, ${ev.evidenceEnc}, now()),
      (${uuidv7()}::uuid, 1, ${id}::uuid, 'sms', 'subscribed', 'raw', ${ev.keyVersion}, ${ev.evidenceEnc}, now())`);
    assert.equal(await current(id), 'unsubscribed', 'later `at` wins within one statement');
    assert.equal(await current(id, 'sms'), 'subscribed');
    // An older consent arriving later does not overwrite the current one.
    await db.db.execute(sql`INSERT INTO contact_consents (id, workspace_id, contact_id, purpose, state, source, key_version, evidence_enc, at)
      VALUES (${uuidv7()}::uuid, 1, ${id}::uuid, 'marketing_email', 'subscribed', 'raw', ${ev.keyVersion}, ${ev.evidenceEnc}, now() - interval '1 day')`);
    assert.equal(await current(id), 'unsubscribed');
    // The table agrees with the history everywhere.
    const [{ n }] = await rows<{ n: number }>(
      db.db,
      sql`SELECT count(*)::int AS n FROM (SELECT DISTINCT ON (contact_id, purpose) contact_id, purpose, state FROM contact_consents ORDER BY contact_id, purpose, at DESC, id DESC) h
        FULL JOIN contact_consent_current cur USING (contact_id, purpose) WHERE h.state IS DISTINCT FROM cur.state`,
    );
    assert.equal(n, 0);
    const counts = await countSegment(db.db, kr, { kind: 'consent', purpose: 'sms', state: 'subscribed' });
    assert.equal(counts.matched, 1);
    assert.equal(counts.eligible, 0, 'unsubscribed from marketing: matched but not eligible');
    assert.equal(counts.excluded.unsubscribed, 1);
  });
});

describe('email domain conditions', () => {
  const inTarget: Rule = { kind: 'email_domain', op: 'equals', domain: 'Target.Example' };
  const notTarget: Rule = { kind: 'email_domain', op: 'not_equals', domain: 'target.example' };

  test('a colliding domain shares the bucket: exact mode lists it for exclusion, a zero decrypt budget stays approximate', async () => {
    const approx = await compileContext(db.db, kr, inTarget, { maxDecrypt: 0 });
    assert.deepEqual(approx.approximateDomains, ['target.example']);
    const exact = await compileContext(db.db, kr, inTarget);
    assert.deepEqual(exact.approximateDomains, []);
    assert.deepEqual(
      exact.exactDomains?.get('target.example'),
      [ids.oli],
      'only the other domain in the bucket is excluded',
    );
  });

  test('count, sample and freeze are exact, for equals and not_equals', async () => {
    const c = await countSegmentLive(db.db, kr, inTarget);
    assert.equal(c.eligible, 2);
    assert.deepEqual(c.approximateDomains, []);
    assert.deepEqual((await sampleSegment(db.db, kr, inTarget)).map((x) => x.email).sort(), [
      'tia@target.example',
      'tom@target.example',
    ]);
    const others = (await sampleSegment(db.db, kr, notTarget)).map((x) => x.email);
    assert.ok(
      others.includes(`oli@${collidingDomain}`),
      'a bucket neighbour is not excluded by "not equals"',
    );
    assert.ok(!others.some((e) => e.endsWith('@target.example')));
    assert.equal(
      (await countSegment(db.db, kr, { kind: 'not', rule: inTarget })).eligible,
      (await countSegment(db.db, kr, notTarget)).eligible,
    );
    const seg = await createSegment(db.db, kr, actor, { name: 'target', rule: inTarget });
    const frozen = await freezeSegment(db.db, kr, actor, seg.id, 'target snapshot');
    assert.equal(frozen.members, 2);
  });

  test('the ledger is exact, and a second materialisation inserts nothing', async () => {
    const [camp] = await db.db.insert(campaigns).values({ workspaceId: 1, name: 'ledger' }).returning();
    const ctx = await compileContext(db.db, kr, inTarget);
    await db.db.execute(ledgerInsert(inTarget, ctx, camp.id, { mode: 'now' }));
    const ledger = async () =>
      (
        await rows<{ contact_id: string }>(
          db.db,
          sql`SELECT contact_id FROM campaign_recipients WHERE campaign_id = ${camp.id}::bigint ORDER BY contact_id`,
        )
      ).map((r) => r.contact_id);
    assert.deepEqual(await ledger(), [ids.tia, ids.tom].sort());
    await db.db.execute(ledgerInsert({ kind: 'and', rules: [] }, ctx, camp.id, { mode: 'now' }));
    assert.deepEqual(await ledger(), [ids.tia, ids.tom].sort(), 'written once');
  });
});

describe('engagement', () => {
  test('automated opens (scanners, prefetchers) do not count', async () => {
    const [camp] = await db.db
      .insert(campaigns)
      .values({ workspaceId: 1, name: 'opens', launchedAt: new Date() })
      .returning();
    await db.db.insert(engagementEvents).values([
      { campaignId: camp.id, contactId: ids.tia, type: engagementTypeCodes.opened, automated: true },
      { campaignId: camp.id, contactId: ids.tom, type: engagementTypeCodes.opened },
    ]);
    const opened = await sampleSegment(db.db, kr, {
      kind: 'engagement',
      event: 'opened',
      withinDays: 30,
      count: { op: 'at_least', n: 1 },
    });
    assert.deepEqual(
      opened.map((x) => x.id),
      [ids.tom],
    );
  });
});

describe('builder options', () => {
  test('offers plaintext attributes only, tags in use, launched campaigns and consent purposes', async () => {
    await contactsSvc.createAttributeDef(db.db, {
      key: 'plan',
      label: 'Plan',
      type: 'text',
      sensitive: false,
    });
    await contactsSvc.createAttributeDef(db.db, {
      key: 'salary',
      label: 'Salary',
      type: 'number',
      sensitive: true,
    });
    await contactsSvc.updateContact(db.db, kr, actor, ids.pam, { tags: ['vip', 'beta'] });
    const o = await builderOptions(db.db);
    assert.deepEqual(
      o.attributes.map((a) => a.key),
      ['plan'],
    );
    assert.deepEqual(o.tags, ['beta', 'vip']);
    assert.ok(o.purposes.includes('marketing_email') && o.purposes.includes('sms'));
    assert.ok(o.campaigns.some((c) => c.name === 'opens'));
    assert.ok(!o.campaigns.some((c) => c.name === 'ledger'), 'never launched');
  });
});
