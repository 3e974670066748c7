import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { allowedVariables, analyseTemplate, buildContext, type ContextInput, renderTemplate, sampleContact, sanitiseHtml, TemplateError } from './render.ts';

const defs = [
  { key: 'plan', sensitive: false },
  { key: 'salary', sensitive: true },
];
const input: ContextInput = {
  contact: { ...sampleContact, attributes: { plan: 'pro', salary: 90000 } },
  company: { name: 'Analytical Engines', domain: 'engines.example', attributes: {} },
  campaign: { name: 'Spring launch', subject: 'Hello' },
  workspace: { name: 'Acme', postalAddress: '1 Main St, Springfield' },
  unsubscribeUrl: 'https://mw.example/u/abc',
  preferencesUrl: 'https://mw.example/p/abc',
};
const marketer = allowedVariables('marketer', [], defs);
const admin = allowedVariables('admin', ['contacts:unmask'], defs);

describe('variables per role', () => {
  test('a marketer may use names and plain attributes, not phone or sensitive attributes', () => {
    assert.ok(marketer.includes('contact.first_name'));
    assert.ok(marketer.includes('contact.attributes.plan'));
    assert.equal(marketer.includes('contact.phone'), false);
    assert.equal(marketer.includes('contact.attributes.salary'), false);
    assert.ok(admin.includes('contact.phone'));
    assert.ok(admin.includes('contact.attributes.salary'));
  });
  test('the context holds only allowed variables', () => {
    const ctx = buildContext(input, marketer) as { contact: Record<string, unknown> };
    assert.equal(ctx.contact.phone, undefined);
    assert.deepEqual(ctx.contact.attributes, { plan: 'pro' });
  });
});

describe('renderTemplate', () => {
  test('renders subject, HTML (escaped) and an automatic text part', async () => {
    const ctx = buildContext({ ...input, contact: { ...input.contact, firstName: '<b>Ada</b>' } }, marketer);
    const r = await renderTemplate(
      { subject: 'Hi {{ contact.first_name }}', format: 'html', body: '<p>Dear {{ contact.first_name }}, plan {{ contact.attributes.plan }}.</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>' },
      ctx,
    );
    assert.equal(r.subject, 'Hi <b>Ada</b>');
    assert.match(r.html, /Dear &lt;b&gt;Ada&lt;\/b&gt;, plan pro\./);
    assert.match(r.text, /Dear <b>Ada<\/b>, plan pro\./);
    assert.match(r.text, /Unsubscribe \[https:\/\/mw\.example\/u\/abc\]/);
  });

  test('strict mode: unknown variable and unknown filter are errors; default covers missing optional fields', async () => {
    const ctx = buildContext({ ...input, contact: { ...input.contact, firstName: null } }, marketer);
    await assert.rejects(renderTemplate({ subject: 's', format: 'html', body: '{{ contact.nickname }}' }, ctx), TemplateError);
    await assert.rejects(renderTemplate({ subject: 's', format: 'html', body: '{{ contact.first_name | shout }}' }, ctx), /shout/);
    await assert.rejects(renderTemplate({ subject: 's', format: 'html', body: '{{ contact.phone }}' }, ctx), /phone/, 'not allowed for a marketer');
    const r = await renderTemplate({ subject: 'Hi {{ contact.first_name | default: "there" }}', format: 'html', body: '{{ contact.nickname | default: "friend" }}' }, ctx);
    assert.equal(r.subject, 'Hi there');
    assert.match(r.html, /friend/);
  });

  test('no file-system includes', async () => {
    const ctx = buildContext(input, marketer);
    await assert.rejects(renderTemplate({ subject: 's', format: 'html', body: "{% include '/etc/passwd' %}" }, ctx), TemplateError);
    await assert.rejects(renderTemplate({ subject: 's', format: 'html', body: "{% render 'package.json' %}" }, ctx), TemplateError);
  });

  test('the sanitiser removes scripts, forms, frames, handlers and javascript: URLs (authored or injected)', async () => {
    const ctx = buildContext({ ...input, contact: { ...input.contact, attributes: { plan: '<script>alert(1)</script>' } } }, marketer);
    const r = await renderTemplate(
      {
        subject: 's',
        format: 'html',
        body: '<p onclick="x()">Hi</p><script>steal()</script><form action="https://evil"><input name=p></form><iframe src="https://evil"></iframe><a href="javascript:alert(1)">x</a>{{ contact.attributes.plan | raw }}<img src="https://img.example/a.png" onerror="x()">',
      },
      ctx,
    );
    for (const bad of ['<script', 'onclick', '<form', '<input', '<iframe', 'javascript:', 'onerror', 'steal()'])
      assert.equal(r.html.toLowerCase().includes(bad), false, bad);
    assert.match(r.html, /<img src="https:\/\/img\.example\/a\.png" \/>/);
    assert.ok(r.warnings.some((w) => w.includes('<script>')));
  });

  test('MJML templates render to responsive HTML', async () => {
    const ctx = buildContext(input, marketer);
    const r = await renderTemplate(
      {
        subject: 's',
        format: 'mjml',
        body: '<mjml><mj-body><mj-section><mj-column><mj-text>Hello {{ contact.first_name }}</mj-text><mj-button href="{{ unsubscribe_url }}">Unsubscribe</mj-button></mj-column></mj-section></mj-body></mjml>',
      },
      ctx,
    );
    assert.match(r.html, /Hello Ada/);
    assert.match(r.html, /@media/, 'keeps the responsive style block');
    assert.match(r.html, /href="https:\/\/mw\.example\/u\/abc"/);
    assert.match(r.text, /Hello Ada/);
    assert.equal(r.html.includes('<script'), false);
  });
});

describe('analyseTemplate', () => {
  test('lists variables, flags unknown and sensitive references', () => {
    const a = analyseTemplate(
      { subject: '{{ contact.first_name }}', format: 'html', body: '{{ contact.phone }} {{ contact.attributes.salary }} {{ contact.attributes.plan }} {{ contact.nickname | default: "x" }}<script></script>' },
      admin,
      defs,
    );
    assert.deepEqual(a.sensitive, ['contact.attributes.salary', 'contact.phone']);
    assert.deepEqual(a.unknown, ['contact.nickname']);
    assert.deepEqual(a.forbiddenMarkup, ['<script>']);
    const dyn = analyseTemplate({ subject: 's', format: 'html', body: '{% assign k = "phone" %}{{ contact[k] }}' }, admin, defs);
    assert.equal(dyn.sensitive.length, 1, 'dynamic contact access is treated as sensitive');
  });
  test('syntax errors name the part', () => {
    assert.throws(() => analyseTemplate({ subject: '{{ x', format: 'html', body: '' }, admin, defs), (e: TemplateError) => e.part === 'subject');
  });
  test('sanitiseHtml keeps a doctype and email markup', () => {
    const out = sanitiseHtml('<!doctype html><html><head><style>@media (max-width:480px){p{color:red}}</style></head><body><table><tr><td align="center">x</td></tr></table></body></html>');
    assert.match(out, /^<!doctype html>/);
    assert.match(out, /<td align="center">x<\/td>/);
    assert.match(out, /@media/);
  });
});
