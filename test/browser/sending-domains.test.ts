// Sending domains in a real browser: an admin adds a domain, generates an
// Ed25519 and an RSA DKIM key, sees both TXT records to publish, and confirms
// them (the test server cannot resolve DNS), after which the domain is verified.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { createUser } from '../../src/auth/users.ts';
import { startRealServer } from '../support/server.ts';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const password = 'velvet-otter-harbour-92';

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

test('an admin adds a sending domain, generates DKIM keys, sees the TXT records and verifies it', async () => {
  await createUser(server.database.db, { type: 'system' }, { email: 'ana@example.com', name: 'Ana Admin', role: 'admin', password });
  const page = await (await browser.newContext()).newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Email', { exact: true }).fill('ana@example.com');
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('link', { name: 'Sending domains' }).click();

  await page.getByLabel('Add a domain').fill('news.example.com');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await page.getByText('not verified').waitFor();
  await page.getByRole('button', { name: 'Generate DKIM key' }).click();
  await page.getByText(/v=DKIM1; k=ed25519; p=/).waitFor();
  await page.getByLabel('Key algorithm').first().click();
  await page.getByRole('option', { name: 'RSA-2048' }).click();
  await page.getByRole('button', { name: 'Generate DKIM key' }).click();
  await page.getByText(/v=DKIM1; k=rsa; p=MII/).waitFor();
  assert.equal(await page.getByText(/\._domainkey\.news\.example\.com/).count(), 2, 'both keys stay active (dual signing)');

  await page.getByLabel(/I confirm the records are published/).check();
  await page.getByRole('button', { name: 'Verify DNS records' }).click();
  await page.getByText('verified', { exact: true }).waitFor();
  assert.deepEqual(errors, []);
});
