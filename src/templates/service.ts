// Templates: CRUD with static analysis on save, approval of sensitive-field
// use, preview with a chosen or sample contact, and test sends to seed
// addresses (written to template_test_sends; the delivery engine drains it).
import { and, desc, eq } from 'drizzle-orm';
import { type Actor, appendAudit } from '../audit/service.ts';
import type { Role } from '../auth/schema.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import type { Tx } from '../db/client.ts';
import { conflict, fieldError, forbidden, notFound } from '../http/problem.ts';
import { companies } from '../contacts/schema.ts';
import { type Contact, getContact, listAttributeDefs } from '../contacts/service.ts';
import { WORKSPACE_ID } from '../contacts/vault.ts';
import { workspaces } from '../settings/schema.ts';
import { campaignSettings } from '../campaigns/schema.ts';
import { allowedVariables, analyseTemplate, buildContext, type Rendered, renderTemplate, sampleContact, type TemplateAnalysis, TemplateError, type TemplateSource } from './render.ts';
import { templates, templateTestSends } from './schema.ts';

export type Template = typeof templates.$inferSelect;
export type Sender = { userId: number | null; role: Role; permissions: readonly string[] };

export function templateError(err: unknown): never {
  if (err instanceof TemplateError) throw fieldError(err.part, err.message + (err.line ? ` (line ${err.line}, column ${err.column})` : ''));
  throw err;
}

/** Every variable (as an owner sees them): used to find sensitive references whoever the author is. */
async function fullVariables(db: Tx) {
  const defs = await listAttributeDefs(db);
  return { defs, all: allowedVariables('owner', ['contacts:unmask'], defs) };
}

export async function analyse(db: Tx, t: TemplateSource, sender: Sender): Promise<TemplateAnalysis & { unavailable: string[] }> {
  const { defs, all } = await fullVariables(db);
  let full: TemplateAnalysis;
  try {
    full = analyseTemplate(t, all, defs);
  } catch (err) {
    templateError(err);
  }
  const mine = analyseTemplate(t, allowedVariables(sender.role, sender.permissions, defs), defs);
  // unknown: no such variable at all; unavailable: exists, but this sender's role may not use it.
  return { ...full, unavailable: mine.unknown.filter((v) => !full.unknown.includes(v)) };
}

export async function listTemplates(db: Tx): Promise<Template[]> {
  return db.select().from(templates).where(eq(templates.workspaceId, WORKSPACE_ID)).orderBy(desc(templates.updatedAt));
}

export async function getTemplate(db: Tx, id: number): Promise<Template> {
  const [t] = await db.select().from(templates).where(and(eq(templates.id, id), eq(templates.workspaceId, WORKSPACE_ID)));
  if (!t) throw notFound('Template');
  return t;
}

export type TemplateInput = { name: string; subject: string; format: 'html' | 'mjml'; body: string; text?: string | null };

export async function createTemplate(db: Tx, actor: Actor, sender: Sender, input: TemplateInput) {
  const analysis = await analyse(db, input, sender);
  const [t] = await db
    .insert(templates)
    .values({ workspaceId: WORKSPACE_ID, ...input, text: input.text ?? null, sensitiveFields: analysis.sensitive, authorUserId: sender.userId })
    .returning();
  await appendAudit(db, actor, { action: 'template.created', target: `template:${t.id}`, details: { name: t.name, sensitiveFields: analysis.sensitive } });
  return { template: t, analysis };
}

export async function updateTemplate(db: Tx, actor: Actor, sender: Sender, id: number, patch: Partial<TemplateInput>) {
  const current = await getTemplate(db, id);
  const next = { subject: current.subject, format: current.format, body: current.body, text: current.text, ...patch };
  const analysis = await analyse(db, next, sender);
  // Any edit clears a sensitive-field approval: the approver approved the old text.
  const [t] = await db
    .update(templates)
    .set({ ...patch, sensitiveFields: analysis.sensitive, approvedByUserId: null, approvedAt: null, updatedAt: new Date() })
    .where(eq(templates.id, id))
    .returning();
  await appendAudit(db, actor, { action: 'template.updated', target: `template:${id}`, details: { fields: Object.keys(patch), sensitiveFields: analysis.sensitive } });
  return { template: t, analysis };
}

export async function deleteTemplate(db: Tx, actor: Actor, id: number) {
  await getTemplate(db, id);
  await db.delete(templates).where(eq(templates.id, id));
  await appendAudit(db, actor, { action: 'template.deleted', target: `template:${id}` });
}

/** Approve a template's use of sensitive fields: someone other than its author. */
export async function approveTemplate(db: Tx, actor: Actor, approverId: number, id: number): Promise<Template> {
  const t = await getTemplate(db, id);
  if (t.sensitiveFields.length === 0) throw conflict('nothing_to_approve', 'This template uses no sensitive fields; it needs no approval.');
  if (t.authorUserId === approverId) throw forbidden('The author of a template cannot approve it (four-eyes).');
  const [out] = await db.update(templates).set({ approvedByUserId: approverId, approvedAt: new Date() }).where(eq(templates.id, id)).returning();
  await appendAudit(db, actor, { action: 'template.approved', target: `template:${id}`, details: { sensitiveFields: t.sensitiveFields } });
  return out;
}

export async function workspaceInfo(db: Tx): Promise<{ name: string; postalAddress: string | null }> {
  const [w] = await db.select({ name: workspaces.name }).from(workspaces).where(eq(workspaces.id, WORKSPACE_ID));
  const [s] = await db.select({ postalAddress: campaignSettings.postalAddress }).from(campaignSettings).where(eq(campaignSettings.workspaceId, WORKSPACE_ID));
  return { name: w?.name ?? 'Workspace', postalAddress: s?.postalAddress ?? null };
}

export type RenderFor = { contact: Contact | null; campaign?: { name: string; subject?: string | null } | null; unsubscribeUrl: string; preferencesUrl: string };

/** Render for a sender (only the variables the sender's role may use) and a contact or the sample contact. */
export async function renderFor(db: Tx, t: TemplateSource, sender: Sender, r: RenderFor): Promise<Rendered> {
  const defs = await listAttributeDefs(db);
  const c = r.contact;
  const [company] = c?.companyId ? await db.select().from(companies).where(eq(companies.id, c.companyId)) : [];
  const ctx = buildContext(
    {
      contact: c ?? sampleContact,
      company: company ? { name: company.name, domain: company.domain, attributes: company.attributes } : c ? null : { name: 'Example Ltd', domain: 'example.com' },
      campaign: r.campaign ?? { name: 'Preview' },
      workspace: await workspaceInfo(db),
      unsubscribeUrl: r.unsubscribeUrl,
      preferencesUrl: r.preferencesUrl,
    },
    allowedVariables(sender.role, sender.permissions, defs),
  );
  try {
    return await renderTemplate(t, ctx);
  } catch (err) {
    templateError(err);
  }
}

export async function previewTemplate(db: Tx, kr: Keyring, sender: Sender, publicUrl: string, t: TemplateSource, contactId?: string) {
  const contact = contactId ? await getContact(db, kr, contactId) : null;
  return renderFor(db, t, sender, { contact, unsubscribeUrl: `${publicUrl}/unsubscribe/preview`, preferencesUrl: `${publicUrl}/preferences/preview` });
}

/** Queue test sends of a rendered template to seed addresses (the delivery engine sends them later). */
export async function testSend(db: Tx, kr: Keyring, actor: Actor, sender: Sender, publicUrl: string, id: number, to: string[], contactId?: string) {
  const t = await getTemplate(db, id);
  const r = await previewTemplate(db, kr, sender, publicUrl, t, contactId);
  const rowsIn = to.map((address) => ({
    workspaceId: WORKSPACE_ID,
    templateId: id,
    toAddress: address.toLowerCase(),
    subject: `[TEST] ${r.subject}`,
    html: r.html,
    text: r.text,
    requestedBy: sender.userId,
  }));
  const out = await db.insert(templateTestSends).values(rowsIn).returning({ id: templateTestSends.id });
  await appendAudit(db, actor, { action: 'template.test_send', target: `template:${id}`, details: { recipients: to.length, withContact: Boolean(contactId) } });
  return out.map((o) => o.id);
}
