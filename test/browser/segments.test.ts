// The segment builder in a real browser: a marketer builds AND / NOT / OR rules
// from the workspace's attributes and tags, watches the live count follow each
// change, looks at the JSON view, and saves the segment.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { createUser } from '../../src/auth/users.ts';
import { createAttributeDef } from '../../src/contacts/service.ts';
import { startRealServer } from '../support/server.ts';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const password = 'velvet-otter-harbour-92';

let server: Awaited<ReturnType<typeof startRealServer>>;
let browser: Browser;
before(async () => {
  assert.ok(
    existsSync(new URL('../../web/dist/index.html', import.meta.url)),
    'build the console first: npm run build:web',
  );
  assert.ok(existsSync(chromiumPath), `chromium not found at ${chromiumPath} (apt-get install chromium)`);
  server = await startRealServer();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

test('a marketer builds a segment with groups, NOT and a live count, then saves it', async () => {
  const db = server.database.db;
  await createUser(
    db,
    { type: 'system' },
    { email: 'mia@example.com', name: 'Mia Marketer', role: 'marketer', password },
  );
  await createAttributeDef(db, { key: 'plan', label: 'Plan', type: 'text', sensitive: false });

  const page = await (await browser.newContext()).newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Email', { exact: true }).fill('mia@example.com');
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('link', { name: 'Segments' }).waitFor();

  // Four subscribed contacts, created through the API as the console would
  // (A string, not a function: tsx would inject its `__name` helper into a serialised function.)
  const people = [
    { email: 'ada@example.com', attributes: { plan: 'pro' }, tags: ['beta'] },
    { email: 'bob@example.com', attributes: { plan: 'pro' }, tags: [] },
    { email: 'cy@example.com', attributes: { plan: 'free' }, tags: ['beta'] },
    { email: 'dee@example.com', attributes: { plan: 'pro' }, tags: [] },
  ];
  const created = await page.evaluate(`(async (people) => {
    const csrf = decodeURIComponent((/(?:^|; )mw_csrf=([^;]+)/.exec(document.cookie) || [])[1] || '');
    const headers = { 'content-type': 'application/json', 'x-csrf-token': csrf };
    let n = 0;
    for (const p of people) {
      const r = await fetch('/api/contacts', { method: 'POST', headers, body: JSON.stringify(p) });
      if (!r.ok) throw new Error('contact ' + r.status + ' ' + (await r.text()));
      const c = await r.json();
      const k = await fetch('/api/contacts/' + c.id + '/consents', { method: 'POST', headers, body: JSON.stringify({ state: 'subscribed', source: 'browser test' }) });
      if (!k.ok) throw new Error('consent ' + k.status + ' ' + (await k.text()));
      n++;
    }
    return n;
  })(${JSON.stringify(people)})`);
  assert.equal(created, 4);

  await page.getByRole('link', { name: 'Segments' }).click();
  const eligible = page.getByTestId('segment-eligible');
  const expectCount = (n: number) =>
    page
      .getByTestId('segment-eligible')
      .filter({ hasText: `${n} eligible` })
      .waitFor();
  await expectCount(4); // empty AND = everyone

  // plan equals pro
  await page.getByRole('button', { name: 'Add condition to group root' }).click();
  assert.equal(await page.getByLabel('Condition 1 attribute').inputValue(), 'plan');
  await page.getByLabel('Condition 1 value').fill('pro');
  await expectCount(3);

  // AND tags has any [beta]
  await page.getByRole('button', { name: 'Add condition to group root' }).click();
  await page.getByLabel('Condition 2 kind').selectOption('tag');
  const tags = page.getByLabel('Condition 2 tags');
  if (!(await page.getByRole('group', { name: 'Condition 2' }).getByText('beta').count())) {
    await tags.fill('beta');
    await tags.press('Enter');
  }
  await expectCount(1);

  // NOT (tags has any [beta]) → bob, dee
  await page.getByRole('button', { name: 'Negate condition 2' }).click();
  await page.getByText('contacts that do not match:').waitFor();
  await expectCount(2);

  // ANY of: plan = pro OR NOT beta → ada, bob, dee
  await page.getByText('ANY of (OR)').click();
  await expectCount(3);
  assert.match((await eligible.textContent()) ?? '', /3 eligible/);

  // The JSON view shows the same tree.
  await page.getByLabel('JSON (advanced)').check();
  const json = JSON.parse(await page.getByLabel('Rules (JSON)').inputValue());
  assert.deepEqual(json, {
    kind: 'or',
    rules: [
      { kind: 'attribute', key: 'plan', op: 'equals', value: 'pro' },
      { kind: 'not', rule: { kind: 'tag', op: 'has_any', tags: ['beta'] } },
    ],
  });
  await page.getByLabel('JSON (advanced)').uncheck();

  await page.getByLabel('Name', { exact: true }).fill('Pro or not beta');
  await page.getByRole('button', { name: 'Save segment' }).click();
  await page.getByRole('cell', { name: 'Pro or not beta' }).waitFor();
  await page.getByText('plan equals "pro" OR NOT tags has any [beta]').waitFor();
  assert.deepEqual(errors, []);
});
