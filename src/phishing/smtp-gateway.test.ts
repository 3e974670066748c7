// The phishing gateway over real SMTP: scoring, stamping, quarantine and release through the API.
// Split from smtp.test.ts; fixtures in smtp-fixtures.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { desc, eq } from 'drizzle-orm';
import { createTestApp, signedInAs, type TestApp } from '../../test/support/app.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { phishingMessages } from '../db/schema.ts';
import { configurePhishingRuntime } from './queue-routes.ts';
import { type Listener, startGatewayListener } from './smtp.ts';
import { lure, note, noDns, send, sink } from './smtp-fixtures.ts';

let database: TestDatabase;
const listeners: { close(): Promise<void> }[] = [];
before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  for (const l of listeners.reverse()) await l.close();
  await database?.close();
});

const rows = () => database.db.select().from(phishingMessages).orderBy(desc(phishingMessages.id));

describe('gateway', () => {
  let next: Awaited<ReturnType<typeof sink>>;
  let relaying: Listener;
  let quarantining: Listener;
  let t: TestApp;
  before(async () => {
    next = await sink();
    listeners.push(next);
    const common = {
      db: database.db,
      host: '127.0.0.1',
      port: 0,
      nextHop: `smtp://127.0.0.1:${next.port}`,
      hostname: 'gw.example.com',
      resolver: noDns,
    };
    relaying = await startGatewayListener({
      ...common,
      quarantineScore: 101,
      banner: true,
      acceptDomains: ['example.com'],
    });
    quarantining = await startGatewayListener({ ...common, quarantineScore: 80 });
    listeners.push(relaying, quarantining);
    t = await createTestApp(database);
    listeners.push(t);
  });

  test('clean mail is relayed with the original envelope and stamped; forged stamps are removed', async () => {
    await send(relaying.port, 'jane@partner.example', ['team@example.com', 'lead@example.com'], note);
    const got = next.received.at(-1)!;
    assert.equal(got.from, 'jane@partner.example');
    assert.deepEqual(got.to, ['team@example.com', 'lead@example.com']);
    assert.match(got.raw, /^X-Mailwarden-Verdict: clean\r?$/m);
    assert.match(got.raw, /^X-Mailwarden-Score: \d+\r?$/m);
    assert.match(got.raw, /^Authentication-Results: gw\.example\.com; spf=/m);
    assert.equal(
      got.raw.match(/X-Mailwarden-Verdict/g)?.length,
      1,
      'the sender’s own X-Mailwarden-Verdict header is gone',
    );
    assert.match(got.raw, /the notes from Tuesday are in the shared folder/);
    assert.doesNotMatch(got.raw, /X-Mailwarden-Verdict: clean[\s\S]*X-Mailwarden-Verdict/);
  });

  test('suspicious mail below the quarantine score gets a banner; other domains are refused', async () => {
    await send(relaying.port, 'service@paypa1-secure-login.top', ['staff@example.com'], lure);
    const got = next.received.at(-1)!;
    assert.match(got.raw, /^X-Mailwarden-Verdict: phishing\r?$/m);
    const body = Buffer.from(
      got.raw
        .split(/\r?\n\r?\n/)
        .slice(1)
        .join('\n')
        .replace(/\s+/g, ''),
      'base64',
    ).toString('utf8');
    assert.match(body, /phishing/i, 'a warning banner was prepended');
    await assert.rejects(
      send(relaying.port, 'a@b.example', ['someone@other.example'], note),
      (err: Error & { responseCode?: number }) => err.responseCode === 550,
    );
  });

  test('mail above the threshold is quarantined, not relayed; an analyst releases it to the next hop', async () => {
    const before = next.received.length;
    const info = await send(
      quarantining.port,
      'service@paypa1-secure-login.top',
      ['staff@example.com'],
      lure,
    );
    assert.match(info.response, /Queued \(\d+\)/);
    assert.equal(next.received.length, before, 'nothing reached the next hop');
    const [row] = await rows();
    assert.equal(row.source, 'gateway');
    assert.equal(row.state, 'new');
    assert.equal(row.auth?.source, 'live');
    assert.deepEqual(row.envelopeTo, ['staff@example.com']);

    const { client } = await signedInAs(t, 'security_analyst');
    configurePhishingRuntime({ hostname: 'gw.example.com' });
    assert.equal((await client.post(`/api/phishing/queue/${row.id}/release`, {})).json().code, 'no_next_hop');
    configurePhishingRuntime({ nextHop: `smtp://127.0.0.1:${next.port}`, hostname: 'gw.example.com' });
    assert.equal((await client.get(`/api/phishing/queue/${row.id}`)).json().canRelease, true);
    const res = await client.post(`/api/phishing/queue/${row.id}/release`, {
      note: 'expected mail from the vendor',
    });
    assert.equal(res.statusCode, 200, res.body);
    const got = next.received.at(-1)!;
    assert.equal(next.received.length, before + 1);
    assert.equal(got.from, 'service@paypa1-secure-login.top');
    assert.deepEqual(got.to, ['staff@example.com']);
    assert.match(got.raw, /^X-Mailwarden-Released: analyst\r?$/m);
    assert.match(got.raw, /^X-Mailwarden-Verdict: phishing\r?$/m);
    const [released] = await database.db
      .select()
      .from(phishingMessages)
      .where(eq(phishingMessages.id, row.id));
    assert.equal(released.state, 'released');
    assert.ok(released.releasedAt);
    assert.equal(
      (await client.post(`/api/phishing/queue/${row.id}/release`, {})).json().code,
      'already_released',
    );
  });

  test('hostile mail passes through the gateway without crashing it', async () => {
    const hostile = [
      'From: =?utf-8?B?////?= <@@>',
      'Content-Type: multipart/alternative; boundary="x"',
      'DKIM-Signature: v=1; a=rsa-sha256; d=; s=; b=!!!; bh=???',
      'Authentication-Results: gw.example.com; spf=pass; dkim=pass; dmarc=pass',
      '',
      '--x',
      'Content-Type: text/html; charset=bogus-charset',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      `=ZZ=\u0000${'<a href="javascript:'.repeat(500)}`,
      '--x',
      'Content-Type: text/plain',
      'Content-Transfer-Encoding: base64',
      '',
      '!!!not base64!!!',
      '',
    ].join('\r\n');
    const before = next.received.length;
    const info = await send(relaying.port, 'x@partner.example', ['team@example.com'], hostile);
    assert.match(info.response, /^250/);
    assert.equal(next.received.length, before + 1);
    const got = next.received.at(-1)!;
    assert.equal(
      got.raw.match(/^Authentication-Results: /gm)?.length,
      1,
      'the forged Authentication-Results is replaced by the gateway’s own',
    );
    assert.match(got.raw, /^Authentication-Results: gw\.example\.com; spf=(?!pass)/m);
    // and the gateway still serves
    await send(relaying.port, 'jane@partner.example', ['team@example.com'], note);
    assert.equal(next.received.length, before + 2);
  });

  test('when the next hop is down the sender gets a temporary failure and may retry', async () => {
    const dead = await sink();
    const port = dead.port;
    await dead.close();
    const gw = await startGatewayListener({
      db: database.db,
      host: '127.0.0.1',
      port: 0,
      nextHop: `smtp://127.0.0.1:${port}`,
      hostname: 'gw.example.com',
      quarantineScore: 101,
      resolver: noDns,
    });
    listeners.push(gw);
    await assert.rejects(
      send(gw.port, 'jane@partner.example', ['team@example.com'], note),
      (err: Error & { responseCode?: number }) => err.responseCode === 451,
    );
  });
});

