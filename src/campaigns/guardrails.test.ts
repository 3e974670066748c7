import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type GuardrailInput, launchBlockers, reviewBlockers, runGuardrails } from './guardrails.ts';

const unsub = 'https://mw.example/u/tok';
function base(over: Partial<GuardrailInput> = {}): GuardrailInput {
  return {
    campaign: { authorUserId: 1, attachments: [] },
    rendered: {
      subject: 'Spring news',
      html: `<p>Hello</p><p><a href="${unsub}">Unsubscribe</a></p><p>Acme Ltd<br>1 Main St, Springfield</p>`,
      text: `Hello\nUnsubscribe ${unsub}\nAcme Ltd 1 Main St, Springfield`,
    },
    unsubscribeUrl: unsub,
    template: { sensitiveFields: [], approvedByUserId: null, authorUserId: 1 },
    audience: { matched: 120, eligible: 100, excluded: { suppressed: 5, unsubscribed: 10, pending: 3, noConsent: 2 } },
    workspace: { blastRadius: 10_000, postalAddress: '1 Main St, Springfield', dlpPatterns: [] },
    domain: { domain: 'mail.acme.example', verified: true, dkimSelector: 'mw2026' },
    approval: null,
    ...over,
  };
}
const byId = (r: ReturnType<typeof runGuardrails>) => Object.fromEntries(r.map((x) => [x.id, x]));

describe('guardrails', () => {
  test('a clean campaign passes every check, and the audience check explains exclusions', () => {
    const r = byId(runGuardrails(base()));
    assert.deepEqual(Object.values(r).map((x) => x.status), ['pass', 'pass', 'pass', 'pass', 'pass']);
    assert.match(r.audience.detail, /100 of 120 .*20 excluded: 5 suppressed.*10 unsubscribed.*3 awaiting double opt-in.*2 without marketing consent/);
    assert.match(r.compliance.detail, /List-Unsubscribe/);
  });

  test('no eligible recipients fails', () => {
    const r = byId(runGuardrails(base({ audience: { matched: 3, eligible: 0, excluded: { suppressed: 3, unsubscribed: 0, pending: 0, noConsent: 0 } } })));
    assert.equal(r.audience.status, 'fail');
  });

  test('a DLP hit blocks launch and names where it is', () => {
    const b = base();
    const r = byId(runGuardrails({ ...b, rendered: { ...b.rendered, text: `${b.rendered.text}\ncard 4111 1111 1111 1111` } }));
    assert.equal(r.dlp.status, 'fail');
    assert.match(r.dlp.detail, /Visa in text at line 4, column 6/);
    assert.equal(reviewBlockers(Object.values(r)).map((x) => x.id).join(), 'dlp');
  });

  test('blast radius: over threshold / attachment needs a second person, not the author', () => {
    const big = base({ audience: { matched: 20_000, eligible: 20_000, excluded: { suppressed: 0, unsubscribed: 0, pending: 0, noConsent: 0 } } });
    assert.equal(byId(runGuardrails(big)).blast_radius.status, 'needs_approval');
    assert.equal(byId(runGuardrails({ ...big, approval: { userId: 1 } })).blast_radius.status, 'needs_approval', 'self-approval does not count');
    assert.equal(byId(runGuardrails({ ...big, approval: { userId: 2 } })).blast_radius.status, 'pass');
    const att = base({ campaign: { authorUserId: 1, attachments: [{ filename: 'a.pdf', contentType: 'application/pdf', content: Buffer.from('%PDF') }] } });
    const r = byId(runGuardrails(att));
    assert.equal(r.blast_radius.status, 'needs_approval');
    assert.match(r.blast_radius.detail, /1 attachment/);
    assert.deepEqual(launchBlockers(Object.values(r)).map((x) => x.id), ['blast_radius']);
    assert.deepEqual(reviewBlockers(Object.values(r)), []);
  });

  test('sensitive template fields need the template approved by someone else', () => {
    const t = { sensitiveFields: ['contact.phone'], approvedByUserId: null, authorUserId: 1 };
    assert.equal(byId(runGuardrails(base({ template: t }))).blast_radius.status, 'fail');
    assert.equal(byId(runGuardrails(base({ template: { ...t, approvedByUserId: 1 } }))).blast_radius.status, 'fail');
    assert.equal(byId(runGuardrails(base({ template: { ...t, approvedByUserId: 3 } }))).blast_radius.status, 'needs_approval');
    assert.equal(byId(runGuardrails(base({ template: { ...t, approvedByUserId: 3 }, approval: { userId: 2 } }))).blast_radius.status, 'pass');
  });

  test('compliance: unsubscribe link and postal address', () => {
    const b = base();
    const noUnsub = byId(runGuardrails({ ...b, rendered: { ...b.rendered, html: '<p>Acme 1 Main St, Springfield</p>' } }));
    assert.equal(noUnsub.compliance.status, 'fail');
    assert.match(noUnsub.compliance.detail, /no unsubscribe link/);
    const noAddr = byId(runGuardrails({ ...b, workspace: { ...b.workspace, postalAddress: null } }));
    assert.match(noAddr.compliance.detail, /postal address is not set/);
    const missing = byId(runGuardrails({ ...b, workspace: { ...b.workspace, postalAddress: '9 Other Rd' } }));
    assert.match(missing.compliance.detail, /not in the message/);
  });

  test('DKIM: domain chosen, key present, verified', () => {
    assert.match(byId(runGuardrails(base({ domain: null }))).dkim.detail, /No sending domain/);
    assert.match(byId(runGuardrails(base({ domain: { domain: 'x.example', verified: false, dkimSelector: null } }))).dkim.detail, /no DKIM key/);
    assert.match(byId(runGuardrails(base({ domain: { domain: 'x.example', verified: false, dkimSelector: 's1' } }))).dkim.detail, /s1\._domainkey\.x\.example/);
  });
});
