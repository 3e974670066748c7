import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { learnFromVerdicts } from './learn.ts';
import { scanMessage } from './scan.ts';
import { buildMessage } from './testing.ts';

// A legitimate internal IT notice that looks like a lure: password expiry, urgency, a login link.
const itNotice = (n: number) =>
  buildMessage({
    from: `"IT Service Desk" <servicedesk@acme-it.example>`,
    subject: `Password expiry reminder #${n}`,
    html: `<p>Your password expires within 24 hours. Click here to sign in to the portal and change your password immediately.</p><a href="https://portal.acme-it.example/reset?u=${n}">Change password</a>`,
  });

describe('learnFromVerdicts', () => {
  test('a pattern marked legitimate several times scores lower afterwards (and unrelated phishing does not)', async () => {
    const before = await scanMessage(itNotice(99));
    const adj = await learnFromVerdicts([1, 2, 3, 4, 5].map((n) => ({ raw: itNotice(n), label: 'legitimate' as const })));
    const after = await scanMessage(itNotice(99), { adjustment: adj });
    assert.ok(after.score < before.score, `${after.score} < ${before.score}`);
    assert.ok(adj.examples === 5 && Object.keys(adj.weights).length > 0);
    assert.equal(adj.bias, 0, 'feedback never shifts every message');
    const phish = buildMessage({
      from: '"PayPal" <service@paypa1-secure.example>',
      html: '<a href="http://192.0.2.9/x">https://www.paypal.com</a><form><input type="password"></form> Your account has been suspended.',
    });
    const p0 = await scanMessage(phish);
    const p1 = await scanMessage(phish, { adjustment: adj });
    assert.ok(p1.score >= p0.score - 15, `unrelated phishing stays high: ${p1.score} vs ${p0.score}`);
  });

  test('phishing verdicts raise a pattern; adjustments accumulate', async () => {
    const lure = (n: number) =>
      buildMessage({ from: `Shipping <info${n}@parcel-notice.example>`, subject: 'Delivery attempt failed', text: `We could not deliver parcel ${n}. Reschedule delivery at the parcel office.` });
    const before = await scanMessage(lure(50));
    const first = await learnFromVerdicts([1, 2, 3].map((n) => ({ raw: lure(n), label: 'phishing' as const })));
    const second = await learnFromVerdicts([4, 5].map((n) => ({ raw: lure(n), label: 'phishing' as const })), { previous: first });
    const after = await scanMessage(lure(50), { adjustment: second });
    assert.ok(after.score > before.score, `${after.score} > ${before.score}`);
    assert.equal(second.examples, 5);
  });
});
