// The public tracking and unsubscribe endpoints against a real database:
// tokens (tampered/unknown → 404, never an open redirect), human vs automated
// engagement, RFC 8058 one-click unsubscribe taking effect on queued mail, and
// the preference page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { and, eq } from 'drizzle-orm';
import { createTestApp, type TestApp } from '../../test/support/app.ts';
import { backendName } from '../../test/support/db.ts';
import { auditLog } from '../audit/schema.ts';
import { systemActor } from '../audit/service.ts';
import { campaignRecipients, campaigns, engagementEvents, engagementTypeCodes } from '../campaigns/schema.ts';
import * as contactsSvc from '../contacts/service.ts';
import { keyProviderFromConfig, Vault } from '../contacts/vault.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import { PIXEL } from './public-routes.ts';
import { signToken, trackingKey, trackingUrls } from './tokens.ts';

let t: TestApp;
let kr: Keyring;
let key: Buffer;
const actor = systemActor('test');

before(async () => {
  t = await createTestApp();
  kr = await new Vault(t.database.db, keyProviderFromConfig(t.config)).keyring();
  key = trackingKey(t.config.masterKey);
});
after(async () => {
  await t?.close();
});

async function contact(email: string) {
  const c = await contactsSvc.createContact(t.database.db, kr, actor, { email });
  await contactsSvc.setConsent(t.database.db, kr, actor, c.id, {
    purpose: 'marketing_email',
    state: 'subscribed',
    source: 'test',
    evidence: {},
  });
  return c.id;
}

async function campaign(state: 'sending' | 'completed' | 'paused' = 'sending') {
  const [c] = await t.database.db
    .insert(campaigns)
    .values({ workspaceId: 1, name: `c-${Math.random()}`, state })
    .returning();
  return c.id;
}

async function ledger(
  campaignId: number,
  contactId: string,
  state: 'queued' | 'sent' | 'deferred' | 'sending',
  sentAt: Date | null = null,
) {
  await t.database.db.insert(campaignRecipients).values({ campaignId, contactId, state, sentAt });
}

const path = (url: string) => new URL(url).pathname;
const events = (campaignId: number, contactId: string) =>
  t.database.db
    .select()
    .from(engagementEvents)
    .where(and(eq(engagementEvents.campaignId, campaignId), eq(engagementEvents.contactId, contactId)));

const browser =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';
const longAgo = new Date(Date.now() - 3600_000);

describe(`tracking endpoints (${backendName})`, () => {
  it('tampered, wrong-kind and unknown tokens are 404, and a click never redirects anywhere unsigned', async () => {
    const urls = trackingUrls(key, 'http://localhost', '1', '0190b7b4-1111-7000-8000-000000000001');
    const click = path(urls.click('https://shop.example/offer'));
    const [ids, target, mac] = click.slice('/t/c/'.length).split('.');
    // the token with another target and the same MAC
    const forged = Buffer.from(target, 'base64url').toString('utf8').replace('shop.example', 'evil.example');
    const forgedToken = `${ids}.${Buffer.from(forged, 'utf8').toString('base64url')}.${mac}`;
    const otherKey = trackingUrls(
      Buffer.alloc(32, 7),
      'http://localhost',
      '1',
      '0190b7b4-1111-7000-8000-000000000001',
    );
    const cases = [
      `/t/c/${forgedToken}`,
      `${click.slice(0, -2)}AA`,
      path(otherKey.click('https://evil.example/')),
      `/t/c/${path(urls.open).slice('/t/o/'.length)}`, // an open token is not a click token
      '/t/c/not-a-token',
      '/t/c/https:%2F%2Fevil.example',
      `/t/o/${path(urls.click('https://shop.example/')).slice('/t/c/'.length)}`,
      path(otherKey.open),
      path(otherKey.unsubscribe),
      path(otherKey.preferences),
    ];
    for (const url of cases) {
      const res = await t.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.headers.location, undefined, url);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    }
    const post = await t.app.inject({
      method: 'POST',
      url: path(otherKey.unsubscribe),
      payload: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(post.statusCode, 404);
    // the genuine click goes exactly to its target
    const ok = await t.app.inject({ method: 'GET', url: click });
    assert.equal(ok.statusCode, 302);
    assert.equal(ok.headers.location, 'https://shop.example/offer');
  });

  it('serves the pixel without caching; human opens/clicks are recorded apart from scanners, HEAD and prefetch', async () => {
    const id = await contact('reader@example.com');
    const cid = await campaign();
    await ledger(cid, id, 'sent', longAgo);
    const urls = trackingUrls(key, 'http://localhost', String(cid), id);
    const open = await t.app.inject({
      method: 'GET',
      url: path(urls.open),
      headers: { 'user-agent': browser },
    });
    assert.equal(open.statusCode, 200);
    assert.equal(open.headers['content-type'], 'image/gif');
    assert.match(String(open.headers['cache-control']), /no-store/);
    assert.deepEqual(open.rawPayload, PIXEL);
    await t.app.inject({
      method: 'GET',
      url: path(urls.open),
      headers: { 'user-agent': 'Mozilla/5.0 (compatible; Barracuda Sentinel)' },
    });
    const head = await t.app.inject({
      method: 'HEAD',
      url: path(urls.click('https://shop.example/a')),
      headers: { 'user-agent': browser },
    });
    assert.equal(head.statusCode, 302);
    const afterHead = await events(cid, id);
    assert.deepEqual(
      afterHead.filter((e) => e.type === engagementTypeCodes.clicked).map((e) => e.automated),
      [true],
      'a HEAD request is a link checker',
    );
    await t.app.inject({
      method: 'GET',
      url: path(urls.click('https://shop.example/b')),
      headers: { 'user-agent': browser, 'sec-purpose': 'prefetch' },
    });
    await t.app.inject({
      method: 'GET',
      url: path(urls.click('https://shop.example/c')),
      headers: { 'user-agent': browser },
    });
    const got = (await events(cid, id)).map((e) => `${e.type}:${e.automated}`).sort();
    const { opened, clicked } = engagementTypeCodes;
    assert.deepEqual(
      got,
      [`${opened}:false`, `${opened}:true`, `${clicked}:false`, `${clicked}:true`].sort(),
      'one human + one automated of each (the second automated click is within the dedup window)',
    );
    // a second human open is counted (after the dedup window) but only the first goes on the timeline
    await t.database.db
      .update(engagementEvents)
      .set({ at: longAgo })
      .where(eq(engagementEvents.contactId, id));
    await t.app.inject({ method: 'GET', url: path(urls.open), headers: { 'user-agent': browser } });
    assert.equal((await events(cid, id)).filter((e) => e.type === opened && !e.automated).length, 2);
    const timeline = (await contactsSvc.listActivities(t.database.db, kr, id)).filter(
      (a) => a.kind === 'mail',
    );
    assert.deepEqual(timeline.map((a) => a.details.event).sort(), ['clicked', 'opened']);
  });

  it('classifies a click seconds after delivery as automated (gateway link scan)', async () => {
    const id = await contact('fresh@example.com');
    const cid = await campaign();
    await ledger(cid, id, 'sent', new Date());
    const urls = trackingUrls(key, 'http://localhost', String(cid), id);
    await t.app.inject({
      method: 'GET',
      url: path(urls.click('https://shop.example/')),
      headers: { 'user-agent': browser },
    });
    const [e] = await events(cid, id);
    assert.equal(e.automated, true);
  });

  it('one-click POST unsubscribes at once: consent, suppression, queued rows of running campaigns suppressed', async () => {
    const id = await contact('leaver@example.com');
    const mailed = await campaign();
    const running = await campaign('sending');
    const paused = await campaign('paused');
    const done = await campaign('completed');
    await ledger(mailed, id, 'sent', longAgo);
    await ledger(running, id, 'queued');
    await ledger(paused, id, 'deferred');
    await ledger(done, id, 'queued');
    const url = path(trackingUrls(key, 'http://localhost', String(mailed), id).unsubscribe);
    // GET never unsubscribes (scanners fetch every link): it shows the confirm page with a masked address
    const page = await t.app.inject({ method: 'GET', url, headers: { accept: 'text/html' } });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<form method="post">/);
    assert.match(page.body, /l•••@example\.com/);
    assert.doesNotMatch(page.body, /leaver@/);
    assert.doesNotMatch(page.body, /<script/i);
    assert.equal(await contactsSvc.isSuppressed(t.database.db, kr, 'leaver@example.com'), null);

    const res = await t.app.inject({
      method: 'POST',
      url,
      payload: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /unsubscribed/);
    assert.equal(await contactsSvc.isSuppressed(t.database.db, kr, 'leaver@example.com'), 'unsubscribed');
    const consent = (await contactsSvc.currentConsents(t.database.db, kr, id)).find(
      (c) => c.purpose === 'marketing_email',
    );
    assert.equal(consent?.state, 'unsubscribed');
    assert.equal(consent?.source, 'one_click');
    const states = await t.database.db
      .select()
      .from(campaignRecipients)
      .where(eq(campaignRecipients.contactId, id));
    const by = new Map(states.map((r) => [r.campaignId, r]));
    assert.equal(by.get(mailed)?.state, 'sent');
    assert.equal(by.get(running)?.state, 'suppressed');
    assert.equal(by.get(running)?.lastResponse, 'unsubscribed');
    assert.equal(by.get(paused)?.state, 'suppressed');
    assert.equal(by.get(done)?.state, 'queued', 'a finished campaign is not touched');
    assert.equal(
      (await events(mailed, id)).filter((e) => e.type === engagementTypeCodes.unsubscribed).length,
      1,
    );
    const audit = await t.database.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.target, `contact:${id}`));
    assert.equal(audit.find((a) => a.action === 'contact.unsubscribed')?.actorType, 'anonymous');

    // idempotent: a second POST (multipart this time) changes nothing more
    const again = await t.app.inject({
      method: 'POST',
      url,
      payload: '--x\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--x--\r\n',
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
    });
    assert.equal(again.statusCode, 200);
    assert.equal(
      (await contactsSvc.consentHistory(t.database.db, kr, id)).filter((c) => c.state === 'unsubscribed')
        .length,
      1,
    );
    assert.equal(
      (await events(mailed, id)).filter((e) => e.type === engagementTypeCodes.unsubscribed).length,
      1,
    );
  });

  it('the preference page shows consent per purpose and applies changes', async () => {
    const id = await contact('prefs@example.com');
    await contactsSvc.setConsent(t.database.db, kr, actor, id, {
      purpose: 'product_updates',
      state: 'unsubscribed',
      source: 'test',
      evidence: {},
    });
    const cid = await campaign();
    await ledger(cid, id, 'sent', longAgo);
    const url = `/t/p/${signToken(key, { kind: 'preferences', campaignId: String(cid), contactId: id })}`;
    const page = await t.app.inject({ method: 'GET', url });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Marketing email/);
    assert.match(page.body, /Product updates/);
    assert.match(page.body, /p•••@example\.com/);
    assert.doesNotMatch(page.body, /prefs@example\.com/);
    const res = await t.app.inject({
      method: 'POST',
      url,
      payload: 'purpose%3Aproduct_updates=subscribed&purpose%3Amarketing_email=subscribed',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost' },
    });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /saved/);
    const current = new Map(
      (await contactsSvc.currentConsents(t.database.db, kr, id)).map((c) => [c.purpose, c.state]),
    );
    assert.equal(current.get('product_updates'), 'subscribed');
    assert.equal(current.get('marketing_email'), 'subscribed');
    // a cross-site form cannot change someone's preferences
    const cross = await t.app.inject({
      method: 'POST',
      url,
      payload: 'purpose%3Amarketing_email=unsubscribed',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
    });
    assert.equal(cross.statusCode, 403);
    await t.app.inject({
      method: 'POST',
      url,
      payload: 'purpose%3Amarketing_email=unsubscribed',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost' },
    });
    assert.equal(await contactsSvc.isSuppressed(t.database.db, kr, 'prefs@example.com'), 'unsubscribed');
  });
});
