// Campaign guardrails: pure checks over what a campaign would send, run at
// review and again at launch. Each result says pass / fail / needs approval
// and why, in words the console and the API show as they are.
//
//   audience      suppression and consent always applied; the excluded count and why
//   dlp           outbound data-loss scan of subject, body and attachments
//   blast_radius  > threshold recipients, attachments, or sensitive fields → a second person approves
//   compliance    unsubscribe link and postal address present (CAN-SPAM); List-Unsubscribe added
//   dkim          the sending domain is verified and has an active DKIM key in mailwarden
import { type DlpAttachment, describeFinding, type DlpFinding, scanMessage, type WorkspacePattern } from './dlp.ts';

export const DEFAULT_BLAST_RADIUS = 10_000;

export type GuardrailId = 'audience' | 'dlp' | 'blast_radius' | 'compliance' | 'dkim';
export type GuardrailStatus = 'pass' | 'fail' | 'needs_approval';

export type GuardrailResult = {
  id: GuardrailId;
  title: string;
  status: GuardrailStatus;
  /** One sentence a person can act on. */
  detail: string;
  data?: Record<string, unknown>;
};

export type AudienceCounts = {
  /** Contacts the segment's rules match, before the mandatory filters. */
  matched: number;
  /** Contacts that will receive it. */
  eligible: number;
  excluded: { suppressed: number; unsubscribed: number; pending: number; noConsent: number };
};

export type GuardrailInput = {
  campaign: {
    authorUserId: number | null;
    attachments: readonly DlpAttachment[];
  };
  /** The message as rendered for a sample recipient (what the scan and compliance checks read). */
  rendered: { subject: string; html: string; text: string };
  /** The unsubscribe URL the sample render used (to find it in the output). */
  unsubscribeUrl: string;
  template: {
    /** Sensitive fields the template reads (templates/render.ts analyseTemplate). */
    sensitiveFields: readonly string[];
    /** Who approved the template's use of sensitive fields, if anyone. */
    approvedByUserId: number | null;
    authorUserId: number | null;
  };
  audience: AudienceCounts;
  workspace: { blastRadius: number; postalAddress: string | null; dlpPatterns: readonly WorkspacePattern[] };
  domain: { domain: string; verified: boolean; dkimSelector: string | null } | null;
  /** The campaign's approval, if given. */
  approval: { userId: number } | null;
};

export function checkAudience(a: AudienceCounts): GuardrailResult {
  const x = a.excluded;
  const excluded = x.suppressed + x.unsubscribed + x.pending + x.noConsent;
  const why = [
    x.suppressed && `${x.suppressed} suppressed (unsubscribed, bounced, complained or erased)`,
    x.unsubscribed && `${x.unsubscribed} unsubscribed from marketing`,
    x.pending && `${x.pending} awaiting double opt-in`,
    x.noConsent && `${x.noConsent} without marketing consent`,
  ].filter(Boolean);
  const detail = `${a.eligible} of ${a.matched} matching contacts will receive it${excluded ? `; ${excluded} excluded: ${why.join(', ')}` : ''}.`;
  if (a.eligible === 0) return { id: 'audience', title: 'Consent and suppression', status: 'fail', detail: `No eligible recipients. ${detail}`, data: { ...a } };
  return { id: 'audience', title: 'Consent and suppression', status: 'pass', detail, data: { ...a } };
}

export function checkDlp(input: Pick<GuardrailInput, 'rendered' | 'campaign' | 'workspace'>): GuardrailResult & { findings: DlpFinding[] } {
  const findings = scanMessage({
    subject: input.rendered.subject,
    html: input.rendered.html,
    text: input.rendered.text,
    attachments: input.campaign.attachments,
    patterns: input.workspace.dlpPatterns,
  });
  const title = 'Outbound data-loss scan';
  if (findings.length === 0) return { id: 'dlp', title, status: 'pass', detail: 'No card numbers, IBANs, SSNs, secrets or workspace patterns found.', findings };
  const first = findings.slice(0, 3).map(describeFinding).join('; ');
  return {
    id: 'dlp',
    title,
    status: 'fail',
    detail: `${findings.length} sensitive value${findings.length === 1 ? '' : 's'} found — remove before launch: ${first}${findings.length > 3 ? '; …' : ''}.`,
    findings,
    data: { findings },
  };
}

export function checkBlastRadius(input: Pick<GuardrailInput, 'campaign' | 'template' | 'audience' | 'workspace' | 'approval'>): GuardrailResult {
  const title = 'Blast radius (four-eyes)';
  const reasons: string[] = [];
  if (input.audience.eligible > input.workspace.blastRadius) reasons.push(`${input.audience.eligible} recipients is more than the workspace threshold of ${input.workspace.blastRadius}`);
  if (input.campaign.attachments.length > 0) reasons.push(`it has ${input.campaign.attachments.length} attachment${input.campaign.attachments.length === 1 ? '' : 's'}`);
  if (input.template.sensitiveFields.length > 0) reasons.push(`the template uses sensitive fields (${input.template.sensitiveFields.join(', ')})`);
  const data = { reasons, threshold: input.workspace.blastRadius };
  // A template that reads sensitive fields needs its own approver, who is not its author.
  if (input.template.sensitiveFields.length > 0) {
    const t = input.template;
    if (t.approvedByUserId === null || t.approvedByUserId === t.authorUserId)
      return { id: 'blast_radius', title, status: 'fail', detail: `The template uses sensitive fields (${t.sensitiveFields.join(', ')}) and must be approved by someone other than its author first.`, data };
  }
  if (reasons.length === 0) return { id: 'blast_radius', title, status: 'pass', detail: 'Below the threshold, no attachments, no sensitive fields: one approval suffices.', data };
  const a = input.approval;
  if (a && a.userId !== input.campaign.authorUserId)
    return { id: 'blast_radius', title, status: 'pass', detail: `Approved by a second person (user #${a.userId}) because ${reasons.join('; ')}.`, data };
  return {
    id: 'blast_radius',
    title,
    status: 'needs_approval',
    detail: `Needs approval by someone other than the author because ${reasons.join('; ')}.`,
    data,
  };
}

export function checkCompliance(input: Pick<GuardrailInput, 'rendered' | 'unsubscribeUrl' | 'workspace'>): GuardrailResult {
  const title = 'Compliance (CAN-SPAM)';
  const problems: string[] = [];
  const { html, text } = input.rendered;
  const url = input.unsubscribeUrl;
  const escapedUrl = url.replace(/&/g, '&amp;');
  if (!(html.includes(url) || html.includes(escapedUrl))) problems.push('the HTML part has no unsubscribe link ({{ unsubscribe_url }})');
  if (text && !text.includes(url)) problems.push('the text part has no unsubscribe link');
  const address = input.workspace.postalAddress?.trim();
  if (!address) problems.push("the workspace's postal address is not set (Settings)");
  else if (!containsAddress(html, address)) problems.push("the workspace's postal address ({{ workspace.postal_address }}) is not in the message");
  if (problems.length > 0) return { id: 'compliance', title, status: 'fail', detail: `Fix before launch: ${problems.join('; ')}.`, data: { problems } };
  return { id: 'compliance', title, status: 'pass', detail: 'Unsubscribe link and postal address present; List-Unsubscribe and List-Unsubscribe-Post headers will be added.' };
}

/** The address appears in the HTML, allowing for escaping and line breaks between its lines. */
function containsAddress(html: string, address: string): boolean {
  const flat = (s: string) =>
    s
      .replace(/<br\s*\/?>/gi, ' ')
      .replace(/<[^>]+>/g, ' ')
      .replace(/&amp;/g, '&')
      .replace(/&#39;|&apos;/g, "'")
      .replace(/&quot;/g, '"')
      .replace(/[\s,]+/g, ' ')
      .trim()
      .toLowerCase();
  return flat(html).includes(flat(address));
}

export function checkDkim(domain: GuardrailInput['domain']): GuardrailResult {
  const title = 'Sending domain and DKIM';
  if (!domain) return { id: 'dkim', title, status: 'fail', detail: 'No sending domain chosen: pick a verified sending domain for the From address.' };
  if (!domain.dkimSelector)
    return { id: 'dkim', title, status: 'fail', detail: `${domain.domain} has no DKIM key in mailwarden: generate one under Sending domains and publish its TXT record.`, data: { domain: domain.domain } };
  if (!domain.verified)
    return { id: 'dkim', title, status: 'fail', detail: `${domain.domain} is not verified: publish the DKIM TXT record (${domain.dkimSelector}._domainkey.${domain.domain}) and verify it.`, data: { domain: domain.domain } };
  return { id: 'dkim', title, status: 'pass', detail: `${domain.domain} is verified and signs with DKIM selector ${domain.dkimSelector}.`, data: { domain: domain.domain, selector: domain.dkimSelector } };
}

export function runGuardrails(input: GuardrailInput): GuardrailResult[] {
  const { findings: _findings, ...dlp } = checkDlp(input);
  return [checkAudience(input.audience), dlp, checkBlastRadius(input), checkCompliance(input), checkDkim(input.domain)];
}

/** Launch (and scheduling) needs every guardrail to pass. */
export function launchBlockers(results: readonly GuardrailResult[]): GuardrailResult[] {
  return results.filter((r) => r.status !== 'pass');
}

/** Review can proceed past failures that an approval resolves, but not past a hard failure. */
export function reviewBlockers(results: readonly GuardrailResult[]): GuardrailResult[] {
  return results.filter((r) => r.status === 'fail');
}
