// Campaign lifecycle and guardrails.
//   draft → in_review → approved → scheduled → sending → paused → completed | cancelled
// Every transition is audited. Guardrails run at review and again at launch;
// launch freezes the recipients into the ledger with one INSERT … SELECT.
import { generateKeyPairSync } from 'node:crypto';
import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import { type Actor, appendAudit } from '../audit/service.ts';
import { sealWithKey } from '../crypto/aead.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import type { Tx } from '../db/client.ts';
import { rows } from '../db/client.ts';
import { txtRecord } from '../delivery/dkim.ts';
import { cancelPending } from '../delivery/ledger.ts';
import { conflict, fieldError, forbidden, notFound, Problem } from '../http/problem.ts';
import { contacts } from '../contacts/schema.ts';
import { decodeContact } from '../contacts/service.ts';
import { WORKSPACE_ID } from '../contacts/vault.ts';
import { ledgerInsert, sampleIdsQuery } from '../segments/compile.ts';
import { compileContext, compiled, countSegment, getSegment } from '../segments/service.ts';
import { getTemplate, renderFor, type Sender } from '../templates/service.ts';
import { compileWorkspacePattern, PatternError, type WorkspacePattern } from './dlp.ts';
import { DEFAULT_BLAST_RADIUS, type GuardrailResult, launchBlockers, reviewBlockers, runGuardrails } from './guardrails.ts';
import { type CampaignSchedule, type CampaignState, campaignAttachments, campaignSettings, campaigns, dkimKeys, sendingDomains } from './schema.ts';

export type Campaign = typeof campaigns.$inferSelect;

// ---------------------------------------------------------------------------
// Settings

export async function getSettings(db: Tx) {
  const [s] = await db.select().from(campaignSettings).where(eq(campaignSettings.workspaceId, WORKSPACE_ID));
  return { postalAddress: s?.postalAddress ?? null, blastRadius: s?.blastRadius ?? DEFAULT_BLAST_RADIUS, dlpPatterns: s?.dlpPatterns ?? [] };
}

export async function updateSettings(db: Tx, actor: Actor, patch: { postalAddress?: string | null; blastRadius?: number; dlpPatterns?: WorkspacePattern[] }) {
  for (const [i, p] of (patch.dlpPatterns ?? []).entries()) {
    try {
      compileWorkspacePattern(p);
    } catch (err) {
      if (err instanceof PatternError) throw fieldError(`dlpPatterns.${i}.pattern`, err.message);
      throw err;
    }
  }
  const next = { ...(await getSettings(db)), ...patch };
  await db
    .insert(campaignSettings)
    .values({ workspaceId: WORKSPACE_ID, ...next })
    .onConflictDoUpdate({ target: campaignSettings.workspaceId, set: { ...next, updatedAt: new Date() } });
  await appendAudit(db, actor, { action: 'campaign_settings.updated', details: { fields: Object.keys(patch) } });
  return next;
}

// ---------------------------------------------------------------------------
// Sending domains and DKIM

export async function listDomains(db: Tx) {
  const ds = await db.select().from(sendingDomains).where(eq(sendingDomains.workspaceId, WORKSPACE_ID)).orderBy(asc(sendingDomains.domain));
  const keys = ds.length ? await db.select().from(dkimKeys).where(inArray(dkimKeys.domainId, ds.map((d) => d.id))) : [];
  return ds.map((d) => ({
    ...d,
    dkim: keys
      .filter((k) => k.domainId === d.id)
      .map((k) => ({ id: k.id, selector: k.selector, algorithm: k.algorithm, state: k.state, dnsName: `${k.selector}._domainkey.${d.domain}`, txt: k.txt, createdAt: k.createdAt })),
  }));
}

export async function addDomain(db: Tx, actor: Actor, domain: string) {
  const [d] = await db.insert(sendingDomains).values({ workspaceId: WORKSPACE_ID, domain: domain.toLowerCase() }).onConflictDoNothing().returning();
  if (!d) throw conflict('domain_exists', 'This sending domain already exists.');
  await appendAudit(db, actor, { action: 'sending_domain.created', target: d.domain });
  return d;
}

/**
 * Generate a DKIM key (RSA-2048 or Ed25519) with node:crypto. The private key
 * is sealed with `dkimKey` = deriveKey(masterKey, 'dkim-keys'); only the
 * TXT record leaves the server. The domain's older active key of the same
 * algorithm is retired; one RSA and one Ed25519 key stay active together, so
 * messages carry both signatures (RFC 8463 recommends dual signing while
 * receivers adopt Ed25519).
 */
export async function generateDkim(db: Tx, dkimKey: Buffer, actor: Actor, domainId: number, algorithm: 'rsa' | 'ed25519', selector?: string) {
  const [d] = await db.select().from(sendingDomains).where(and(eq(sendingDomains.id, domainId), eq(sendingDomains.workspaceId, WORKSPACE_ID)));
  if (!d) throw notFound('Sending domain');
  const sel = selector ?? `mw${new Date().toISOString().slice(0, 10).replace(/-/g, '')}${algorithm === 'ed25519' ? 'e' : 'r'}`;
  const { privateKey, publicKey } = algorithm === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  const sealed = sealWithKey(dkimKey, pem, `dkim:${d.domain}:${sel}`);
  const txt = txtRecord(publicKey);
  return db.transaction(async (tx) => {
    const alg = algorithm === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256';
    await tx.update(dkimKeys).set({ state: 'retired' }).where(and(eq(dkimKeys.domainId, d.id), eq(dkimKeys.state, 'active'), eq(dkimKeys.algorithm, alg)));
    const [k] = await tx
      .insert(dkimKeys)
      .values({ domainId: d.id, selector: sel, algorithm: algorithm === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256', txt, privateKeyEnc: sealed })
      .onConflictDoNothing()
      .returning();
    if (!k) throw conflict('selector_exists', `Selector ${sel} already exists for ${d.domain}.`);
    // A new key needs its record published (and verified) again.
    await tx.update(sendingDomains).set({ verified: false, verifiedAt: null }).where(eq(sendingDomains.id, d.id));
    await appendAudit(tx, actor, { action: 'dkim_key.generated', target: d.domain, details: { selector: sel, algorithm: k.algorithm } });
    return { id: k.id, selector: sel, algorithm: k.algorithm, dnsName: `${sel}._domainkey.${d.domain}`, txt };
  });
}

export type TxtResolver = (name: string) => Promise<string[][]>;

/** Verify a domain: its active DKIM key's TXT record must be published (or an admin confirms it, `force`). */
export async function verifyDomain(db: Tx, actor: Actor, domainId: number, resolve: TxtResolver, force: boolean) {
  const [d] = (await listDomains(db)).filter((x) => x.id === domainId);
  if (!d) throw notFound('Sending domain');
  const active = d.dkim.filter((k) => k.state === 'active');
  if (active.length === 0) throw conflict('no_dkim_key', 'Generate a DKIM key first.');
  if (!force) {
    // Every active key signs, so every active key's record must be published.
    const norm = (s: string) => s.replace(/\s+/g, '');
    for (const k of active) {
      let records: string[][] = [];
      try {
        records = await resolve(k.dnsName);
      } catch {
        records = [];
      }
      if (!records.some((r) => norm(r.join('')) === norm(k.txt)))
        throw new Problem(422, 'dkim_not_published', `The TXT record at ${k.dnsName} does not match. Publish: ${k.txt}`, { dnsName: k.dnsName, txt: k.txt });
    }
  }
  await db.update(sendingDomains).set({ verified: true, verifiedAt: new Date() }).where(eq(sendingDomains.id, domainId));
  await appendAudit(db, actor, { action: 'sending_domain.verified', target: d.domain, details: { selectors: active.map((k) => k.selector), manual: force } });
}

// ---------------------------------------------------------------------------
// Campaigns

export async function listCampaigns(db: Tx, state?: CampaignState) {
  const where = state ? and(eq(campaigns.workspaceId, WORKSPACE_ID), eq(campaigns.state, state)) : eq(campaigns.workspaceId, WORKSPACE_ID);
  return db.select().from(campaigns).where(where).orderBy(desc(campaigns.updatedAt));
}

export async function getCampaign(db: Tx, id: number): Promise<Campaign> {
  const [c] = await db.select().from(campaigns).where(and(eq(campaigns.id, id), eq(campaigns.workspaceId, WORKSPACE_ID)));
  if (!c) throw notFound('Campaign');
  return c;
}

export type CampaignInput = {
  name: string;
  templateId?: number | null;
  segmentId?: number | null;
  sendingDomainId?: number | null;
  fromName?: string;
  fromLocalPart?: string;
  replyTo?: string | null;
  tracking?: boolean;
  schedule?: CampaignSchedule;
};

export async function createCampaign(db: Tx, actor: Actor, authorId: number | null, input: CampaignInput) {
  const [c] = await db
    .insert(campaigns)
    .values({ workspaceId: WORKSPACE_ID, ...input, authorUserId: authorId })
    .returning();
  await appendAudit(db, actor, { action: 'campaign.created', target: `campaign:${c.id}`, details: { name: c.name } });
  return c;
}

/** Only drafts can be edited: anything later is refused (a sending campaign never changes under the engine). */
export async function updateCampaign(db: Tx, actor: Actor, id: number, patch: Partial<CampaignInput>) {
  const c = await getCampaign(db, id);
  if (c.state !== 'draft') throw conflict('campaign_locked', `A campaign in state "${c.state}" cannot be edited${c.state === 'in_review' ? ': withdraw it to draft first' : ''}.`);
  const [out] = await db
    .update(campaigns)
    .set({ ...patch, updatedAt: new Date() })
    .where(eq(campaigns.id, id))
    .returning();
  await appendAudit(db, actor, { action: 'campaign.updated', target: `campaign:${id}`, details: { fields: Object.keys(patch) } });
  return out;
}

export async function addAttachment(db: Tx, actor: Actor, id: number, a: { filename: string; contentType: string; content: Buffer }) {
  const c = await getCampaign(db, id);
  if (c.state !== 'draft') throw conflict('campaign_locked', 'Attachments can only be added to a draft.');
  const [row] = await db.insert(campaignAttachments).values({ campaignId: id, ...a }).returning({ id: campaignAttachments.id });
  await appendAudit(db, actor, { action: 'campaign.attachment_added', target: `campaign:${id}`, details: { filename: a.filename, size: a.content.length } });
  return row.id;
}

/** Evaluate every guardrail for the campaign as it is now. */
export async function evaluateGuardrails(db: Tx, kr: Keyring, publicUrl: string, sender: Sender, c: Campaign): Promise<GuardrailResult[]> {
  if (!c.templateId) throw fieldError('templateId', 'choose a template');
  if (!c.segmentId) throw fieldError('segmentId', 'choose a segment');
  const [template, segment, settings, domains] = await Promise.all([getTemplate(db, c.templateId), getSegment(db, c.segmentId), getSettings(db), listDomains(db)]);
  const audience = await countSegment(db, kr, segment.rule);
  // Render for a real eligible member when there is one (the scan then sees real substitutions), else the sample contact.
  const ctx = await compileContext(db, kr);
  const [first] = await rows<{ id: string }>(db, compiled(() => sampleIdsQuery(segment.rule, ctx, 1)));
  const [row] = first ? await db.select().from(contacts).where(eq(contacts.id, first.id)) : [];
  const unsubscribeUrl = `${publicUrl}/unsubscribe/preview-${c.id}`;
  const rendered = await renderFor(db, template, sender, {
    contact: row ? decodeContact(kr, row) : null,
    campaign: { name: c.name, subject: template.subject },
    unsubscribeUrl,
    preferencesUrl: `${publicUrl}/preferences/preview-${c.id}`,
  });
  const attachments = await db.select().from(campaignAttachments).where(eq(campaignAttachments.campaignId, c.id));
  const domain = domains.find((d) => d.id === c.sendingDomainId);
  const activeKey = domain?.dkim.find((k) => k.state === 'active');
  return runGuardrails({
    campaign: { authorUserId: c.authorUserId, attachments: attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: Buffer.from(a.content) })) },
    rendered,
    unsubscribeUrl,
    template: { sensitiveFields: template.sensitiveFields, approvedByUserId: template.approvedByUserId, authorUserId: template.authorUserId },
    audience,
    workspace: settings,
    domain: domain ? { domain: domain.domain, verified: domain.verified, dkimSelector: activeKey?.selector ?? null } : null,
    approval: c.approvedByUserId ? { userId: c.approvedByUserId } : null,
  });
}

const TRANSITIONS: Record<string, { from: CampaignState[]; to: CampaignState }> = {
  submit: { from: ['draft'], to: 'in_review' },
  withdraw: { from: ['in_review', 'approved'], to: 'draft' },
  approve: { from: ['in_review'], to: 'approved' },
  reject: { from: ['in_review'], to: 'draft' },
  pause: { from: ['scheduled', 'sending'], to: 'paused' },
  resume: { from: ['paused'], to: 'sending' },
  complete: { from: ['sending'], to: 'completed' },
  cancel: { from: ['draft', 'in_review', 'approved', 'scheduled', 'sending', 'paused'], to: 'cancelled' },
};
export type Transition = keyof typeof TRANSITIONS | 'launch';

function guardrailProblem(results: GuardrailResult[], blockers: GuardrailResult[], what: string) {
  return new Problem(422, 'guardrails_failed', `${what}: ${blockers.map((b) => `${b.title} — ${b.detail}`).join(' ')}`, { guardrails: results });
}

async function setState(db: Tx, actor: Actor, c: Campaign, transition: string, to: CampaignState, extra: Partial<Campaign> = {}, details: Record<string, unknown> = {}) {
  // Compare-and-set on the state: two concurrent transitions cannot both win.
  const [out] = await db
    .update(campaigns)
    .set({ ...extra, state: to, updatedAt: new Date() })
    .where(and(eq(campaigns.id, c.id), eq(campaigns.state, c.state)))
    .returning();
  if (!out) throw conflict('state_changed', 'The campaign changed meanwhile; reload it.');
  await appendAudit(db, actor, { action: `campaign.${transition}`, target: `campaign:${c.id}`, details: { from: c.state, to, ...details } });
  return out;
}

export async function transition(db: Tx, kr: Keyring, publicUrl: string, actor: Actor, sender: Sender, id: number, t: Transition): Promise<{ campaign: Campaign; guardrails?: GuardrailResult[] }> {
  const c = await getCampaign(db, id);
  if (t === 'launch') return launch(db, kr, publicUrl, actor, sender, c);
  const rule = TRANSITIONS[t];
  if (!rule.from.includes(c.state)) throw conflict('invalid_transition', `Cannot ${t} a campaign in state "${c.state}".`);
  if (t === 'submit') {
    const results = await evaluateGuardrails(db, kr, publicUrl, sender, c);
    const blockers = reviewBlockers(results);
    if (blockers.length > 0) {
      await db.update(campaigns).set({ guardrails: results }).where(eq(campaigns.id, c.id));
      throw guardrailProblem(results, blockers, 'Cannot submit for review');
    }
    return { campaign: await setState(db, actor, c, t, rule.to, { guardrails: results, approvedByUserId: null, approvedAt: null }), guardrails: results };
  }
  if (t === 'approve') {
    const approver = sender.userId;
    // Four-eyes: with a needs_approval guardrail the approver must not be the author.
    const results = await evaluateGuardrails(db, kr, publicUrl, sender, { ...c, approvedByUserId: approver });
    const blockers = reviewBlockers(results);
    if (blockers.length > 0) throw guardrailProblem(results, blockers, 'Cannot approve');
    const blast = results.find((r) => r.id === 'blast_radius');
    if (approver === c.authorUserId && blast && blast.status !== 'pass') throw forbidden(`Four-eyes: ${blast.detail}`);
    return { campaign: await setState(db, actor, c, t, rule.to, { guardrails: results, approvedByUserId: approver, approvedAt: new Date() }), guardrails: results };
  }
  const extra: Partial<Campaign> = t === 'withdraw' || t === 'reject' ? { approvedByUserId: null, approvedAt: null } : {};
  if (t === 'cancel') {
    // Rows not yet handed to a relay are cancelled at once; batches in flight stop within a state poll (engine.ts).
    const campaign = await setState(db, actor, c, t, rule.to, extra);
    await cancelPending(db, c.id);
    return { campaign };
  }
  if (t === 'resume') return { campaign: await setState(db, actor, c, t, c.schedule.mode === 'now' ? 'sending' : 'scheduled', extra) };
  return { campaign: await setState(db, actor, c, t, rule.to, extra) };
}

/**
 * Launch: guardrails again (with the approval), then freeze the recipients
 * into the ledger with one INSERT … SELECT from the compiled segment, in the
 * same transaction as the state change.
 */
async function launch(db: Tx, kr: Keyring, publicUrl: string, actor: Actor, sender: Sender, c: Campaign) {
  if (c.state !== 'approved') throw conflict('invalid_transition', `Cannot launch a campaign in state "${c.state}": it must be approved.`);
  const results = await evaluateGuardrails(db, kr, publicUrl, sender, c);
  const blockers = launchBlockers(results);
  if (blockers.length > 0) {
    await db.update(campaigns).set({ guardrails: results }).where(eq(campaigns.id, c.id));
    throw guardrailProblem(results, blockers, 'Launch blocked');
  }
  const segment = await getSegment(db, c.segmentId!);
  // With the rule: email-domain conditions are decided exactly (decrypt-and-check, segments/domains.ts).
  const ctx = await compileContext(db, kr, segment.rule);
  const s = c.schedule;
  const sendAt = s.mode === 'now' ? { mode: 'now' as const } : s.mode === 'at' ? { mode: 'at' as const, at: s.at } : s;
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT 1 FROM campaigns WHERE id = ${c.id} FOR UPDATE`);
    const res = (await tx.execute(compiled(() => ledgerInsert(segment.rule, ctx, c.id, sendAt)))) as unknown as { rowCount?: number; affectedRows?: number };
    const recipients = Number(res.rowCount ?? res.affectedRows ?? 0);
    const to: CampaignState = s.mode === 'now' ? 'sending' : 'scheduled';
    const campaign = await setState(tx, actor, c, 'launch', to, { guardrails: results, launchedAt: new Date(), recipientCount: recipients }, { recipients, schedule: s.mode });
    return { campaign, guardrails: results };
  });
}
