// Segments, templates and campaigns against a real database (PGlite, or
// PostgreSQL with TEST_DATABASE_URL): compile + count, injection payloads
// through every operator, sample masking, freeze, template approval, DKIM,
// and the campaign lifecycle with guardrails and the recipient ledger.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { createTestApp, signedInAs, type TestApp } from '../../test/support/app.ts';
import { systemActor } from '../audit/service.ts';
import { openWithKey, deriveKey } from '../crypto/aead.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import { rows } from '../db/client.ts';
import { deliveryKeys } from '../delivery/keys.ts';
import { OutboxTransport, outboxKey } from '../delivery/outbox.ts';
import { runTestSends } from '../delivery/test-sends.ts';
import { auditLog, campaignRecipients, campaigns, dkimKeys, engagementEvents, listMembers, templateTestSends } from '../db/schema.ts';
import * as contactsSvc from '../contacts/service.ts';
import { keyProviderFromConfig, Vault } from '../contacts/vault.ts';
import { countQuery, ledgerInsert } from '../segments/compile.ts';
import type { Rule } from '../segments/rules.ts';
import { compileContext, countSegment } from '../segments/service.ts';
import { engagementTypeCodes } from './schema.ts';

let t: TestApp;
let kr: Keyring;
const actor = systemActor('test');
const ids: Record<string, string> = {};

before(async () => {
  t = await createTestApp();
  kr = await new Vault(t.database.db, keyProviderFromConfig(t.config)).keyring();
  const db = t.database.db;
  await contactsSvc.createAttributeDef(db, { key: 'plan', label: 'Plan', type: 'text', sensitive: false });
  await contactsSvc.createAttributeDef(db, { key: 'seats', label: 'Seats', type: 'number', sensitive: false });
  await contactsSvc.createAttributeDef(db, { key: 'renewal', label: 'Renewal', type: 'date', sensitive: false });
  await contactsSvc.createAttributeDef(db, { key: 'salary', label: 'Salary', type: 'number', sensitive: true });
  const company = await contactsSvc.createCompany(db, { name: 'Fintech Ltd', domain: 'fintech.example', attributes: { industry: 'Finance' } });
  const people: [string, contactsSvc.ContactInput, 'subscribed' | 'pending' | 'unsubscribed' | null][] = [
    ['ada', { email: 'ada@example.com', firstName: 'Ada', phone: '+442079460958', attributes: { plan: 'pro', seats: 12, renewal: new Date().toISOString().slice(0, 10) }, tags: ['vip', 'beta'], country: 'GB', companyId: company.id }, 'subscribed'],
    ['bob', { email: 'bob@example.com', firstName: 'Bob', attributes: { plan: 'pro', seats: 3 }, tags: ['beta'], country: 'US' }, 'subscribed'],
    ['cy', { email: 'cy@other.example', firstName: 'Cy', attributes: { plan: 'free' }, tags: [] }, 'subscribed'],
    ['dee', { email: 'dee@example.com', firstName: 'Dee', attributes: { plan: 'pro', seats: 40 }, tags: ['vip'] }, 'pending'],
    ['eve', { email: 'eve@example.com', firstName: 'Eve', attributes: { plan: 'pro' }, tags: ['vip'] }, null],
    ['fay', { email: 'fay@example.com', firstName: 'Fay', attributes: { plan: 'pro' }, tags: ['vip'] }, 'subscribed'],
  ];
  for (const [name, input, consent] of people) {
    const c = await contactsSvc.createContact(db, kr, actor, input);
    ids[name] = c.id;
    if (consent) await contactsSvc.setConsent(db, kr, actor, c.id, { purpose: 'marketing_email', state: consent, source: 'test', evidence: {} });
  }
  // Fay unsubscribes by complaint: suppressed.
  await contactsSvc.suppress(db, kr, 'fay@example.com', 'complained');
  // Engagement: two launched campaigns; Ada opened both, Bob one.
  const [c1] = await db.insert(campaigns).values({ workspaceId: 1, name: 'old 1', state: 'completed', launchedAt: new Date(Date.now() - 20 * 86400_000) }).returning();
  const [c2] = await db.insert(campaigns).values({ workspaceId: 1, name: 'old 2', state: 'completed', launchedAt: new Date(Date.now() - 10 * 86400_000) }).returning();
  const ev = (campaignId: number, who: string, type: keyof typeof engagementTypeCodes, daysAgo: number) => ({ campaignId, contactId: ids[who], type: engagementTypeCodes[type], at: new Date(Date.now() - daysAgo * 86400_000) });
  await db.insert(engagementEvents).values([ev(c1.id, 'ada', 'opened', 19), ev(c2.id, 'ada', 'opened', 9), ev(c2.id, 'ada', 'opened', 8), ev(c2.id, 'bob', 'opened', 9), ev(c2.id, 'bob', 'clicked', 9), ev(c1.id, 'cy', 'clicked', 100)]);
});
after(async () => {
  await t?.close();
});

const count = (rule: Rule) => countSegment(t.database.db, kr, rule);
const eligible = async (rule: Rule) => (await count(rule)).eligible;

describe('segment compile and count', () => {
  test('consent and suppression always apply, with the reasons counted', async () => {
    const r = await count({ kind: 'tag', op: 'has_any', tags: ['vip'] });
    assert.deepEqual(r, { matched: 4, eligible: 1, excluded: { suppressed: 1, unsubscribed: 0, pending: 1, noConsent: 1 } });
    // A rule cannot add suppressed contacts back: OR with "everything" still excludes them.
    assert.equal(await eligible({ kind: 'or', rules: [{ kind: 'and', rules: [] }, { kind: 'consent', purpose: 'marketing_email', state: 'none' }] }), 3);
  });

  test('attribute, field, company, owner and list operators', async () => {
    const cases: [Rule, number][] = [
      [{ kind: 'attribute', key: 'plan', op: 'equals', value: 'pro' }, 2],
      [{ kind: 'attribute', key: 'plan', op: 'in', values: ['free', 'team'] }, 1],
      [{ kind: 'attribute', key: 'plan', op: 'not_equals', value: 'pro' }, 1],
      [{ kind: 'attribute', key: 'plan', op: 'starts_with', value: 'PR' }, 2],
      [{ kind: 'attribute', key: 'plan', op: 'contains', value: 're' }, 1],
      [{ kind: 'attribute', key: 'seats', op: 'gt', value: 10 }, 1],
      [{ kind: 'attribute', key: 'seats', op: 'between', min: 1, max: 12 }, 2],
      [{ kind: 'attribute', key: 'seats', op: 'is_unset' }, 1],
      [{ kind: 'attribute', key: 'renewal', op: 'within_last_days', days: 7 }, 1],
      [{ kind: 'attribute', key: 'renewal', op: 'before', value: '2000-01-01' }, 0],
      [{ kind: 'field', field: 'country', op: 'in', values: ['GB', 'FR'] }, 1],
      [{ kind: 'field', field: 'created_at', op: 'within_last_days', days: 1 }, 3],
      [{ kind: 'company', property: 'attributes.industry', op: 'equals', value: 'Finance' }, 1],
      [{ kind: 'company', property: 'name', op: 'starts_with', value: 'fin' }, 1],
      [{ kind: 'owner', op: 'is_unset' }, 3],
      [{ kind: 'tag', op: 'has_all', tags: ['vip', 'beta'] }, 1],
      [{ kind: 'tag', op: 'has_none', tags: ['beta'] }, 1],
      [{ kind: 'not', rule: { kind: 'tag', op: 'has_any', tags: ['beta'] } }, 1],
      [{ kind: 'email_domain', op: 'equals', domain: 'other.example' }, 1],
    ];
    for (const [rule, n] of cases) assert.equal(await eligible(rule), n, JSON.stringify(rule));
  });

  test('engagement: counts over the last N campaigns and "nothing in N days"', async () => {
    assert.equal(await eligible({ kind: 'engagement', event: 'opened', lastCampaigns: 5, count: { op: 'at_least', n: 2 } }), 1, 'Ada opened 2 of the last 5');
    assert.equal(await eligible({ kind: 'engagement', event: 'opened', withinDays: 30, count: { op: 'at_least', n: 1 } }), 2);
    assert.equal(await eligible({ kind: 'engagement', event: 'clicked', withinDays: 90, count: { op: 'at_most', n: 0 } }), 2, 'Cy clicked 100 days ago: counts as nothing');
  });

  test('sensitive or unknown attributes and wrong operators are refused (422 through the API)', async () => {
    const { client } = await signedInAs(t, 'marketer');
    for (const rule of [
      { kind: 'attribute', key: 'salary', op: 'gt', value: 1 },
      { kind: 'attribute', key: 'nope', op: 'equals', value: 1 },
      { kind: 'attribute', key: 'plan', op: 'gt', value: 1 },
    ]) {
      const res = await client.post('/api/segments/count', { rule });
      assert.equal(res.statusCode, 422, res.body);
      assert.match(res.json().errors[0].path, /^rule\./);
    }
  });

  test('SQL-injection payloads through every operator stay parameters', async () => {
    const payloads = ["'; DROP TABLE contacts; --", "x' OR '1'='1", '\\\'); SELECT pg_sleep(10); --', '%_\\', '"}\' ]::jsonb OR true --'];
    const ctx = await compileContext(t.database.db, kr);
    const dialect = new PgDialect();
    for (const p of payloads) {
      const rules: Rule[] = [
        { kind: 'attribute', key: 'plan', op: 'equals', value: p },
        { kind: 'attribute', key: 'plan', op: 'not_equals', value: p },
        { kind: 'attribute', key: 'plan', op: 'in', values: [p, p] },
        { kind: 'attribute', key: 'plan', op: 'not_in', values: Array.from({ length: 40 }, () => p) },
        { kind: 'attribute', key: 'plan', op: 'contains', value: p },
        { kind: 'attribute', key: 'plan', op: 'starts_with', value: p },
        { kind: 'field', field: 'job_title', op: 'equals', value: p },
        { kind: 'field', field: 'country', op: 'not_in', values: [p] },
        { kind: 'field', field: 'time_zone', op: 'contains', value: p },
        { kind: 'company', property: 'name', op: 'equals', value: p },
        { kind: 'company', property: 'attributes.industry', op: 'in', values: [p] },
        { kind: 'tag', op: 'has_any', tags: [p] },
        { kind: 'tag', op: 'has_all', tags: [p] },
        { kind: 'consent', purpose: p, state: 'none' },
      ];
      for (const rule of rules) {
        const q = dialect.sqlToQuery(countQuery(rule, ctx));
        assert.equal(q.sql.includes(p), false, `payload in SQL text for ${rule.kind}`);
        if (payloads.indexOf(p) > 1) continue; // executing two payloads per operator is enough
        const r = await count(rule);
        assert.equal(typeof r.matched, 'number');
      }
    }
    const [{ n }] = await rows<{ n: number }>(t.database.db, sql`SELECT count(*)::int AS n FROM contacts`);
    assert.equal(n, 6, 'contacts table intact');
  });
});

describe('segment API', () => {
  test('create, count, masked sample, explain for admins only, freeze as list', async () => {
    const { client: m } = await signedInAs(t, 'marketer');
    const { client: admin } = await signedInAs(t, 'admin');
    const rule = { kind: 'tag', op: 'has_any', tags: ['beta'] };
    const created = await m.post('/api/segments', { name: 'Beta testers', rule });
    assert.equal(created.statusCode, 201, created.body);
    assert.match(created.json().summary, /tags has any \[beta\]/);
    const sample = await m.post('/api/segments/sample', { rule });
    assert.equal(sample.statusCode, 200, sample.body);
    assert.equal(sample.json().items.length, 2);
    assert.deepEqual(sample.json().items.map((x: { firstName: string }) => x.firstName).sort(), ['Ada', 'Bob']);
    assert.equal((await m.post('/api/segments/explain', { rule })).statusCode, 403);
    const plan = await admin.post('/api/segments/explain', { rule });
    assert.equal(plan.statusCode, 200, plan.body);
    assert.match(plan.json().plan, /contacts/);
    const frozen = await m.post(`/api/segments/${created.json().id}/freeze`, { listName: 'Beta snapshot' });
    assert.equal(frozen.statusCode, 200, frozen.body);
    assert.equal(frozen.json().members, 2);
    const members = await t.database.db.select().from(listMembers).where(eq(listMembers.listId, frozen.json().listId));
    assert.equal(members.length, 2);
    assert.equal(await eligible({ kind: 'list', op: 'member', listId: frozen.json().listId }), 2);
    const { client: rep } = await signedInAs(t, 'sales_rep');
    assert.equal((await rep.post('/api/segments/count', { rule })).statusCode, 403);
  });
});

describe('templates', () => {
  test('sensitive fields need a second person; preview and test sends', async () => {
    const { client: m, user: mu } = await signedInAs(t, 'marketer');
    const { client: admin } = await signedInAs(t, 'admin');
    const body = '<p>Hi {{ contact.first_name }}, we will call {{ contact.phone }}</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a> {{ workspace.postal_address }}</p>';
    const created = await admin.post('/api/templates', { name: 'Call', subject: 'Hi {{ contact.first_name }}', body });
    assert.equal(created.statusCode, 201, created.body);
    const tpl = created.json().template;
    assert.deepEqual(tpl.sensitiveFields, ['contact.phone']);
    assert.equal(tpl.needsApproval, true);
    assert.equal((await admin.post(`/api/templates/${tpl.id}/approve`)).statusCode, 403, 'the author cannot approve');
    const { client: owner } = await signedInAs(t, 'owner');
    const approved = await owner.post(`/api/templates/${tpl.id}/approve`);
    assert.equal(approved.statusCode, 200, approved.body);
    assert.equal(approved.json().needsApproval, false);
    // A marketer cannot render phone: strict mode makes it an error, naming the part.
    const pv = await m.post('/api/templates/preview', { subject: 's', body });
    assert.equal(pv.statusCode, 422);
    assert.equal(pv.json().errors[0].path, 'body');
    const ok = await m.post('/api/templates/preview', { subject: 'Hi {{ contact.first_name }}', body: '<p>Hi {{ contact.first_name }}</p>', contactId: ids.bob });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().subject, 'Hi Bob');
    const mine = await m.post('/api/templates', { name: 'Plain', subject: 'News', body: '<p>Hello {{ contact.first_name | default: "there" }}</p>' });
    const sent = await m.post(`/api/templates/${mine.json().template.id}/test-send`, { to: ['seed@acme.example', 'seed2@acme.example'] });
    assert.equal(sent.statusCode, 202, sent.body);
    const outbox = await t.database.db.select().from(templateTestSends);
    assert.equal(outbox.length, 2);
    assert.equal(outbox[0].subject, '[TEST] News');
    assert.equal(outbox[0].requestedBy, mu.id);
    // Once handled (sent, or failed for want of a verified domain), the rendered copy is gone from the queue.
    assert.equal(await runTestSends(t.database.db, new OutboxTransport(t.database.db, outboxKey(t.config.masterKey)), deliveryKeys(t.config.masterKey), 'bounces.example'), 2);
    const handled = await t.database.db.select().from(templateTestSends);
    assert.ok(handled.every((r) => r.state !== 'pending' && r.state !== 'sending'), JSON.stringify(handled.map((r) => r.state)));
    assert.ok(handled.every((r) => r.subject === '' && r.html === '' && r.text === ''));
  });
});

describe('campaigns', () => {
  test('domains + DKIM, lifecycle with guardrails, four-eyes, ledger, locked edits, audit', async () => {
    const db = t.database.db;
    const { client: admin } = await signedInAs(t, 'admin');
    const { client: m, user: mu } = await signedInAs(t, 'marketer');
    const { client: approver, user: au } = await signedInAs(t, 'owner');

    const d = await admin.post('/api/sending-domains', { domain: 'mail.acme.example' });
    assert.equal(d.statusCode, 201, d.body);
    const key = await admin.post(`/api/sending-domains/${d.json().id}/dkim`, { algorithm: 'rsa', selector: 'mw1' });
    assert.equal(key.statusCode, 201, key.body);
    assert.equal(key.json().dnsName, 'mw1._domainkey.mail.acme.example');
    assert.match(key.json().txt, /^v=DKIM1; k=rsa; p=MII/);
    const [stored] = await db.select().from(dkimKeys);
    const pem = openWithKey(deriveKey(t.config.masterKey, 'dkim-keys'), Buffer.from(stored.privateKeyEnc), 'dkim:mail.acme.example:mw1').toString();
    assert.match(pem, /BEGIN PRIVATE KEY/);
    const ed = await admin.post(`/api/sending-domains/${d.json().id}/dkim`, { algorithm: 'ed25519', selector: 'mw2' });
    assert.match(ed.json().txt, /^v=DKIM1; k=ed25519; p=/);
    const unpublished = await admin.post(`/api/sending-domains/${d.json().id}/verify`, {});
    assert.equal(unpublished.statusCode, 422);
    assert.equal((await admin.post(`/api/sending-domains/${d.json().id}/verify`, { force: true })).statusCode, 200);

    await admin.request('PUT', '/api/campaign-settings', { postalAddress: '1 Main St, Springfield', blastRadius: 10_000, dlpPatterns: [{ name: 'Codename', pattern: 'nightjar' }] });
    const seg = (await m.post('/api/segments', { name: 'pro', rule: { kind: 'attribute', key: 'plan', op: 'equals', value: 'pro' } })).json();
    const body = '<p>Hello {{ contact.first_name }}</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p><p>{{ workspace.postal_address }}</p>';
    const tpl = (await m.post('/api/templates', { name: 'Pro news', subject: 'Pro news', body })).json().template;
    const leaky = (await m.post('/api/templates', { name: 'Leaky', subject: 'Project NIGHTJAR', body: `${body}<p>card 4111 1111 1111 1111</p>` })).json().template;

    const created = await m.post('/api/campaigns', { name: 'Spring', templateId: leaky.id, segmentId: seg.id, sendingDomainId: d.json().id, schedule: { mode: 'now' } });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json().id;
    // DLP blocks the review with the locations.
    const blocked = await m.post(`/api/campaigns/${id}/submit`);
    assert.equal(blocked.statusCode, 422, blocked.body);
    assert.equal(blocked.json().code, 'guardrails_failed');
    const dlp = blocked.json().guardrails.find((g: { id: string }) => g.id === 'dlp');
    assert.equal(dlp.status, 'fail');
    assert.match(dlp.detail, /Codename in subject/);
    assert.match(dlp.detail, /Visa in html/);

    assert.equal((await m.patch(`/api/campaigns/${id}`, { templateId: tpl.id })).statusCode, 200);
    const review = await m.post(`/api/campaigns/${id}/guardrails`);
    assert.deepEqual(review.json().guardrails.map((g: { status: string }) => g.status), ['pass', 'pass', 'pass', 'pass', 'pass']);
    assert.match(review.json().guardrails[0].detail, /2 of 5 matching contacts/);
    const submitted = await m.post(`/api/campaigns/${id}/submit`);
    assert.equal(submitted.statusCode, 200, submitted.body);
    assert.equal(submitted.json().campaign.state, 'in_review');
    assert.equal((await m.patch(`/api/campaigns/${id}`, { name: 'x' })).statusCode, 409);
    assert.equal((await m.post(`/api/campaigns/${id}/approve`)).statusCode, 403, 'marketers cannot approve');
    const queue = await approver.get('/api/approvals');
    assert.deepEqual(queue.json().campaigns.map((c: { id: number }) => c.id), [id]);
    assert.equal((await m.post(`/api/campaigns/${id}/launch`)).statusCode, 409, 'not approved yet');
    const ok = await approver.post(`/api/campaigns/${id}/approve`);
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().campaign.approvedByUserId, au.id);
    const launched = await m.post(`/api/campaigns/${id}/launch`);
    assert.equal(launched.statusCode, 200, launched.body);
    assert.equal(launched.json().campaign.state, 'sending');
    assert.equal(launched.json().campaign.recipientCount, 2);
    const ledger = await db.select().from(campaignRecipients).where(eq(campaignRecipients.campaignId, id));
    assert.deepEqual(ledger.map((r) => r.contactId).sort(), [ids.ada, ids.bob].sort());
    assert.equal((await m.patch(`/api/campaigns/${id}`, { name: 'edit while sending' })).statusCode, 409);
    assert.equal((await m.post(`/api/campaigns/${id}/pause`)).json().campaign.state, 'paused');
    assert.equal((await m.post(`/api/campaigns/${id}/resume`)).json().campaign.state, 'sending');
    const actions = (await db.select().from(auditLog)).map((e) => e.action).filter((a) => a.startsWith('campaign.'));
    for (const a of ['campaign.created', 'campaign.submit', 'campaign.approve', 'campaign.launch', 'campaign.pause', 'campaign.resume']) assert.ok(actions.includes(a), a);

    // Four-eyes: over the threshold, the author (even an admin) cannot approve their own campaign.
    await admin.request('PUT', '/api/campaign-settings', { blastRadius: 1 });
    const big = (await admin.post('/api/campaigns', { name: 'Big', templateId: tpl.id, segmentId: seg.id, sendingDomainId: d.json().id })).json();
    const sub = await admin.post(`/api/campaigns/${big.id}/submit`);
    assert.equal(sub.statusCode, 200, sub.body);
    assert.equal(sub.json().guardrails.find((g: { id: string }) => g.id === 'blast_radius').status, 'needs_approval');
    const self = await admin.post(`/api/campaigns/${big.id}/approve`);
    assert.equal(self.statusCode, 403);
    assert.match(self.json().detail, /Four-eyes/);
    assert.equal((await approver.post(`/api/campaigns/${big.id}/approve`)).statusCode, 200);
    assert.equal(mu.id > 0, true);
  });

  test('local-time schedule: send_at per recipient time zone, fallback for unknown zones', async () => {
    const db = t.database.db;
    await db.update((await import('../contacts/schema.ts')).contacts).set({ timeZone: 'America/New_York' }).where(eq((await import('../contacts/schema.ts')).contacts.id, ids.ada));
    const [c] = await db.insert(campaigns).values({ workspaceId: 1, name: 'tz' }).returning();
    const ctx = await compileContext(db, kr);
    await db.execute(ledgerInsert({ kind: 'attribute', key: 'plan', op: 'equals', value: 'pro' }, ctx, c.id, { mode: 'local_time', date: '2030-06-01', localTime: '09:00', fallbackTimeZone: 'UTC' }));
    const r = await db.select().from(campaignRecipients).where(eq(campaignRecipients.campaignId, c.id));
    const byId = Object.fromEntries(r.map((x) => [x.contactId, x.sendAt?.toISOString()]));
    assert.equal(byId[ids.ada], '2030-06-01T13:00:00.000Z');
    assert.equal(byId[ids.bob], '2030-06-01T09:00:00.000Z');
  });
});
