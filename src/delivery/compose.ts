// Compose a campaign's MIME once, personalise it per recipient cheaply.
//
// `composeTemplate()` renders everything that is the same for every recipient
// (From, Subject, Reply-To, MIME structure, boundaries, and the encoded static
// runs of the text and HTML bodies) into ready-made byte chunks. What differs
// per recipient is a *slot*:
//   - headers: To, Message-ID (deterministic), Date, List-Unsubscribe(+Post);
//   - the envelope: the VERP return path (MAIL FROM; the receiving MTA turns it
//     into Return-Path — a Return-Path header is never written by a sender);
//   - body slots: personalised Liquid output (already rendered, and already
//     HTML-escaped for the HTML part, by the caller) and tracking URLs, marked in
//     the body as `[[mw:name]]` (see `parseSlots`) or given as parts.
// `personalise()` then only encodes the slot values and concatenates buffers.
//
// Quoted-printable lets static runs be encoded independently: every run that
// does not end at a line break is closed with a soft line break (`=` CRLF), so
// the next run starts at column 0 and line lengths stay ≤ 76 (RFC 2045 §6.7).
// Decoders remove soft breaks, so the decoded text is exactly the concatenation.
// With `encoding: 'base64'` a personalised part is encoded whole per recipient.
//
// If a body has no slots it is built once and shared (and so is its DKIM body
// hash, see dkim.ts).
import { createHmac } from 'node:crypto';
import { encodeWords, foldLines, quoteString } from 'nodemailer/lib/mime-funcs';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';

export type Address = { name?: string; address: string };
export type BodyPart = string | { slot: string };
export type Body = string | BodyPart[];

export type CampaignMessage = {
  campaignId: number | string;
  from: Address;
  replyTo?: Address;
  subject: string;
  /** Plain-text body (or parts with slots); at least one of text/html. */
  text?: Body;
  html?: Body;
  /** Right-hand side of Message-IDs (the sending domain). */
  messageIdDomain: string;
  /** HMAC key for the Message-ID check value (e.g. deriveKey(master, 'message-ids')). */
  messageIdKey: Buffer;
  encoding?: 'quoted-printable' | 'base64';
  /** Extra static headers, e.g. Feedback-ID, List-Id. Values are folded, never interpreted. */
  headers?: Record<string, string>;
};

export type Recipient = {
  contactId: number | string;
  to: Address;
  /** Envelope sender (VERP), e.g. b-<token>@bounce.example.com. */
  returnPath: string;
  /** One-click unsubscribe endpoint (RFC 8058); adds List-Unsubscribe-Post. */
  unsubscribeUrl?: string;
  unsubscribeMailto?: string;
  /** Values for the body slots. A missing slot is an error (never sends a marker). */
  slots?: Record<string, string>;
  /** A personalised subject replacing the template's. */
  subject?: string;
  /** Fully personalised bodies that replace the template's (encoded per recipient). */
  text?: string;
  html?: string;
  date?: Date;
};

type SlotRef = { slot: string; last: boolean };
/** Encoded static text (ASCII: quoted-printable, base64, boundaries) and whether DKIM relaxed canonicalisation leaves it as it is. */
type Static = { text: string; stable: boolean };
type Piece = Static | SlotRef;
type PartTemplate = {
  kind: 'text' | 'html';
  /** Boundary line and part headers (or nothing for a single-part message). */
  prefix: Static;
  pieces: Piece[];
  /** The unencoded runs, for base64 and for overrides. */
  source: BodyPart[];
  hasSlots: boolean;
};

/**
 * One header field as written (folded lines joined by CRLF, without the final
 * CRLF), with its name; `canon` caches its relaxed canonical form for DKIM
 * (dkim.ts), which is what makes signing the static headers once per campaign.
 */
export type HeadLine = { key: string; casedKey: string; line: Buffer; canon?: Buffer };

export type MessageTemplate = {
  campaignId: string;
  messageIdDomain: string;
  messageIdKey: Buffer;
  encoding: 'quoted-printable' | 'base64';
  /** Static header fields before and after the per-recipient ones. */
  linesBefore: HeadLine[];
  subjectLine: HeadLine;
  linesAfter: HeadLine[];
  parts: PartTemplate[];
  /** Closing boundary (or empty). */
  suffix: Static;
  /** The whole body when no part has slots: built once and shared. */
  staticBody: Buffer | null;
  /** Cache slot for dkim.ts: the body hash of `staticBody`, per algorithm key. */
  bodyHashCache: Map<string, string>;
};

export type PersonalisedMessage = {
  messageId: string;
  envelope: { from: string; to: string[] };
  /** Header lines, each ending in CRLF (without the blank separator line). */
  head: Buffer;
  /** The same header fields one by one, for DKIM. */
  headLines: HeadLine[];
  body: Buffer;
  /** True when `body` is the template's shared static body. */
  bodyIsStatic: boolean;
  /** A personalised body known to be unchanged by DKIM relaxed canonicalisation (see buildBody). */
  bodyCanonical?: boolean;
  template: MessageTemplate;
};

const CRLF = '\r\n';
const CRLF_BYTES = Buffer.from(CRLF);
// Shared by every message: its relaxed form is computed once (dkim.ts caches it on the object).
const LIST_UNSUBSCRIBE_POST: HeadLine = rawLine('List-Unsubscribe-Post', 'List-Unsubscribe=One-Click');
const SLOT_MARKER = /\[\[mw:([A-Za-z0-9_.:-]{1,64})\]\]/g;

/** Split a rendered body on `[[mw:name]]` markers into static runs and slots. */
export function parseSlots(text: string): BodyPart[] {
  const parts: BodyPart[] = [];
  let last = 0;
  for (const m of text.matchAll(SLOT_MARKER)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push({ slot: m[1] });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

const normaliseNewlines = (s: string) => s.replace(/\r\n|\r|\n/g, CRLF);

function assertHeaderSafe(value: string, what: string): void {
  if (/[\r\n\0]/.test(value)) throw new TypeError(`${what} must not contain line breaks`);
}

const ADDRESS = /^[^\s<>()[\]\\,;:"@]+@[^\s<>()[\]\\,;:"@]+$/;

export function formatAddress(a: Address): string {
  if (!ADDRESS.test(a.address)) throw new TypeError(`invalid email address: ${JSON.stringify(a.address)}`);
  if (!a.name) return a.address;
  assertHeaderSafe(a.name, 'address name');
  const name = /[^\x20-\x7e]/.test(a.name)
    ? encodeWords(a.name, 'Q', 52)
    : /[()<>[\]:;@\\,."]/.test(a.name)
      ? quoteString(a.name)
      : a.name;
  return `${name} <${a.address}>`;
}

function header(name: string, value: string): string {
  assertHeaderSafe(value, name);
  return `${foldLines(`${name}: ${value}`, 76)}${CRLF}`;
}

function headLine(name: string, value: string): HeadLine {
  const text = header(name, value);
  return { key: name.toLowerCase(), casedKey: name, line: Buffer.from(text.slice(0, -CRLF.length)) };
}

/** A field whose value is known to be safe and unfolded (generated here). */
function rawLine(name: string, value: string): HeadLine {
  return { key: name.toLowerCase(), casedKey: name, line: Buffer.from(`${name}: ${value}`) };
}

function encodeSubject(subject: string): string {
  return /[^\x20-\x7e]/.test(subject) ? encodeWords(subject, 'Q', 52, true) : subject;
}

/** RFC 5322 date, cached per second (formatting is a measurable cost per message). */
let dateCache = { second: -1, text: '' };
export function rfc5322Date(d: Date): string {
  const second = Math.floor(d.getTime() / 1000);
  if (second !== dateCache.second) dateCache = { second, text: d.toUTCString().replace(/GMT$/, '+0000') };
  return dateCache.text;
}

/** Deterministic per (campaign, contact): retries and duplicates carry the same id. */
export function messageIdFor(
  key: Buffer,
  campaignId: number | string,
  contactId: number | string,
  domain: string,
): string {
  const mac = createHmac('sha256', key).update(`${campaignId}.${contactId}`).digest('hex').slice(0, 8);
  return `<c${campaignId}.r${contactId}.${mac}@${domain}>`;
}

/** Quoted-printable encode one run so that the next run starts at column 0. */
// Printable ASCII without '=', whitespace or line breaks encodes to itself:
// only soft line breaks are needed. Tracking URLs and most names are like
// this, and skipping the per-character encoder for them is a measurable share
// of the per-recipient cost.
const QP_SAFE = /^[\x21-\x3c\x3e-\x7e]*$/;

// DKIM relaxed body canonicalisation turns a tab into a space and a run of
// spaces into one. Encoding tabs and every space after a space (valid QP: any
// octet may be written =XX; decoders give the same text) leaves nothing for it
// to change, so dkim.ts can hash the body as it is instead of canonicalising it
// (it checks that before trusting it). Line-final whitespace is already encoded.
function relaxedStable(qp: string): string {
  if (!qp.includes('\t') && !qp.includes('  ')) return qp;
  return qp.replace(/\t/g, '=09').replace(/ {2,}/g, (m) => ` ${'=20'.repeat(m.length - 1)}`);
}

// Encoded lines are at most QP_WIDTH characters before a leading dot is
// escaped (below): `=2E` adds two, and a run's closing soft break one, so no
// line exceeds 76 (RFC 2045 §6.7).
const QP_WIDTH = 73;

/**
 * A line that starts with "." is written `=2E` (the same octet to any QP
 * decoder, and to DKIM's body hash, which is taken before transport). SMTP would
 * otherwise have to dot-stuff it (RFC 5321 §4.5.2), and a message with no such
 * line passes the SMTP client's stuffing unchanged, so it is not scanned byte by
 * byte (smtp-data.ts). Runs start at column 0, so the first character counts too.
 */
function escapeLeadingDots(encoded: string): string {
  const out = encoded.charCodeAt(0) === 0x2e ? `=2E${encoded.slice(1)}` : encoded;
  return out.includes('\r\n.') ? out.replaceAll('\r\n.', '\r\n=2E') : out;
}

function qpRun(text: string, last: boolean): string {
  if (text === '') return '';
  let encoded: string;
  if (QP_SAFE.test(text)) {
    const w = QP_WIDTH - 1;
    encoded = '';
    for (let i = 0; i < text.length; i += w) encoded += i + w < text.length ? `${text.slice(i, i + w)}=${CRLF}` : text.slice(i);
  } else encoded = qpWrap(relaxedStable(qpEncode(normaliseNewlines(text))), QP_WIDTH);
  encoded = escapeLeadingDots(encoded);
  return last || encoded.endsWith(CRLF) ? encoded : `${encoded}=${CRLF}`;
}

function base64Lines(text: string): string {
  const b = Buffer.from(normaliseNewlines(text), 'utf8').toString('base64');
  let out = '';
  for (let i = 0; i < b.length; i += 76) out += `${b.slice(i, i + 76)}${CRLF}`;
  return out;
}

function toParts(body: Body): BodyPart[] {
  return typeof body === 'string' ? [body] : body.filter((p) => p !== '');
}

function partHeaders(kind: 'text' | 'html', encoding: string): string {
  return `Content-Type: text/${kind === 'text' ? 'plain' : 'html'}; charset=utf-8${CRLF}Content-Transfer-Encoding: ${encoding}${CRLF}`;
}

export function composeTemplate(msg: CampaignMessage): MessageTemplate {
  if (msg.text === undefined && msg.html === undefined) throw new TypeError('a message needs text or html');
  if (!/^[A-Za-z0-9.-]+$/.test(msg.messageIdDomain)) throw new TypeError('invalid Message-ID domain');
  if (!/^[A-Za-z0-9_-]+$/.test(String(msg.campaignId))) throw new TypeError('invalid campaign id');
  const encoding = msg.encoding ?? 'quoted-printable';
  const campaignId = String(msg.campaignId);
  // "=_" never occurs in quoted-printable or base64 output, so the boundary cannot collide.
  const boundary = `--=_mw_${createHmac('sha256', msg.messageIdKey).update(`boundary.${campaignId}`).digest('hex').slice(0, 24)}`;
  const kinds = (['text', 'html'] as const).filter((k) => msg[k] !== undefined);
  const multipart = kinds.length > 1;

  const linesBefore = [headLine('From', formatAddress(msg.from))];
  const subjectLine = headLine('Subject', encodeSubject(msg.subject));
  const linesAfter: HeadLine[] = [];
  if (msg.replyTo) linesAfter.push(headLine('Reply-To', formatAddress(msg.replyTo)));
  for (const [name, value] of Object.entries(msg.headers ?? {})) {
    if (!/^[A-Za-z0-9-]+$/.test(name)) throw new TypeError(`invalid header name ${name}`);
    linesAfter.push(headLine(name, value));
  }
  linesAfter.push(rawLine('MIME-Version', '1.0'));
  if (multipart) linesAfter.push(rawLine('Content-Type', `multipart/alternative;${CRLF} boundary="${boundary}"`));
  else {
    const [type, cte] = partHeaders(kinds[0], encoding).split(CRLF);
    linesAfter.push(rawLine('Content-Type', type.slice('Content-Type: '.length)));
    linesAfter.push(rawLine('Content-Transfer-Encoding', cte.slice('Content-Transfer-Encoding: '.length)));
  }

  const parts: PartTemplate[] = kinds.map((kind) => {
    const source = toParts(msg[kind] as Body);
    const prefix = staticText(multipart ? `--${boundary}${CRLF}${partHeaders(kind, encoding)}${CRLF}` : '');
    const hasSlots = source.some((p) => typeof p !== 'string');
    const pieces: Piece[] = [];
    if (encoding === 'quoted-printable') {
      source.forEach((p, i) => {
        const last = i === source.length - 1;
        pieces.push(typeof p === 'string' ? staticText(qpRun(p, last)) : { slot: p.slot, last });
      });
    } else if (!hasSlots) {
      pieces.push(staticText(base64Lines(source.join(''))));
    }
    return { kind, prefix, pieces, source, hasSlots };
  });
  const suffix = staticText(multipart ? `${CRLF}--${boundary}--${CRLF}` : CRLF);
  const template: MessageTemplate = {
    campaignId,
    messageIdDomain: msg.messageIdDomain,
    messageIdKey: msg.messageIdKey,
    encoding,
    linesBefore,
    subjectLine,
    linesAfter,
    parts,
    suffix,
    staticBody: null,
    bodyHashCache: new Map(),
  };
  if (!parts.some((p) => p.hasSlots)) template.staticBody = buildBody(template, undefined).body;
  return template;
}

function slotValue(r: Recipient | undefined, name: string): string {
  const v = r?.slots?.[name];
  if (v === undefined) throw new Error(`no value for body slot "${name}"`);
  return v;
}

const WSP_UNSTABLE = /\t| {2}| \r\n/;
const isWsp = (c: number) => c === 0x20 || c === 0x09;
/** No tab, no run of spaces, no space before a line break: relaxed canonicalisation leaves the text as it is. */
const staticText = (text: string): Static => ({ text, stable: !WSP_UNSTABLE.test(text) });
const PART_SEPARATOR = staticText(CRLF);

/**
 * The body, and whether DKIM relaxed body canonicalisation leaves it unchanged
 * (dkim.ts then hashes it as it is). Checked piece by piece — the static pieces
 * once per template, the recipient's encoded values each time — plus the seams
 * between pieces and the end (exactly one CRLF, no trailing empty line). Line
 * breaks are CRLF only by construction (every run is normalised and encoded).
 * Everything encoded is ASCII, so the pieces are joined as a string and
 * written to one Buffer (latin1) instead of a Buffer per piece.
 */
function buildBody(t: MessageTemplate, r: Recipient | undefined): { body: Buffer; canonical: boolean } {
  let out = '';
  let canonical = true;
  let lastChar = -1;
  const add = (text: string, stable: boolean) => {
    if (text === '') return;
    // seams: whitespace at the end of one piece followed by whitespace or a line break at the start of the next
    if (canonical && (!stable || (isWsp(lastChar) && (isWsp(text.charCodeAt(0)) || text.charCodeAt(0) === 0x0d))))
      canonical = false;
    out += text;
    lastChar = text.charCodeAt(text.length - 1);
  };
  const addEncoded = (encoded: string) => add(encoded, !WSP_UNSTABLE.test(encoded));
  t.parts.forEach((part, i) => {
    // parts after the first are separated by the CRLF that belongs to the boundary
    if (i > 0) add(PART_SEPARATOR.text, PART_SEPARATOR.stable);
    add(part.prefix.text, part.prefix.stable);
    const override = r?.[part.kind];
    if (override !== undefined) {
      addEncoded(t.encoding === 'base64' ? base64Lines(override) : qpRun(override, true));
    } else if (t.encoding === 'base64' && part.hasSlots) {
      const text = part.source.map((p) => (typeof p === 'string' ? p : slotValue(r, p.slot))).join('');
      addEncoded(base64Lines(text));
    } else {
      for (const piece of part.pieces) {
        if ('text' in piece) add(piece.text, piece.stable);
        else addEncoded(qpRun(slotValue(r, piece.slot), piece.last));
      }
    }
  });
  add(t.suffix.text, t.suffix.stable);
  const body = Buffer.from(out, 'latin1');
  const n = body.length;
  canonical &&= n >= 3 && body[n - 2] === 0x0d && body[n - 1] === 0x0a && body[n - 3] !== 0x0a;
  return { body, canonical };
}

/** The final message for one recipient: a few header lines plus the (shared or personalised) body. */
export function personalise(t: MessageTemplate, r: Recipient): PersonalisedMessage {
  if (!ADDRESS.test(r.returnPath)) throw new TypeError('invalid return path');
  if (!/^[A-Za-z0-9_-]+$/.test(String(r.contactId))) throw new TypeError('invalid contact id');
  const messageId = messageIdFor(t.messageIdKey, t.campaignId, r.contactId, t.messageIdDomain);
  const lines: HeadLine[] = [rawLine('Date', rfc5322Date(r.date ?? new Date())), ...t.linesBefore];
  lines.push(headLine('To', formatAddress(r.to)), rawLine('Message-ID', messageId));
  const unsubscribe: string[] = [];
  if (r.unsubscribeUrl) {
    if (!/^https?:\/\/[^\s<>]+$/.test(r.unsubscribeUrl)) throw new TypeError('invalid unsubscribe URL');
    unsubscribe.push(`<${r.unsubscribeUrl}>`);
  }
  if (r.unsubscribeMailto) {
    if (!/^mailto:[^\s<>]+$/.test(r.unsubscribeMailto)) throw new TypeError('invalid unsubscribe mailto');
    unsubscribe.push(`<${r.unsubscribeMailto}>`);
  }
  if (unsubscribe.length) lines.push(headLine('List-Unsubscribe', unsubscribe.join(', ')));
  if (r.unsubscribeUrl) lines.push(LIST_UNSUBSCRIBE_POST);
  lines.push(r.subject === undefined ? t.subjectLine : headLine('Subject', encodeSubject(r.subject)), ...t.linesAfter);
  const chunks: Buffer[] = [];
  for (const l of lines) chunks.push(l.line, CRLF_BYTES);
  const head = Buffer.concat(chunks);
  const personalBody = r.text !== undefined || r.html !== undefined || t.staticBody === null;
  const built = personalBody ? buildBody(t, r) : null;
  const body = built ? built.body : (t.staticBody as Buffer);
  return {
    messageId,
    envelope: { from: r.returnPath, to: [r.to.address] },
    head,
    headLines: lines,
    body,
    bodyIsStatic: !personalBody,
    bodyCanonical: built?.canonical,
    template: t,
  };
}

/** The bytes to hand to SMTP (unsigned). dkim.ts `signMessage` prepends signatures instead. */
export function toRaw(m: PersonalisedMessage, prefix?: Buffer): Buffer {
  const sep = Buffer.from(CRLF);
  return prefix ? Buffer.concat([prefix, m.head, sep, m.body]) : Buffer.concat([m.head, sep, m.body]);
}
