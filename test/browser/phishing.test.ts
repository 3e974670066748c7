// The Phishing console page in a real browser: an analyst opens the queue, sees the reasons next
// to the safe rendering (links disarmed inside a sandboxed frame), and marks a message legitimate.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { type Browser, chromium } from 'playwright-core';
import { createUser } from '../../src/auth/users.ts';
import { phishingMessages } from '../../src/db/schema.ts';
import { enqueue, scanForWorkspace } from '../../src/phishing/queue.ts';
import { startRealServer } from '../support/server.ts';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const password = 'velvet-otter-harbour-92';

const lure = Buffer.from(
  [
    'From: "PayPal Security" <service@paypa1-secure-login.top>',
    'To: staff@example.com',
    'Subject: Urgent: your account has been suspended',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<p>Your account will be suspended within 24 hours.</p><script>document.title="pwned"</script>',
    '<p><a href="http://192.0.2.7/paypal/login.php">https://www.paypal.com/signin</a></p>',
    '',
  ].join('\r\n'),
);

let server: Awaited<ReturnType<typeof startRealServer>>;
let browser: Browser;
before(async () => {
  assert.ok(existsSync(new URL('../../web/dist/index.html', import.meta.url)), 'build the console first: npm run build:web');
  assert.ok(existsSync(chromiumPath), `chromium not found at ${chromiumPath} (apt-get install chromium)`);
  server = await startRealServer();
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

test('an analyst reviews a reported message and marks it legitimate', async () => {
  const db = server.database.db;
  await createUser(db, { type: 'system' }, { email: 'ana@example.com', name: 'Ana Lyst', role: 'security_analyst', password });
  const id = await enqueue(db, { raw: lure, source: 'report', reporter: 'alice@example.com', result: await scanForWorkspace(db, lure) });

  const page = await (await browser.newContext()).newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Email', { exact: true }).fill('ana@example.com');
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('link', { name: 'Phishing' }).click();
  await page.getByRole('heading', { name: 'Phishing' }).waitFor();
  await page.getByRole('img', { name: 'Phishing reports per day' }).waitFor();
  await page.getByText('Urgent: your account has been suspended').first().click();
  await page.getByText('Why this score').waitFor();
  await page.getByText('reported by alice@example.com').waitFor();

  const frame = page.frameLocator('iframe[title="Message (safe view)"]');
  await frame.getByText('[http://192.0.2.7/paypal/login.php]').waitFor();
  assert.equal(await frame.locator('a').count(), 0, 'no live links in the safe view');
  assert.equal(await frame.locator('script').count(), 0);

  await page.getByRole('button', { name: 'Mark legitimate' }).click();
  await page.getByText('Done: legitimate').waitFor();
  const [row] = await db.select().from(phishingMessages).where(eq(phishingMessages.id, id));
  assert.equal(row.state, 'legitimate');
  assert.equal(row.analyst, 'ana@example.com');

  await page.getByRole('button', { name: 'Block domain' }).click();
  await page.getByRole('tab', { name: 'Blocklist' }).click();
  await page.getByRole('button', { name: 'Unblock paypa1-secure-login.top' }).waitFor();
  assert.deepEqual(errors, []);
});
