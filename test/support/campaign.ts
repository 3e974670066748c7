// A sendable campaign through the real code path: sending domain with a DKIM
// key, contacts with marketing consent, a segment, a template, and a campaign
// submitted, approved by a second person and launched over the HTTP API.
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { systemActor } from '../../src/audit/service.ts';
import * as contactsSvc from '../../src/contacts/service.ts';
import { keyProviderFromConfig, Vault } from '../../src/contacts/vault.ts';
import type { Keyring } from '../../src/crypto/field-cipher.ts';
import { type Client, signedInAs, type TestApp } from './app.ts';

export const defaultBody =
  '<html><body><p>Hello {{ contact.first_name | default: "there" }},</p><p>Read <a href="https://example.org/news?a=1&b=2">the news</a>.</p>' +
  '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ workspace.postal_address }}</p></body></html>';

export type Seeded = {
  campaignId: number;
  contactIds: string[];
  emails: string[];
  domain: string;
  marketer: Client;
  admin: Client;
  kr: Keyring;
  launch(): Promise<void>;
};

let domains = 0;

export async function seedCampaign(
  t: TestApp,
  o: {
    contacts: number;
    /** Segment rule; default: the contacts created here (by a tag). */
    rule?: unknown;
    body?: string;
    subject?: string;
    tracking?: boolean;
    algorithm?: 'ed25519' | 'rsa';
    emailOf?: (i: number) => string;
    schedule?: unknown;
  },
): Promise<Seeded> {
  const db = t.database.db;
  const kr = await new Vault(db, keyProviderFromConfig(t.config)).keyring();
  const { client: admin } = await signedInAs(t, 'admin');
  const { client: marketer } = await signedInAs(t, 'marketer');
  const domain = `mail${++domains}-${randomBytes(2).toString('hex')}.example`;
  const d = await admin.post('/api/sending-domains', { domain });
  assert.equal(d.statusCode, 201, d.body);
  assert.equal(
    (await admin.post(`/api/sending-domains/${d.json().id}/dkim`, { algorithm: o.algorithm ?? 'ed25519' }))
      .statusCode,
    201,
  );
  assert.equal(
    (await admin.post(`/api/sending-domains/${d.json().id}/verify`, { force: true })).statusCode,
    200,
  );
  await admin.request('PUT', '/api/campaign-settings', {
    postalAddress: '1 Main St, Springfield',
    blastRadius: 100_000,
    dlpPatterns: [],
  });
  const tag = `t${randomBytes(4).toString('hex')}`;
  const contactIds: string[] = [];
  const emails: string[] = [];
  for (let i = 0; i < o.contacts; i++) {
    const email = o.emailOf?.(i) ?? `r${i}.${tag}@example.net`;
    const c = await contactsSvc.createContact(db, kr, systemActor('test'), {
      email,
      firstName: `Name${i}`,
      tags: [tag],
    });
    await contactsSvc.setConsent(db, kr, systemActor('test'), c.id, {
      purpose: 'marketing_email',
      state: 'subscribed',
      source: 'test',
      evidence: {},
    });
    contactIds.push(c.id);
    emails.push(email);
  }
  const seg = await marketer.post('/api/segments', {
    name: `seg ${tag}`,
    rule: o.rule ?? { kind: 'tag', op: 'has_any', tags: [tag] },
  });
  assert.equal(seg.statusCode, 201, seg.body);
  const tpl = await marketer.post('/api/templates', {
    name: `tpl ${tag}`,
    subject: o.subject ?? 'News for {{ contact.first_name }}',
    body: o.body ?? defaultBody,
  });
  assert.equal(tpl.statusCode, 201, tpl.body);
  const created = await marketer.post('/api/campaigns', {
    name: `campaign ${tag}`,
    templateId: tpl.json().template.id,
    segmentId: seg.json().id,
    sendingDomainId: d.json().id,
    tracking: o.tracking ?? true,
    schedule: o.schedule ?? { mode: 'now' },
  });
  assert.equal(created.statusCode, 201, created.body);
  const campaignId = created.json().id as number;
  const sub = await marketer.post(`/api/campaigns/${campaignId}/submit`);
  assert.equal(sub.statusCode, 200, sub.body);
  const ok = await admin.post(`/api/campaigns/${campaignId}/approve`);
  assert.equal(ok.statusCode, 200, ok.body);
  return {
    campaignId,
    contactIds,
    emails,
    domain,
    marketer,
    admin,
    kr,
    async launch() {
      const l = await marketer.post(`/api/campaigns/${campaignId}/launch`);
      assert.equal(l.statusCode, 200, l.body);
    },
  };
}
