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
type Piece = Buffer | SlotRef;
type PartTemplate = {
  kind: 'text' | 'html';
  /** Boundary line and part headers (or nothing for a single-part message). */
  prefix: Buffer;
  pieces: Piece[];
  /** The unencoded runs, for base64 and for overrides. */
  source: BodyPart[];
  hasSlots: boolean;
};

export type MessageTemplate = {
  campaignId: string;
  messageIdDomain: string;
  messageIdKey: Buffer;
  encoding: 'quoted-printable' | 'base64';
  /** Static headers before and after the per-recipient ones (headAfter = subjectLine + headRest). */
  headBefore: Buffer;
  headAfter: Buffer;
  subjectLine: Buffer;
  headRest: Buffer;
  parts: PartTemplate[];
  /** Closing boundary (or empty). */
  suffix: Buffer;
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
  body: Buffer;
  /** True when `body` is the template's shared static body. */
  bodyIsStatic: boolean;
  template: MessageTemplate;
};

const CRLF = '\r\n';
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

function qpRun(text: string, last: boolean): string {
  if (text === '') return '';
  let encoded: string;
  if (QP_SAFE.test(text)) {
    encoded = '';
    for (let i = 0; i < text.length; i += 75) encoded += i + 75 < text.length ? `${text.slice(i, i + 75)}=${CRLF}` : text.slice(i);
  } else encoded = qpWrap(qpEncode(normaliseNewlines(text)), 75);
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

  const before = header('From', formatAddress(msg.from));
  const subjectLine = header('Subject', encodeSubject(msg.subject));
  let after = '';
  if (msg.replyTo) after += header('Reply-To', formatAddress(msg.replyTo));
  for (const [name, value] of Object.entries(msg.headers ?? {})) {
    if (!/^[A-Za-z0-9-]+$/.test(name)) throw new TypeError(`invalid header name ${name}`);
    after += header(name, value);
  }
  after += `MIME-Version: 1.0${CRLF}`;
  if (multipart) after += `Content-Type: multipart/alternative;${CRLF} boundary="${boundary}"${CRLF}`;
  else after += partHeaders(kinds[0], encoding);

  const parts: PartTemplate[] = kinds.map((kind) => {
    const source = toParts(msg[kind] as Body);
    const prefix = multipart
      ? Buffer.from(`--${boundary}${CRLF}${partHeaders(kind, encoding)}${CRLF}`)
      : Buffer.alloc(0);
    const hasSlots = source.some((p) => typeof p !== 'string');
    const pieces: Piece[] = [];
    if (encoding === 'quoted-printable') {
      source.forEach((p, i) => {
        const last = i === source.length - 1;
        pieces.push(typeof p === 'string' ? Buffer.from(qpRun(p, last), 'latin1') : { slot: p.slot, last });
      });
    } else if (!hasSlots) {
      pieces.push(Buffer.from(base64Lines(source.join(''))));
    }
    return { kind, prefix, pieces, source, hasSlots };
  });
  const suffix = Buffer.from(multipart ? `${CRLF}--${boundary}--${CRLF}` : CRLF);
  const template: MessageTemplate = {
    campaignId,
    messageIdDomain: msg.messageIdDomain,
    messageIdKey: msg.messageIdKey,
    encoding,
    headBefore: Buffer.from(before),
    headAfter: Buffer.from(subjectLine + after),
    subjectLine: Buffer.from(subjectLine),
    headRest: Buffer.from(after),
    parts,
    suffix,
    staticBody: null,
    bodyHashCache: new Map(),
  };
  if (!parts.some((p) => p.hasSlots)) template.staticBody = buildBody(template, undefined);
  return template;
}

function slotValue(r: Recipient | undefined, name: string): string {
  const v = r?.slots?.[name];
  if (v === undefined) throw new Error(`no value for body slot "${name}"`);
  return v;
}

function buildBody(t: MessageTemplate, r: Recipient | undefined): Buffer {
  const chunks: Buffer[] = [];
  t.parts.forEach((part, i) => {
    // parts after the first are separated by the CRLF that belongs to the boundary
    if (i > 0) chunks.push(Buffer.from(CRLF));
    chunks.push(part.prefix);
    const override = r?.[part.kind];
    if (override !== undefined) {
      chunks.push(
        Buffer.from(t.encoding === 'base64' ? base64Lines(override) : qpRun(override, true), 'latin1'),
      );
    } else if (t.encoding === 'base64' && part.hasSlots) {
      const text = part.source.map((p) => (typeof p === 'string' ? p : slotValue(r, p.slot))).join('');
      chunks.push(Buffer.from(base64Lines(text), 'latin1'));
    } else {
      for (const piece of part.pieces) {
        if (Buffer.isBuffer(piece)) chunks.push(piece);
        else chunks.push(Buffer.from(qpRun(slotValue(r, piece.slot), piece.last), 'latin1'));
      }
    }
  });
  chunks.push(t.suffix);
  return Buffer.concat(chunks);
}

/** The final message for one recipient: a few header lines plus the (shared or personalised) body. */
export function personalise(t: MessageTemplate, r: Recipient): PersonalisedMessage {
  if (!ADDRESS.test(r.returnPath)) throw new TypeError('invalid return path');
  if (!/^[A-Za-z0-9_-]+$/.test(String(r.contactId))) throw new TypeError('invalid contact id');
  const messageId = messageIdFor(t.messageIdKey, t.campaignId, r.contactId, t.messageIdDomain);
  const perRecipient = `Date: ${rfc5322Date(r.date ?? new Date())}${CRLF}`;
  let middle = header('To', formatAddress(r.to));
  middle += `Message-ID: ${messageId}${CRLF}`;
  const unsubscribe: string[] = [];
  if (r.unsubscribeUrl) {
    if (!/^https?:\/\/[^\s<>]+$/.test(r.unsubscribeUrl)) throw new TypeError('invalid unsubscribe URL');
    unsubscribe.push(`<${r.unsubscribeUrl}>`);
  }
  if (r.unsubscribeMailto) {
    if (!/^mailto:[^\s<>]+$/.test(r.unsubscribeMailto)) throw new TypeError('invalid unsubscribe mailto');
    unsubscribe.push(`<${r.unsubscribeMailto}>`);
  }
  if (unsubscribe.length) middle += header('List-Unsubscribe', unsubscribe.join(', '));
  if (r.unsubscribeUrl) middle += `List-Unsubscribe-Post: List-Unsubscribe=One-Click${CRLF}`;
  const after =
    r.subject === undefined
      ? [t.headAfter]
      : [Buffer.from(header('Subject', encodeSubject(r.subject))), t.headRest];
  const head = Buffer.concat([Buffer.from(perRecipient), t.headBefore, Buffer.from(middle), ...after]);
  const personalBody = r.text !== undefined || r.html !== undefined || t.staticBody === null;
  const body = personalBody ? buildBody(t, r) : (t.staticBody as Buffer);
  return {
    messageId,
    envelope: { from: r.returnPath, to: [r.to.address] },
    head,
    body,
    bodyIsStatic: !personalBody,
    template: t,
  };
}

/** The bytes to hand to SMTP (unsigned). dkim.ts `signMessage` prepends signatures instead. */
export function toRaw(m: PersonalisedMessage, prefix?: Buffer): Buffer {
  const sep = Buffer.from(CRLF);
  return prefix ? Buffer.concat([prefix, m.head, sep, m.body]) : Buffer.concat([m.head, sep, m.body]);
}
