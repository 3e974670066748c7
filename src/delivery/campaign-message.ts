// Everything a worker needs to turn ledger rows of one campaign into signed
// MIME: prepared once per campaign (template plan, composed MIME skeleton, DKIM
// keys, sender identity) and cached by the engine; `buildMessage` then does the
// per-recipient work only (decrypt, evaluate slots, splice, sign).
import { eq, inArray } from 'drizzle-orm';
import { users } from '../auth/schema.ts';
import { permissionsOf } from '../auth/permissions.ts';
import type { Campaign } from '../campaigns/service.ts';
import { campaignAttachments, campaigns, dkimKeys, sendingDomains } from '../campaigns/schema.ts';
import { companies, contacts } from '../contacts/schema.ts';
import { type Contact, decodeContact, listAttributeDefs } from '../contacts/service.ts';
import { openWithKey } from '../crypto/aead.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import type { Db } from '../db/client.ts';
import { allowedVariables, buildContext, sampleContact } from '../templates/render.ts';
import { templates } from '../templates/schema.ts';
import { workspaceInfo } from '../templates/service.ts';
import { verpAddress } from './bounces.ts';
import { composeTemplate, type MessageTemplate, personalise } from './compose.ts';
import { type DkimKey, signMessage } from './dkim.ts';
import { personaliseRender, planRender, type RenderPlan } from './render-plan.ts';
import { trackingUrls } from './tokens.ts';

export type SendKeys = {
  /** deriveKey(master, 'dkim-keys'): opens the stored DKIM private keys. */
  dkimKey: Buffer;
  /** deriveKey(master, 'tracking-tokens'). */
  trackingKey: Buffer;
  /** deriveKey(master, 'verp'). */
  verpKey: Buffer;
  /** deriveKey(master, 'message-ids'). */
  messageIdKey: Buffer;
};

export type CampaignMessage = {
  campaign: Campaign;
  domain: string;
  plan: RenderPlan;
  mime: MessageTemplate;
  keys: DkimKey[];
  /** When the sending domain was verified: day 0 of its warm-up schedule. */
  domainSince: Date;
  allowed: string[];
  workspace: { name: string; postalAddress: string | null };
  /** The campaign row's updated_at when prepared (a change invalidates the cache). */
  version: number;
};

export class CampaignNotSendable extends Error {}

/** Active DKIM keys of a sending domain, opened (an Ed25519 and an RSA key together give dual signatures). */
export async function activeDkimKeys(
  db: Db,
  dkimKey: Buffer,
  domainId: number,
): Promise<{ domain: string; keys: DkimKey[]; verifiedAt: Date }> {
  const [d] = await db.select().from(sendingDomains).where(eq(sendingDomains.id, domainId));
  if (!d) throw new CampaignNotSendable('the sending domain no longer exists');
  const ks = await db.select().from(dkimKeys).where(eq(dkimKeys.domainId, domainId));
  const keys = ks
    .filter((k) => k.state === 'active')
    .map((k) => ({
      domain: d.domain,
      selector: k.selector,
      algorithm: k.algorithm,
      privateKey: openWithKey(
        dkimKey,
        Buffer.from(k.privateKeyEnc),
        `dkim:${d.domain}:${k.selector}`,
      ).toString(),
    }));
  return { domain: d.domain, keys, verifiedAt: d.verifiedAt ?? d.createdAt };
}

export async function prepareCampaign(
  db: Db,
  keys: SendKeys,
  campaignId: number,
  publicUrl: string,
): Promise<CampaignMessage> {
  const [campaign] = await db.select().from(campaigns).where(eq(campaigns.id, campaignId));
  if (!campaign?.templateId || !campaign.sendingDomainId)
    throw new CampaignNotSendable('the campaign has no template or sending domain');
  const [template] = await db.select().from(templates).where(eq(templates.id, campaign.templateId));
  if (!template) throw new CampaignNotSendable('the template no longer exists');
  const attachments = await db
    .select({ id: campaignAttachments.id })
    .from(campaignAttachments)
    .where(eq(campaignAttachments.campaignId, campaignId));
  // Attachments make every message multipart/mixed; compose.ts builds alternative bodies only, so they are refused here rather than dropped.
  if (attachments.length > 0)
    throw new CampaignNotSendable('campaign attachments are not supported by the sending engine yet');
  const { domain, keys: dkim, verifiedAt } = await activeDkimKeys(db, keys.dkimKey, campaign.sendingDomainId);
  const [author] = campaign.authorUserId
    ? await db.select({ role: users.role }).from(users).where(eq(users.id, campaign.authorUserId))
    : [];
  const role = author?.role ?? 'marketer';
  const allowed = allowedVariables(role, permissionsOf(role), await listAttributeDefs(db));
  const workspace = await workspaceInfo(db);
  const sampleCtx = buildContext(
    {
      contact: sampleContact,
      company: { name: 'Example Ltd', domain: 'example.com' },
      campaign: { name: campaign.name, subject: template.subject },
      workspace,
      unsubscribeUrl: `${publicUrl}/t/u/x`,
      preferencesUrl: `${publicUrl}/t/p/x`,
    },
    allowed,
  );
  const plan = await planRender(
    { subject: template.subject, body: template.body, format: template.format, text: template.text },
    sampleCtx,
    { tracking: campaign.tracking },
  );
  const mime = composeTemplate({
    campaignId,
    from: { name: campaign.fromName || undefined, address: `${campaign.fromLocalPart}@${domain}` },
    replyTo: campaign.replyTo ? { address: campaign.replyTo } : undefined,
    subject: template.subject,
    html: plan.mode === 'slots' ? plan.html : '',
    text: plan.mode === 'slots' ? plan.text : '',
    messageIdDomain: domain,
    messageIdKey: keys.messageIdKey,
    headers: { 'Feedback-ID': `c${campaignId}:mailwarden`, 'List-Id': `<c${campaignId}.${domain}>` },
  });
  return {
    campaign,
    domain,
    plan,
    mime,
    keys: dkim,
    domainSince: verifiedAt,
    allowed,
    workspace,
    version: campaign.updatedAt.getTime(),
  };
}

export type Recipient = {
  contact: Contact;
  company: { name: string | null; domain: string | null; attributes: Record<string, unknown> } | null;
};

/** Load and decrypt the contacts of a batch, with their companies. Missing (erased) contacts are absent from the map. */
export async function loadRecipients(
  db: Db,
  kr: Keyring,
  contactIds: string[],
): Promise<Map<string, Recipient>> {
  const out = new Map<string, Recipient>();
  if (contactIds.length === 0) return out;
  const rowsIn = await db.select().from(contacts).where(inArray(contacts.id, contactIds));
  const companyIds = [...new Set(rowsIn.map((r) => r.companyId).filter((x): x is number => x !== null))];
  const cs = companyIds.length
    ? await db.select().from(companies).where(inArray(companies.id, companyIds))
    : [];
  const byId = new Map(cs.map((c) => [c.id, c]));
  for (const r of rowsIn) {
    const c = r.companyId ? byId.get(r.companyId) : undefined;
    out.set(r.id, {
      contact: decodeContact(kr, r),
      company: c
        ? { name: c.name, domain: c.domain, attributes: (c.attributes ?? {}) as Record<string, unknown> }
        : null,
    });
  }
  return out;
}

export type Built = { messageId: string; envelope: { from: string; to: string[] }; raw: Buffer };

/** One recipient's signed message. Throws on a template error (the caller fails that row). */
export async function buildMessage(
  cm: CampaignMessage,
  keys: SendKeys,
  r: Recipient,
  opts: { publicUrl: string; bounceDomain: string; now?: Date },
): Promise<Built> {
  const cid = String(cm.campaign.id);
  const urls = trackingUrls(keys.trackingKey, opts.publicUrl, cid, r.contact.id);
  const ctx = buildContext(
    {
      contact: r.contact,
      company: r.company,
      campaign: { name: cm.campaign.name, subject: null },
      workspace: cm.workspace,
      unsubscribeUrl: urls.unsubscribe,
      preferencesUrl: urls.preferences,
    },
    cm.allowed,
  );
  const p = await personaliseRender(cm.plan, ctx, cm.campaign.tracking ? urls : null);
  const name = [r.contact.firstName, r.contact.lastName].filter(Boolean).join(' ');
  const m = personalise(cm.mime, {
    contactId: r.contact.id,
    to: { name: name || undefined, address: r.contact.email },
    returnPath: verpAddress(keys.verpKey, cid, r.contact.id, opts.bounceDomain),
    unsubscribeUrl: urls.unsubscribe,
    subject: p.subject,
    ...('slots' in p ? { slots: p.slots } : { html: p.html, text: p.text }),
    date: opts.now,
  });
  const raw = await signMessage(cm.keys, m, opts.now);
  return { messageId: m.messageId, envelope: m.envelope, raw };
}
