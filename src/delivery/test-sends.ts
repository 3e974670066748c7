// Test sends of a template to seed (staff) addresses, queued by
// `POST /api/templates/:id/test-send` in template_test_sends and drained here by
// the delivery engine: composed with nodemailer, DKIM-signed with the campaign's
// sending domain (or the first verified domain with an active key), sent
// through the same transport as everything else. Low volume by nature, so each
// row is claimed with SKIP LOCKED inside a short transaction held while it is
// sent: two processes never send the same test twice.
import { and, asc, eq, sql } from 'drizzle-orm';
import MailComposer from 'nodemailer/lib/mail-composer';
import { campaigns, sendingDomains } from '../campaigns/schema.ts';
import { WORKSPACE_ID } from '../contacts/vault.ts';
import { type Db, rows } from '../db/client.ts';
import { templateTestSends } from '../templates/schema.ts';
import { verpAddress } from './bounces.ts';
import { activeDkimKeys, type SendKeys } from './campaign-message.ts';
import { signRaw } from './dkim.ts';
import type { MailTransport } from './smtp.ts';

async function senderFor(db: Db, campaignId: number | null) {
  if (campaignId) {
    const [c] = await db.select().from(campaigns).where(eq(campaigns.id, campaignId));
    if (c?.sendingDomainId) return { domainId: c.sendingDomainId, localPart: c.fromLocalPart, name: c.fromName };
  }
  const [d] = await db
    .select()
    .from(sendingDomains)
    .where(and(eq(sendingDomains.workspaceId, WORKSPACE_ID), eq(sendingDomains.verified, true)))
    .orderBy(asc(sendingDomains.id))
    .limit(1);
  return d ? { domainId: d.id, localPart: 'test', name: 'mailwarden test' } : null;
}

/** Send up to `limit` pending test sends. Returns how many were handled. */
export async function runTestSends(db: Db, transport: MailTransport, keys: SendKeys, bounceDomain: string, limit = 10): Promise<number> {
  // Claimed atomically (pending → sending); a claim left behind by a killed process is retried after 10 minutes.
  await db.execute(sql`UPDATE template_test_sends SET state = 'pending' WHERE state = 'sending' AND created_at < now() - interval '10 minutes'`);
  const claimed = await rows<{ id: number; campaign_id: number | null; to_address: string; subject: string; html: string; text: string }>(
    db,
    sql`UPDATE template_test_sends t SET state = 'sending' FROM (
          SELECT id FROM template_test_sends WHERE state = 'pending' ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED) due
        WHERE t.id = due.id RETURNING t.id, t.campaign_id, t.to_address, t.subject, t.html, t.text`,
  );
  for (const row of claimed) {
    const id = Number(row.id);
    let state: 'sent' | 'failed' = 'failed';
    try {
      const sender = await senderFor(db, row.campaign_id === null ? null : Number(row.campaign_id));
      if (sender) {
        const { domain, keys: dkim } = await activeDkimKeys(db, keys.dkimKey, sender.domainId);
        const raw = await new MailComposer({
          from: { name: sender.name, address: `${sender.localPart}@${domain}` },
          to: row.to_address,
          subject: row.subject,
          html: row.html,
          text: row.text,
          messageId: `<test${id}.${Date.now().toString(36)}@${domain}>`,
          headers: { 'X-Mailwarden-Test': 'true' },
        })
          .compile()
          .build();
        const signed = dkim.length ? await signRaw(dkim, raw) : raw;
        const r = await transport.send({ envelope: { from: verpAddress(keys.verpKey, `x${id}`, '0', bounceDomain), to: [row.to_address] }, raw: signed, messageId: '' });
        state = r.status === 'accepted' ? 'sent' : 'failed';
      }
    } finally {
      // The rendered copy may carry a real contact's data (a test send "as" a contact): keep it only until sent.
      await db
        .update(templateTestSends)
        .set({ state, subject: '', html: '', text: '' })
        .where(eq(templateTestSends.id, id));
    }
  }
  return claimed.length;
}
