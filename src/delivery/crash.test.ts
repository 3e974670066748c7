// Crash safety with real processes (PostgreSQL only: PGlite is single-process):
// two `mailwarden worker` processes send a campaign to a real SMTP sink, one is
// killed with SIGKILL mid-campaign. Nothing is lost, nothing is marked sent
// that the sink did not accept, and duplicates stay within what the killed
// worker had in flight.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestApp, type TestApp } from '../../test/support/app.ts';
import { seedCampaign } from '../../test/support/campaign.ts';
import { crashDrill } from '../../test/support/crash-run.ts';
import { testDatabaseUrl } from '../../test/support/db.ts';
import { type Sink, startSink } from '../../test/support/smtp-sink.ts';

let t: TestApp;
let sink: Sink;

before(async () => {
  if (!testDatabaseUrl) return;
  t = await createTestApp();
  sink = await startSink({ delayMs: 3 });
});
after(async () => {
  await sink?.close();
  await t?.close();
});

test('SIGKILL of a worker mid-campaign: nothing lost, duplicates bounded by its in-flight rows', {
  skip: !testDatabaseUrl && 'needs PostgreSQL (TEST_DATABASE_URL): several processes share the database',
}, async () => {
  const s = await seedCampaign(t, { contacts: 300 });
  await s.launch();
  const r = await crashDrill({
    db: t.database.db,
    databaseUrl: t.database.url as string,
    masterKey: t.config.masterKey,
    sink,
    campaignId: s.campaignId,
    contactIds: s.contactIds,
    domain: s.domain,
  });
  assert.equal(r.lost, 0, JSON.stringify(r));
  assert.equal(r.sentButNotAccepted, 0, JSON.stringify(r));
  assert.ok(r.duplicated <= r.inFlightAtKill, JSON.stringify(r));
  assert.equal(r.received, 300 + r.duplicated);
});
