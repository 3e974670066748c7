// Template rendering: LiquidJS in strict mode over in-memory sources only,
// optional MJML, an HTML sanitiser (no scripts, forms, frames or event
// handlers), and an automatically generated plain-text part.
//
// Order: Liquid (HTML-escaped output) → MJML (when the template is MJML) →
// sanitise → text part. Sanitising the final HTML means neither the author nor
// a contact's attribute values can put a script or a form in a message.
import { convert } from 'html-to-text';
import { Liquid } from 'liquidjs';
import mjml2html from 'mjml';
import sanitizeHtml from 'sanitize-html';
import { MASKING_MATRIX, type Role } from '../contacts/masking.ts';

export type TemplateFormat = 'html' | 'mjml';

export type TemplateSource = {
  subject: string;
  /** HTML or MJML source, per `format`. */
  body: string;
  format: TemplateFormat;
  /** Optional hand-written text part; generated from the HTML when absent. */
  text?: string | null;
};

export type Rendered = { subject: string; html: string; text: string; warnings: string[] };

export class TemplateError extends Error {
  constructor(
    readonly part: 'subject' | 'body' | 'text',
    message: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(message);
  }
}

const common = {
  strictVariables: true,
  strictFilters: true,
  // `{{ x | default: 'friend' }}` and `{% if x %}` work when an optional field is missing.
  lenientIf: true,
  ownPropertyOnly: true,
  // No file system: include/render/layout resolve against this empty map and fail.
  templates: {},
  dynamicPartials: false,
  parseLimit: 200_000,
  renderLimit: 2_000,
  memoryLimit: 50_000_000,
} as const;

/** HTML parts: every output is HTML-escaped unless the author writes `| raw`. */
export const htmlEngine = new Liquid({ ...common, outputEscape: 'escape' });
/** Subject and text parts: no escaping. */
export const textEngine = new Liquid({ ...common });

// ---------------------------------------------------------------------------
// Variables

/** Contact fields a template may use, and the masking class that governs each. */
const CONTACT_FIELDS = {
  email: 'email',
  first_name: 'firstName',
  last_name: 'lastName',
  phone: 'phone',
  notes: 'notes',
} as const;
/** Plain contact columns (not PII under the masking matrix). */
const CONTACT_PLAIN = ['job_title', 'country', 'time_zone'] as const;

export type AttributeDefLike = { key: string; sensitive: boolean };

/** Fields whose use in a template makes it "sensitive" (needs an approver). */
export function isSensitivePath(path: string, defs: readonly AttributeDefLike[]): boolean {
  if (path === 'contact.phone' || path === 'contact.notes') return true;
  const m = /^contact\.attributes\.(.+)$/.exec(path);
  if (m) {
    const def = defs.find((d) => d.key === m[1]);
    return !def || def.sensitive; // unknown = sensitive (fail closed)
  }
  return false;
}

/**
 * The variables a sender with this role may use: contact fields the role sees
 * in clear for contacts it does not own (a campaign goes to everyone), plain
 * attributes, sensitive attributes when the role may see them, company,
 * campaign, workspace and the unsubscribe/preference URLs.
 */
export function allowedVariables(role: Role, permissions: readonly string[], defs: readonly AttributeDefLike[]): string[] {
  const rules = MASKING_MATRIX[role];
  const unmask = permissions.includes('contacts:unmask');
  const visible = (rule: string) => rule === 'full' || ((rule === 'unmask' || rule === 'owner') && unmask);
  const out: string[] = [];
  for (const [name, field] of Object.entries(CONTACT_FIELDS)) if (visible(rules[field])) out.push(`contact.${name}`);
  for (const name of CONTACT_PLAIN) out.push(`contact.${name}`);
  for (const d of defs) if (visible(rules[d.sensitive ? 'sensitiveAttribute' : 'plainAttribute'])) out.push(`contact.attributes.${d.key}`);
  out.push(
    'company.name',
    'company.domain',
    'campaign.name',
    'campaign.subject',
    'workspace.name',
    'workspace.postal_address',
    'unsubscribe_url',
    'preferences_url',
  );
  return out;
}

export type ContactForTemplate = {
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  notes: string | null;
  jobTitle: string | null;
  country: string | null;
  timeZone: string | null;
  attributes: Record<string, unknown>;
};

export type ContextInput = {
  contact: ContactForTemplate;
  company?: { name: string | null; domain: string | null; attributes?: Record<string, unknown> } | null;
  campaign?: { name: string; subject?: string | null } | null;
  workspace: { name: string; postalAddress: string | null };
  unsubscribeUrl: string;
  preferencesUrl: string;
};

/**
 * The render context, holding ONLY the allowed variables: anything else is
 * undefined and strict mode turns its use into an error. Allowed fields that
 * are empty are present as null, so `default` covers them.
 */
export function buildContext(input: ContextInput, allowed: readonly string[]): Record<string, unknown> {
  const allow = new Set(allowed);
  const c = input.contact;
  const contact: Record<string, unknown> = {};
  const values: Record<string, unknown> = {
    email: c.email,
    first_name: c.firstName,
    last_name: c.lastName,
    phone: c.phone,
    notes: c.notes,
    job_title: c.jobTitle,
    country: c.country,
    time_zone: c.timeZone,
  };
  for (const [k, v] of Object.entries(values)) if (allow.has(`contact.${k}`)) contact[k] = v ?? null;
  const attributes: Record<string, unknown> = {};
  for (const path of allowed) {
    const m = /^contact\.attributes\.(.+)$/.exec(path);
    if (m) attributes[m[1]] = c.attributes[m[1]] ?? null;
  }
  contact.attributes = attributes;
  const companyAttributes: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input.company?.attributes ?? {}))
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) companyAttributes[k] = v;
  return {
    contact,
    company: { name: input.company?.name ?? null, domain: input.company?.domain ?? null, attributes: companyAttributes },
    campaign: { name: input.campaign?.name ?? null, subject: input.campaign?.subject ?? null },
    workspace: { name: input.workspace.name, postal_address: input.workspace.postalAddress },
    unsubscribe_url: input.unsubscribeUrl,
    preferences_url: input.preferencesUrl,
  };
}

/** A sample contact for previews without a real one. */
export const sampleContact: ContactForTemplate = {
  email: 'ada.lovelace@example.com',
  firstName: 'Ada',
  lastName: 'Lovelace',
  phone: '+447700900123',
  notes: null,
  jobTitle: 'Analyst',
  country: 'GB',
  timeZone: 'Europe/London',
  attributes: {},
};

// ---------------------------------------------------------------------------
// Static analysis

export type TemplateAnalysis = {
  /** Every global variable path the template reads (`contact.first_name`, …). */
  variables: string[];
  /** Paths not available to this sender (would fail at render). */
  unknown: string[];
  /** Sensitive fields read (phone, notes, sensitive attributes): needs an approver. */
  sensitive: string[];
  /** Forbidden markup found in the source (removed by the sanitiser). */
  forbiddenMarkup: string[];
};

function segmentsToPath(segments: unknown[]): { path: string; dynamic: boolean } {
  const parts: string[] = [];
  let dynamic = false;
  for (const s of segments) {
    if (typeof s === 'string' || typeof s === 'number') parts.push(String(s));
    else {
      dynamic = true;
      parts.push('*');
      break;
    }
  }
  return { path: parts.join('.'), dynamic };
}

function parseOrThrow(engine: Liquid, part: TemplateError['part'], source: string) {
  try {
    return engine.parse(source);
  } catch (err) {
    throw liquidError(part, err);
  }
}

function liquidError(part: TemplateError['part'], err: unknown): TemplateError {
  const e = err as { message?: string; token?: { getPosition?: () => [number, number] } };
  const pos = e.token?.getPosition?.();
  return new TemplateError(part, `${part}: ${(e.message ?? String(err)).split('\n')[0]}`, pos?.[0], pos?.[1]);
}

/** What a template reads, what it may not read, and what is sensitive. Throws TemplateError on syntax errors. */
export function analyseTemplate(t: TemplateSource, allowed: readonly string[], defs: readonly AttributeDefLike[]): TemplateAnalysis {
  const allow = new Set(allowed);
  const variables = new Set<string>();
  const unknown = new Set<string>();
  const sensitive = new Set<string>();
  const parts: [TemplateError['part'], string | null | undefined][] = [
    ['subject', t.subject],
    ['body', t.body],
    ['text', t.text],
  ];
  for (const [part, source] of parts) {
    if (!source) continue;
    const parsed = parseOrThrow(part === 'body' ? htmlEngine : textEngine, part, source);
    for (const segs of htmlEngine.globalVariableSegmentsSync(parsed)) {
      const { path, dynamic } = segmentsToPath(segs as unknown[]);
      variables.add(path);
      // Dynamic access into the contact (contact[some_var]) could read anything: treat as sensitive.
      if (dynamic && path.startsWith('contact')) sensitive.add(path);
      if (isSensitivePath(path, defs)) sensitive.add(path);
      // A path is known when it is allowed, or is a prefix of / below an allowed object.
      const known = allow.has(path) || allowed.some((a) => a.startsWith(`${path}.`) || path.startsWith(`${a}.`));
      if (!known && !dynamic) unknown.add(path);
    }
  }
  return { variables: [...variables].sort(), unknown: [...unknown].sort(), sensitive: [...sensitive].sort(), forbiddenMarkup: forbiddenMarkup(t.body) };
}

// ---------------------------------------------------------------------------
// Sanitiser

const FORBIDDEN = ['script', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'link', 'meta http-equiv', 'svg', 'math'];

/** Forbidden markup present in authored source (reported as warnings; the sanitiser removes it). */
export function forbiddenMarkup(source: string): string[] {
  const found = new Set<string>();
  for (const m of source.matchAll(/<\s*([a-zA-Z][a-zA-Z0-9-]*)/g)) {
    const tag = m[1].toLowerCase();
    if (FORBIDDEN.includes(tag)) found.add(`<${tag}>`);
  }
  if (/\son[a-z]+\s*=/i.test(source)) found.add('event handler attribute (on…=)');
  if (/javascript\s*:/i.test(source)) found.add('javascript: URL');
  if (/<\s*meta[^>]+http-equiv/i.test(source)) found.add('<meta http-equiv>');
  return [...found].sort();
}

const EMAIL_TAGS = [
  'html', 'head', 'body', 'title', 'style', 'meta',
  'table', 'thead', 'tbody', 'tfoot', 'tr', 'td', 'th', 'caption', 'colgroup', 'col', 'center',
  'div', 'span', 'p', 'br', 'hr', 'a', 'img', 'font', 'b', 'strong', 'i', 'em', 'u', 's', 'small', 'sup', 'sub',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'li', 'blockquote', 'pre', 'code',
];
const CELL_ATTRS = ['align', 'valign', 'width', 'height', 'bgcolor', 'colspan', 'rowspan', 'border', 'cellpadding', 'cellspacing', 'role'];

const sanitizeOptions: sanitizeHtml.IOptions = {
  allowedTags: EMAIL_TAGS,
  allowedAttributes: {
    '*': ['style', 'class', 'id', 'dir', 'lang', 'title', 'align', 'width', 'height', 'bgcolor', 'role', 'aria-hidden', 'aria-label'],
    a: ['href', 'name', 'target', 'rel'],
    img: ['src', 'alt', 'width', 'height', 'border'],
    meta: ['name', 'content', 'charset'],
    table: CELL_ATTRS,
    td: CELL_ATTRS,
    th: CELL_ATTRS,
    tr: CELL_ATTRS,
    font: ['color', 'face', 'size'],
    html: ['xmlns', 'xmlns:v', 'xmlns:o', 'lang', 'dir'],
    style: ['type', 'media'],
  },
  allowedSchemes: ['http', 'https', 'mailto', 'tel'],
  allowedSchemesByTag: { img: ['http', 'https', 'cid', 'data'] },
  allowProtocolRelative: false,
  // <style> is needed for responsive email (MJML emits media queries); its
  // content is CSS text, never executed as script.
  allowVulnerableTags: true,
  disallowedTagsMode: 'discard',
  nonTextTags: ['script', 'textarea', 'option', 'noscript', 'title', 'iframe', 'object', 'svg', 'math'],
};

export function sanitiseHtml(html: string): string {
  const doctype = /^\s*<!doctype[^>]*>/i.exec(html)?.[0];
  const clean = sanitizeHtml(html, sanitizeOptions);
  return doctype ? `<!doctype html>\n${clean}` : clean;
}

export function htmlToText(html: string): string {
  return convert(html, {
    wordwrap: 78,
    selectors: [
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
      { selector: 'img', format: 'skip' },
      { selector: 'style', format: 'skip' },
      { selector: 'title', format: 'skip' },
    ],
  }).trim();
}

// ---------------------------------------------------------------------------
// Render

/** Render a template for one recipient's context. Throws TemplateError (unknown variable or filter, bad MJML). */
export async function renderTemplate(t: TemplateSource, context: Record<string, unknown>): Promise<Rendered> {
  const warnings: string[] = [];
  const subject = (await renderPart(textEngine, 'subject', t.subject, context)).replace(/[\r\n]+/g, ' ').trim();
  let html = await renderPart(htmlEngine, 'body', t.body, context);
  if (t.format === 'mjml') {
    let out: { html: string; errors: { formattedMessage?: string; message: string; line?: number }[] };
    try {
      out = await mjml2html(html, { validationLevel: 'soft', ignoreIncludes: true, keepComments: false });
    } catch (err) {
      throw new TemplateError('body', `body: MJML: ${(err as Error).message}`);
    }
    if (out.errors.length > 0) {
      const e = out.errors[0];
      // Soft validation: structure errors are fatal, attribute warnings are reported.
      if (!out.html) throw new TemplateError('body', `body: MJML: ${e.formattedMessage ?? e.message}`, e.line);
      for (const x of out.errors) warnings.push(`MJML: ${x.formattedMessage ?? x.message}`);
    }
    html = out.html;
  }
  for (const f of forbiddenMarkup(html)) warnings.push(`removed ${f}`);
  html = sanitiseHtml(html);
  const text = t.text ? await renderPart(textEngine, 'text', t.text, context) : htmlToText(html);
  return { subject, html, text, warnings };
}

async function renderPart(engine: Liquid, part: TemplateError['part'], source: string, context: Record<string, unknown>): Promise<string> {
  const parsed = parseOrThrow(engine, part, source);
  try {
    return await engine.render(parsed, context);
  } catch (err) {
    throw liquidError(part, err);
  }
}
