// The campaign every send benchmark uses (bench/send, profile-worker.ts): its
// body, and the same campaign prepared in memory (no database) to build
// messages outside the engine — to measure their size for the anchor, and the
// worker's CPU per message without the database.
import { randomBytes } from 'node:crypto';
import { permissionsOf } from '../../src/auth/permissions.ts';
import type { Campaign } from '../../src/campaigns/service.ts';
import type { Contact } from '../../src/contacts/service.ts';
import { buildMessage, type CampaignMessage, type SendKeys } from '../../src/delivery/campaign-message.ts';
import { composeTemplate } from '../../src/delivery/compose.ts';
import { generateDkimKey } from '../../src/delivery/dkim.ts';
import { planRender } from '../../src/delivery/render-plan.ts';
import { allowedVariables, buildContext, sampleContact } from '../../src/templates/render.ts';

/** ~5 KB of HTML with personalisation in several places and five links. */
export function sendBenchBody(): string {
  const para = (i: number) =>
    `<p>Paragraph ${i}: our spring range is here, {{ contact.first_name | default: "friend" }}. Fabrics, fits and colours chosen with care, ` +
    `made to last and priced fairly. Free returns for 60 days and repairs for life on everything we make. <a href="https://shop.example/item/${i}?utm_source=mw">See item ${i}</a>.</p>`;
  return `<html><body><h1>Hello {{ contact.first_name | default: "there" }} {{ contact.last_name }}</h1>${Array.from({ length: 14 }, (_, i) => para(i)).join('')}<p>Sent to {{ contact.email }}. <a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ workspace.postal_address }}</p></body></html>`;
}

export const BENCH_SUBJECT = 'Spring range for {{ contact.first_name }}';

/** The bench campaign prepared in memory, as the engine's prepareCampaign would (Ed25519 key, tracking on). */
export async function benchCampaign(): Promise<{
  cm: CampaignMessage;
  keys: SendKeys;
  contact: (i: number) => Contact;
}> {
  const keys: SendKeys = {
    dkimKey: randomBytes(32),
    trackingKey: randomBytes(32),
    verpKey: randomBytes(32),
    messageIdKey: randomBytes(32),
  };
  const domain = 'acme.example';
  const allowed = allowedVariables('marketer', permissionsOf('marketer'), []);
  const workspace = { name: 'Acme', postalAddress: '1 Main St, Springfield' };
  const template = { subject: BENCH_SUBJECT, body: sendBenchBody(), format: 'html' as const, text: null };
  const sampleCtx = buildContext(
    {
      contact: sampleContact,
      company: null,
      campaign: { name: 'Spring', subject: template.subject },
      workspace,
      unsubscribeUrl: 'https://mw.example/t/u/x',
      preferencesUrl: 'https://mw.example/t/p/x',
    },
    allowed,
  );
  const plan = await planRender(template, sampleCtx, { tracking: true });
  if (plan.mode !== 'slots') throw new Error(`plan fell back to a full render: ${plan.reason}`);
  const cm: CampaignMessage = {
    campaign: { id: 1, name: 'Spring', tracking: true } as Campaign,
    domain,
    plan,
    mime: composeTemplate({
      campaignId: 1,
      from: { name: 'Acme', address: `news@${domain}` },
      subject: template.subject,
      html: plan.html,
      text: plan.text,
      messageIdDomain: domain,
      messageIdKey: keys.messageIdKey,
      headers: { 'Feedback-ID': 'c1:mailwarden', 'List-Id': `<c1.${domain}>` },
    }),
    keys: [generateDkimKey('ed25519', domain, 'mw1')],
    domainSince: new Date(),
    allowed,
    workspace,
    version: 0,
  };
  const contact = (i: number): Contact =>
    ({
      id: `0190b7b4-1111-7000-8000-${String(i).padStart(12, '0')}`,
      email: `p${i}@bench${i % 50}.example`,
      firstName: `First${i}`,
      lastName: `Last${i}`,
      phone: null,
      notes: null,
      attributes: {},
      jobTitle: null,
      country: null,
      timeZone: null,
    }) as unknown as Contact;
  return { cm, keys, contact };
}

/** Bytes on the wire of one of the bench's messages (for the anchor's message size). */
export async function benchMessageBytes(): Promise<number> {
  const { cm, keys, contact } = await benchCampaign();
  const m = await buildMessage(
    cm,
    keys,
    { contact: contact(12_345), company: null },
    { publicUrl: 'https://mw.example', bounceDomain: 'bounce.mw.example' },
  );
  return m.raw.length;
}
