// The console in a real browser (Debian's chromium driven by playwright-core)
// against the real server: first-run setup, 2FA enrolment, sign-in with a TOTP
// code computed here, lock-out after repeated failures, and a marketer refused
// an admin page.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { totpCode } from '../../src/auth/totp.ts';
import { createUser } from '../../src/auth/users.ts';
import { startRealServer } from '../support/server.ts';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const builtConsole = existsSync(new URL('../../web/dist/index.html', import.meta.url));

let server: Awaited<ReturnType<typeof startRealServer>>;
let browser: Browser;
const owner = { email: 'owner@example.com', name: 'Olive Owner', password: 'velvet-otter-harbour-92' };
let ownerSecret = '';

before(async () => {
  assert.ok(builtConsole, 'build the console first: npm run build:web');
  assert.ok(existsSync(chromiumPath), `chromium not found at ${chromiumPath} (apt-get install chromium)`);
  server = await startRealServer();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

async function newPage(): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/.test(m.text())) errors.push(m.text());
  });
  (page as Page & { errors: string[] }).errors = errors;
  return page;
}

async function signIn(page: Page, email: string, password: string) {
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

test('first-run setup creates the owner, who enrols 2FA with the QR page', async () => {
  const page = await newPage();
  await page.goto(server.url);
  await page.getByRole('heading', { name: 'Set up mailwarden' }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill(owner.name);
  await page.getByLabel('Email', { exact: true }).fill(owner.email);
  await page.getByLabel('Password', { exact: true }).fill(owner.password);
  await page.getByRole('button', { name: 'Create owner account' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();

  await page.goto(`${server.url}/enrol`);
  const img = page.getByAltText('QR code for your authenticator app');
  await img.waitFor();
  assert.match((await img.getAttribute('src')) ?? '', /^data:image\/svg\+xml;base64,/);
  ownerSecret = (await page.getByTestId('totp-secret').textContent())!.trim();
  assert.match(ownerSecret, /^[A-Z2-7]+=*$/);
  await page.getByLabel('Authentication code', { exact: true }).fill(totpCode(ownerSecret, Date.now() - 30_000));
  await page.getByRole('button', { name: 'Confirm', exact: true }).click();
  await page.getByLabel('I have stored these recovery codes somewhere safe').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.deepEqual((page as Page & { errors: string[] }).errors, []);
});

test('sign-in asks for the TOTP code and lands in the console', async () => {
  assert.ok(ownerSecret, 'depends on the setup test');
  const page = await newPage();
  await signIn(page, owner.email, owner.password);
  await page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
  await page.getByLabel('Authentication code', { exact: true }).fill(totpCode(ownerSecret));
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await page.goto(`${server.url}/users`);
  await page.getByRole('heading', { name: 'Users' }).waitFor();
  // waitFor, not isVisible(): the heading renders before the list arrives (isVisible does not wait; it failed under load).
  await page.getByText(owner.email).first().waitFor();
  await page.goto(`${server.url}/audit`);
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  await page.getByText('auth.login').first().waitFor();
  assert.deepEqual((page as Page & { errors: string[] }).errors, []);
});

test('repeated failures lock the account and the page says so', async () => {
  await createUser(server.database.db, { type: 'system' }, { email: 'rep@example.com', name: 'Rep', role: 'sales_rep', password: owner.password });
  const page = await newPage();
  await signIn(page, 'rep@example.com', 'not-the-password-1');
  await page.getByRole('alert').filter({ hasText: 'Invalid email or password' }).waitFor();
  // Skip ahead to the edge of the lock instead of waiting out the growing delays.
  await server.database.query(`UPDATE auth_throttle SET failures = 9, next_attempt_at = NULL WHERE key = 'acct:rep@example.com'`);
  await server.database.query(`DELETE FROM auth_throttle WHERE key LIKE 'ip:%'`);
  await page.getByLabel('Password', { exact: true }).fill('not-the-password-2');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForTimeout(300);
  await page.getByLabel('Password', { exact: true }).fill(owner.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: 'locked' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
});

test('a marketer is refused an admin page', async () => {
  await createUser(server.database.db, { type: 'system' }, { email: 'mark@example.com', name: 'Mark Eter', role: 'marketer', password: owner.password });
  const page = await newPage();
  await signIn(page, 'mark@example.com', owner.password);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Users' }).count(), 0, 'no Users entry in the navigation');
  await page.goto(`${server.url}/users`);
  await page.getByText('You do not have access to this page').waitFor();
  const api = await page.evaluate(async () => (await fetch('/api/users')).status);
  assert.equal(api, 403);
});
