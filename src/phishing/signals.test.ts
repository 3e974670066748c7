import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { offlineAuth, parseAuthenticationResults } from './auth.ts';
import { hostOf, lookalike, registrableDomain, skeleton } from './domains.ts';
import { parseMessage } from './parse.ts';
import { CONTEXT_ONLY_SIGNALS } from './features.ts';
import { collectSignals } from './scan.ts';
import { buildMessage, buildZip, type MessageSpec } from './testing.ts';
import type { WorkspaceConfig } from './types.ts';
import { listZip } from './zip.ts';

async function signalsOf(spec: MessageSpec, ws: WorkspaceConfig = {}): Promise<string[]> {
  const msg = await parseMessage(buildMessage(spec));
  return collectSignals(msg, offlineAuth(msg), ws).map((h) => h.id);
}

describe('domains', () => {
  test('registrable domain handles multi-label suffixes', () => {
    assert.equal(registrableDomain('a.b.example.co.uk'), 'example.co.uk');
    assert.equal(registrableDomain('www.bradesco.com.br'), 'bradesco.com.br');
    assert.equal(registrableDomain('mail.google.com'), 'google.com');
    assert.equal(registrableDomain('evil.web.app'), 'evil.web.app');
  });
  test('lookalike kinds', () => {
    assert.equal(lookalike('paypa1.com', 'paypal.com'), 'homoglyph');
    assert.equal(lookalike('paypall.com', 'paypal.com'), 'edit_distance');
    assert.equal(lookalike('paypal-secure-login.com', 'paypal.com'), 'added_words');
    assert.equal(lookalike('paypal.com.account-check.example', 'paypal.com'), 'brand_in_subdomain');
    assert.equal(lookalike('xn--pypal-4ve.com', 'paypal.com'), 'punycode'); // pаypal with Cyrillic а
    assert.equal(lookalike('www.paypal.com', 'paypal.com'), null);
    assert.equal(lookalike('example.org', 'paypal.com'), null);
    assert.equal(lookalike('acme-c0rp.com', 'acme-corp.com'), 'homoglyph');
    assert.equal(lookalike('docu-sign-review.com', 'docusign.com'), 'added_words'); // hyphens split the brand
    assert.equal(lookalike('mynetflix-stories.com', 'netflix.com'), null);
  });
  test('skeleton folds confusables', () => {
    assert.equal(skeleton('аррӏе'.replace('ӏ', 'l')), skeleton('apple'));
    assert.equal(skeleton('rnicrosoft'), skeleton('microsoft'));
  });
  test('hostOf strips userinfo and port', () => {
    assert.equal(hostOf('http://paypal.com@evil.example:8080/x'), 'evil.example');
    assert.equal(hostOf('https://[::1]/'), '::1');
  });
});

describe('authentication results', () => {
  test('parses RFC 8601 header with authserv-id and properties', () => {
    const ar = parseAuthenticationResults(
      'mx.example.com; spf=pass (ok) smtp.mailfrom=bounce@news.example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com',
    );
    assert.equal(ar.authservId, 'mx.example.com');
    assert.deepEqual(
      ar.results.map((r) => [r.method, r.result]),
      [
        ['spf', 'pass'],
        ['dkim', 'pass'],
        ['dmarc', 'pass'],
      ],
    );
  });
  test('offline mode trusts only the top-most header, or only configured authserv-ids', async () => {
    const raw = Buffer.from(
      'Authentication-Results: forged.example; spf=pass; dkim=pass; dmarc=pass\r\nAuthentication-Results: mx.corp.example; spf=fail smtp.mailfrom=x.example; dkim=none; dmarc=fail header.from=bank.example\r\nFrom: Bank <a@bank.example>\r\nSubject: x\r\n\r\nhi\r\n',
    );
    const msg = await parseMessage(raw);
    assert.equal(offlineAuth(msg).dmarc, 'pass');
    const trusted = offlineAuth(msg, ['corp.example']);
    assert.equal(trusted.authservId, 'mx.corp.example');
    assert.equal(trusted.dmarc, 'fail');
    assert.equal(trusted.spf, 'fail');
    assert.equal(offlineAuth(msg, ['other.example']).source, 'none');
  });
  test('auth signals fire on failures only when results exist', async () => {
    const fail = await signalsOf({ authResults: 'mx.example; spf=fail smtp.mailfrom=evil.example; dkim=none; dmarc=fail header.from=bank.example', text: 'hi' });
    assert.ok(fail.includes('auth.dmarc_fail') && fail.includes('auth.spf_fail') && fail.includes('auth.unauthenticated'));
    const none = await signalsOf({ text: 'hi' });
    assert.ok(!none.some((s) => s.startsWith('auth.')));
  });
});

describe('sender signals', () => {
  test('brand display name on an unrelated domain, and not on the real one', async () => {
    assert.ok((await signalsOf({ from: '"PayPal Service" <service@paypa1-help.example>', text: 'x' })).includes('sender.brand_display_name'));
    assert.ok(!(await signalsOf({ from: '"PayPal" <service@paypal.com>', text: 'x' })).includes('sender.brand_display_name'));
  });
  test('malformed From with an unquoted comma: real address recovered, flagged', async () => {
    const msg = await parseMessage(buildMessage({ from: 'Microsoft account team ,_<no-reply@access-accsecurity.example>', text: 'x' }));
    assert.equal(msg.from?.address, 'no-reply@access-accsecurity.example');
    const ids = collectSignals(msg, offlineAuth(msg), {}).map((h) => h.id);
    assert.ok(ids.includes('sender.malformed_from') && ids.includes('sender.brand_display_name'));
    assert.ok(!ids.includes('sender.no_address'));
  });
  test('lookalike brand domain in From', async () => {
    assert.ok((await signalsOf({ from: 'Support <help@rnicrosoft.com>', text: 'x' })).includes('sender.lookalike_brand_domain'));
  });
  test('staff impersonation and workspace lookalikes use the workspace config', async () => {
    const ws: WorkspaceConfig = { ownDomains: ['acme-corp.com'], staffNames: ['Jane Doe'] };
    const s = await signalsOf({ from: '"Jane Doe" <jane.doe.ceo@gmail.com>', text: 'Are you available? I need a quick favor.' }, ws);
    assert.ok(s.includes('ws.staff_impersonation'));
    assert.ok(s.includes('lang.bec'));
    const own = await signalsOf({ from: '"Jane Doe" <jane@acme-corp.com>', text: 'x' }, ws);
    assert.ok(!own.includes('ws.staff_impersonation'));
    assert.ok((await signalsOf({ from: 'IT <it@acme-c0rp.com>', text: 'x' }, ws)).includes('ws.lookalike_own_domain'));
  });
  test('reply-to to free-mail, free-mail company, embedded address; mailing-list rewrites are exempt', async () => {
    const s = await signalsOf({ from: '"Billing Department" <billing@shop.example>', replyTo: 'shop.billing@gmail.com', text: 'x' });
    assert.ok(s.includes('sender.reply_to_freemail'));
    assert.ok((await signalsOf({ from: '"Bank Security Team" <bank.sec@gmail.com>', text: 'x' })).includes('sender.freemail_company'));
    assert.ok((await signalsOf({ from: '"support@apple.com" <x@evil.example>', text: 'x' })).includes('sender.display_name_address'));
    const list = await signalsOf({ from: '"Bob via Users" <users@lists.example.org>', replyTo: 'bob@gmail.com', text: 'x' });
    assert.ok(!list.some((x) => x.startsWith('sender.')));
    // An anonymising forwarder keeps the original address and tags it; an untagged one is still flagged.
    const relay = await signalsOf({ from: '"Newsletter news@brand.example [alias/brand]" <ticket_1@relay.example>', text: 'x' });
    assert.ok(!relay.includes('sender.display_name_address'), String(relay));
    const untagged = await signalsOf({ from: '"Newsletter news@brand.example" <ticket_1@relay.example>', text: 'x' });
    assert.ok(untagged.includes('sender.display_name_address'), String(untagged));
  });
});

describe('link signals', () => {
  test('text/href mismatch, IP host, shortener, open redirect, @ authority, data/javascript, risky TLD, punycode', async () => {
    const html = [
      '<a href="https://evil.example/login">https://www.paypal.com/signin</a>',
      '<a href="http://192.168.10.5/x">here</a>',
      '<a href="https://bit.ly/abc">track</a>',
      '<a href="https://www.google.com/url?q=https://phish.example/">open</a>',
      '<a href="http://paypal.com@phish.example/">paypal</a>',
      '<a href="data:text/html;base64,PGgxPng8L2gxPg==">js</a>',
      '<a href="https://login.example.xyz/">xyz</a>',
      '<a href="https://xn--pypal-4ve.com/">p</a>',
      '<a href="https://firebasestorage.googleapis.com/v0/b/x/o/page.html">doc</a>',
    ].join('\n');
    const s = await signalsOf({ html });
    for (const id of [
      'links.text_href_mismatch',
      'links.ip_host',
      'links.shortener',
      'links.open_redirect',
      'links.at_in_authority',
      'links.javascript_or_data',
      'links.risky_tld',
      'links.punycode',
      'links.free_hosting',
      'links.lookalike_brand',
    ])
      assert.ok(s.includes(id), `${id} missing from ${s}`);
  });
  test('a link into the sender\'s own domain showing another site is no mismatch; elsewhere it is', async () => {
    const from = 'Shop <news@shop.example>';
    const own = await signalsOf({ from, html: '<a href="https://www.shop.example/r?to=brand">www.brand.com</a>' });
    assert.ok(!own.includes('links.text_href_mismatch'), String(own));
    const other = await signalsOf({ from, html: '<a href="https://collect.example/r">www.brand.com</a>' });
    assert.ok(other.includes('links.text_href_mismatch'), String(other));
    // With results saying the From domain is not authenticated, "the sender's own domain" proves nothing.
    const spoofed = await signalsOf({ from, authResults: 'mx.example.com; spf=fail smtp.mailfrom=shop.example; dkim=none; dmarc=fail header.from=shop.example', html: '<a href="https://www.shop.example/r?to=brand">www.brand.com</a>' });
    assert.ok(spoofed.includes('links.text_href_mismatch'), String(spoofed));
  });
  test("an authenticated sender's own click tracker (link text shows the sender's domain) is neither a mismatch nor elsewhere", async () => {
    const links = ['www.brand-shop.com', 'Shop now', 'Coats', 'Boots']
      .map((t, i) => `<a href="https://x7.esp-unknown.io/l/${i}">${t}</a>`)
      .join(' ');
    const spec = (dmarc: string) => ({
      from: 'Brand Shop <news@brand-shop.com>',
      authResults: `mx.example.com; spf=pass smtp.mailfrom=bounce.esp-unknown.io; dkim=pass header.d=brand-shop.com; dmarc=${dmarc} header.from=brand-shop.com`,
      html: `<p>Our autumn collection is here.</p><p>${links}</p>`,
    });
    const pass = await signalsOf(spec('pass'));
    assert.ok(!pass.includes('links.text_href_mismatch') && !pass.includes('links.unrelated_destination'), String(pass));
    // Without DMARC the From domain proves nothing: the same links are the classic deception.
    const fail = await signalsOf(spec('fail'));
    assert.ok(fail.includes('links.text_href_mismatch') && fail.includes('links.unrelated_destination'), String(fail));
  });
  test("an authenticated sender's own site includes its brand's other domains and its tenant on a platform, not free hosting", async () => {
    const ms = 'mx.example.com; spf=pass smtp.mailfrom=microsoft.com; dkim=pass header.d=microsoft.com; dmarc=pass header.from=microsoft.com';
    const brand = await signalsOf({ from: 'Microsoft account team <account-security-noreply@accountprotection.microsoft.com>', authResults: ms, html: '<a href="https://account.live.com/activity">Review recent activity</a>' });
    assert.ok(brand.includes('links.authenticated_own_site'), String(brand));
    const acme = 'mx.example.com; spf=pass smtp.mailfrom=acme-app.com; dkim=pass header.d=acme-app.com; dmarc=pass header.from=acme-app.com';
    const from = 'Acme <no-reply@acme-app.com>';
    const tenant = await signalsOf({ from, authResults: acme, html: '<a href="https://acme-app.us.auth0.com/lo/reset?ticket=x">Reset password</a>' });
    assert.ok(tenant.includes('links.authenticated_own_site'), String(tenant));
    for (const host of ['acme-app.web.app', 'acme-app.sharepoint.com']) {
      const hosted = await signalsOf({ from, authResults: acme, html: `<a href="https://${host}/reset">Open</a>` });
      assert.ok(!hosted.includes('links.authenticated_own_site'), `${host}: ${hosted}`);
    }
    // Authenticated, but the display name says it is a brand that domain does not belong to: no credit.
    const imp = 'mx.example.com; spf=pass smtp.mailfrom=sign-review.example; dkim=pass header.d=sign-review.example; dmarc=pass header.from=sign-review.example';
    const claims = await signalsOf({ from: 'DocuSign <dse@sign-review.example>', authResults: imp, html: '<a href="https://sign-review.example/view">Review</a>' });
    assert.ok(!claims.includes('links.authenticated_own_site') && claims.includes('sender.brand_display_name'), String(claims));
    // …nor when it is a bare role unrelated to that domain, or the body asks to sign in with a brand's account.
    const role = await signalsOf({ from: 'IT Helpdesk <it@sign-review.example>', authResults: imp, html: '<a href="https://sign-review.example/owa">Increase mailbox size</a>' });
    assert.ok(!role.includes('links.authenticated_own_site') && role.includes('sender.role_name_unrelated'), String(role));
    const signIn = await signalsOf({ from: 'Voicemail <vm@sign-review.example>', authResults: imp, html: '<p>Sign in with your Microsoft 365 account to listen.</p><a href="https://sign-review.example/play">Play</a>' });
    assert.ok(!signIn.includes('links.authenticated_own_site') && signIn.includes('content.brand_unrelated'), String(signIn));
    const company = await signalsOf({ from: 'Sign Review Support <help@sign-review.example>', authResults: imp, html: '<a href="https://sign-review.example/ticket">Your ticket</a>' });
    assert.ok(company.includes('links.authenticated_own_site'), String(company));
    // No DMARC record: an aligned DKIM signature is what DMARC would have passed; a DMARC failure never is.
    const link = '<a href="https://www.acme-app.com/account">Your account</a>';
    const noRecord = await signalsOf({ from, authResults: 'mx.example.com; spf=none; dkim=pass header.d=mail.acme-app.com; dmarc=none header.from=acme-app.com', html: link });
    assert.ok(noRecord.includes('links.authenticated_own_site'), String(noRecord));
    const otherSigner = await signalsOf({ from, authResults: 'mx.example.com; spf=none; dkim=pass header.d=esp.example; dmarc=none header.from=acme-app.com', html: link });
    assert.ok(!otherSigner.includes('links.authenticated_own_site'), String(otherSigner));
    const failed = await signalsOf({ from, authResults: 'mx.example.com; spf=pass smtp.mailfrom=acme-app.com; dkim=pass header.d=acme-app.com; dmarc=fail header.from=acme-app.com', html: link });
    assert.ok(!failed.includes('links.authenticated_own_site'), String(failed));
  });
  test('javascript: links are context in the body and scored in an HTML attachment', async () => {
    const body = await signalsOf({ html: '<a href="javascript:window.print()">print</a>' });
    assert.ok(body.includes('links.javascript_in_body') && !body.includes('links.javascript_or_data'), String(body));
    assert.ok(CONTEXT_ONLY_SIGNALS.has('links.javascript_in_body'));
    const att = await signalsOf({
      text: 'See attached',
      attachments: [{ filename: 'page.html', contentType: 'text/html', content: '<a href="javascript:location=atob(1)">open</a>' }],
    });
    assert.ok(att.includes('links.javascript_or_data'), String(att));
  });
  test('country-code TLDs of large countries are not risky; abused gTLDs and former free TLDs are', async () => {
    const cc = await signalsOf({ html: '<a href="https://english.pravda.ru/news">news</a> <a href="https://www.example.cn/">cn</a>' });
    assert.ok(!cc.includes('links.risky_tld'), String(cc));
    for (const host of ['login.example.shop', 'secure.example.tk'])
      assert.ok((await signalsOf({ html: `<a href="https://${host}/">x</a>` })).includes('links.risky_tld'), host);
  });
  test('ordinary links fire nothing', async () => {
    const s = await signalsOf({ html: '<p>Read <a href="https://example.org/blog">our blog</a> or https://example.org/docs</p>' });
    assert.deepEqual(s.filter((x) => x.startsWith('links.')), []);
  });
  test('credential forms in the body and in HTML attachments', async () => {
    const s = await signalsOf({ html: '<form action="https://collect.example/p"><input name="email"><input type="password" name="pw"></form>' });
    assert.ok(s.includes('forms.password_field') && s.includes('forms.html_form'));
    // A search box posting back to the sender's own site is not shown as a form; one without an action is.
    const from = 'News <news@shop.example>';
    const search = await signalsOf({ from, html: '<form action="https://www.shop.example/search"><input name="q"></form>' });
    assert.ok(!search.includes('forms.html_form'), String(search));
    const mixed = await signalsOf({ from, html: '<form action="https://www.shop.example/search"></form><form><input name="q"></form>' });
    assert.ok(mixed.includes('forms.html_form'), String(mixed));
    const att = await signalsOf({
      text: 'Invoice attached',
      attachments: [{ filename: 'invoice.html', contentType: 'text/html', content: '<form><input type="password"></form><a href="https://x.example/">x</a>' }],
    });
    assert.ok(att.includes('attach.html') && att.includes('forms.password_field') && att.includes('attach.html_with_links'));
  });
});

describe('attachment signals', () => {
  test('executables, double extensions, macros, disk images, shortcuts', async () => {
    const s = await signalsOf({
      text: 'see files',
      attachments: [
        { filename: 'setup.exe', content: 'MZ' },
        { filename: 'invoice.pdf.js', content: 'x' },
        { filename: 'report.xlsm', content: 'x' },
        { filename: 'photos.iso', content: 'x' },
        { filename: 'doc.lnk', content: 'x' },
      ],
    });
    for (const id of ['attach.executable', 'attach.double_extension', 'attach.macro_office', 'attach.disk_image', 'attach.shortcut'])
      assert.ok(s.includes(id), `${id} missing`);
  });
  test('encrypted archive with the password in the body, risky entry listed from the central directory', async () => {
    const zip = buildZip([{ name: 'Invoice_2024.pdf.exe', encrypted: true }, { name: 'readme.txt' }]);
    const s = await signalsOf({ text: 'Open the invoice. Password: 4821', attachments: [{ filename: 'invoice.zip', content: zip }] });
    for (const id of ['attach.archive_encrypted', 'attach.archive_password_in_body', 'attach.archive_risky_entry']) assert.ok(s.includes(id), id);
  });
  test('zip listing reads names, sizes and encryption flags without extracting', () => {
    const l = listZip(buildZip([{ name: 'a.txt', data: Buffer.from('hello') }, { name: 'b.bin', encrypted: true, declaredSize: 5_000_000_000 % 2 ** 32 }]));
    assert.equal(l.entries.length, 2);
    assert.equal(l.entries[0].name, 'a.txt');
    assert.equal(l.entries[0].size, 5);
    assert.equal(l.entries[1].encrypted, true);
    assert.equal(l.encrypted, true);
    assert.equal(l.truncated, false);
  });
  test('a truncated archive still lists local headers', () => {
    const z = buildZip([{ name: 'x.scr' }]);
    const l = listZip(z.subarray(0, 40));
    assert.equal(l.truncated, true);
    assert.equal(l.entries[0]?.name, 'x.scr');
  });
});

describe('language signals', () => {
  const cases: [string, string, string][] = [
    ['en', 'Your account has been suspended. Verify your account within 24 hours.', 'lang.account_suspension'],
    ['de', 'Ihr Konto wurde gesperrt. Bitte bestätigen Sie innerhalb von 24 Stunden Ihr Passwort.', 'lang.account_suspension'],
    ['pt', 'Sua conta foi bloqueada. Atualize seus dados e informe sua senha imediatamente.', 'lang.credentials'],
    ['es', 'Su cuenta ha sido suspendida. Actualice sus datos inmediatamente.', 'lang.account_suspension'],
    ['en', 'Kindly process a wire transfer today and buy gift cards.', 'lang.bec'],
    ['pt', 'Parabéns! Seus pontos expiram hoje, resgate agora.', 'lang.prize'],
  ];
  for (const [lang, text, id] of cases)
    test(`${lang}: ${id}`, async () => {
      assert.ok((await signalsOf({ text })).includes(id));
    });
  test('security disclaimers are not lures; the request itself is', async () => {
    const disclaimer = await signalsOf({ text: 'Your statement is ready. For your security, we will never ask for your password or PIN by email. Do not share this code with anyone.' });
    assert.ok(!disclaimer.includes('lang.credentials'), String(disclaimer));
    for (const text of [
      'Seu extrato esta disponivel. Nunca pedimos sua senha por e-mail.',
      'O Nubank nunca pede sua senha por e-mail.',
      'Amazon nunca te pedirá tu contraseña por correo electrónico.',
      'Wir werden Sie niemals per E-Mail nach Ihrem Passwort fragen.',
    ]) {
      const s = await signalsOf({ text });
      assert.ok(!s.includes('lang.credentials'), `${text}: ${s}`);
    }
    for (const text of [
      'Your account is on hold. Enter your password on the page below to keep it.',
      'Geben Sie Ihr Passwort ein, um fortzufahren.',
      'If you do not send your password and card number within 24 hours your account will be closed.',
    ])
      assert.ok((await signalsOf({ text })).includes('lang.credentials'), text);
  });
  test('ordinary prose fires no lure', async () => {
    const s = await signalsOf({ text: 'Hi team, the meeting notes from Tuesday are in the shared folder. Thanks, Bob' });
    assert.deepEqual(s.filter((x) => x.startsWith('lang.')), []);
  });
});

describe('structural signals', () => {
  test('invalid sender domain and styled letters', async () => {
    const s = await signalsOf({ from: 'Detran <no-reply@alertaDetran653>', subject: '𝐘𝐎𝐔𝐑 𝐏𝐇𝐎𝐓𝐎𝐒', text: 'Regularize agora' });
    assert.ok(s.includes('sender.invalid_domain'));
    assert.ok(s.includes('content.styled_letters'));
    const ok = await signalsOf({ from: 'Alice <alice@mail.example.org>', subject: 'Your photos', text: 'hi' });
    assert.ok(!ok.includes('sender.invalid_domain'));
    assert.ok(!ok.includes('content.styled_letters'));
  });
  test('image-only body with a link', async () => {
    const s = await signalsOf({ html: '<a href="https://promo.example.net/x"><img src="https://promo.example.net/banner.png"></a>' });
    assert.ok(s.includes('content.image_only'));
    const text = await signalsOf({ html: `<p>${'A real newsletter paragraph with plenty of words. '.repeat(10)}</p><a href="https://example.org/a"><img src="https://example.org/b.png"></a>` });
    assert.ok(!text.includes('content.image_only'));
  });
  test('links to one unrelated domain, unless the display name names it', async () => {
    const html = '<a href="https://harvest-site.net/a">a</a> <a href="https://harvest-site.net/b">b</a> <a href="https://harvest-site.net/c">c</a>';
    assert.ok((await signalsOf({ from: 'Shop <news@shop.example.org>', html })).includes('links.unrelated_destination'));
    assert.ok(!(await signalsOf({ from: 'Harvest Site <news@esp-mailer.org>', html })).includes('links.unrelated_destination'));
    const own = Array.from({ length: 6 }, (_, i) => `<a href="https://www.shop.example.org/p${i}">p${i}</a>`).join(' ');
    const s = await signalsOf({ from: 'Shop <news@shop.example.org>', html: own });
    assert.ok(s.includes('links.sender_site'));
    assert.ok(!s.includes('links.unrelated_destination'));
  });
  test('recipient greeted by address, generic greeting', async () => {
    assert.ok((await signalsOf({ subject: 'user@example.com, your parcel', text: 'Track it' })).includes('content.address_as_name'));
    assert.ok((await signalsOf({ text: 'Olá user@example.com!\nSeu pacote chegou' })).includes('content.address_as_name'));
    assert.ok(!(await signalsOf({ text: 'On Monday user@example.com wrote:\n> hi' })).includes('content.address_as_name'));
    assert.ok((await signalsOf({ text: 'Dear customer, your account' })).includes('lang.generic_greeting'));
  });
  test('brand named while neither sender nor links are the brand; role names', async () => {
    const html = '<a href="https://claim.example.net/x">Claim</a>';
    assert.ok((await signalsOf({ from: 'Rewards <a@promo.example.org>', subject: 'Your Netflix reward', html })).includes('content.brand_unrelated'));
    assert.ok(!(await signalsOf({ from: 'Rewards <a@promo.example.org>', subject: 'Re: Netflix outage', html })).includes('content.brand_unrelated'));
    assert.ok(!(await signalsOf({ subject: 'Your Netflix bill', html: '<a href="https://www.netflix.com/bill">Bill</a>' })).includes('content.brand_unrelated'));
    assert.ok((await signalsOf({ from: 'Security Team <x@random-host.example>', text: 'hi' })).includes('sender.role_name_unrelated'));
    assert.ok(!(await signalsOf({ from: 'Acme Support <help@acme.example>', text: 'hi' })).includes('sender.role_name_unrelated'));
    // The workspace's own staff sign with a bare role.
    const own = await signalsOf({ from: 'HR Team <hr@northwind.example>', text: 'hi' }, { ownDomains: ['northwind.example'] });
    assert.ok(!own.includes('sender.role_name_unrelated'), String(own));
  });
});
