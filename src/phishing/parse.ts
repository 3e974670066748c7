// Hardened message parsing on top of postal-mime. Everything hostile is bounded *before* and
// *around* the MIME parser: raw size, physical line length, number of MIME parts, nesting depth,
// total header size, decoded bytes kept per attachment, HTML/text size, number of links and
// archive entries. parseMessage never throws: a message postal-mime rejects is re-read by a
// minimal fallback (headers + raw body as text) and `limits` records what was cut.
import PostalMime from 'postal-mime';
import { extractForms, extractHtmlLinks, extractTextLinks, type FormInfo, htmlToText, type Link } from './html.ts';
import { dataUriImages, imageKind, QR_LIMITS, qrLinks } from './qr.ts';
import { archiveKind, listZip, type ZipListing } from './zip.ts';

export const LIMITS = {
  /** Raw bytes read per message; the rest is ignored. */
  maxRawBytes: 10 * 1024 * 1024,
  /** Longest physical line kept (longer non-base64 lines are cut; catches megabyte header lines). */
  maxLineBytes: 64 * 1024,
  /** Total header bytes across all parts before postal-mime rejects the message. */
  maxHeadersSize: 1024 * 1024,
  /** MIME nesting depth. */
  maxDepth: 32,
  /** Inline message/rfc822 nesting. */
  maxRfc822Depth: 3,
  /** MIME boundary lines kept (≈ parts); the message is cut after that. */
  maxParts: 500,
  /** Bytes of each attachment kept for inspection (magic, archive directory, HTML). */
  maxAttachmentBytes: 8 * 1024 * 1024,
  /** Characters of HTML / text analysed. */
  maxHtmlChars: 1_000_000,
  maxTextChars: 500_000,
  /** Top-level headers kept, and characters per header value. */
  maxHeaders: 500,
  maxHeaderValue: 16 * 1024,
  maxAttachments: 100,
  /** Physical lines kept (postal-mime costs ~10 µs per line); base64 runs are joined first. */
  maxLines: 50_000,
} as const;

export interface ParsedAttachment {
  filename: string;
  mimeType: string;
  size: number;
  kind: ReturnType<typeof archiveKind>;
  archive?: ZipListing;
  /** Decoded text of HTML/SVG attachments (capped). */
  html?: string;
  /** A message/rfc822 attachment's raw bytes (for reported-message extraction). */
  raw?: Uint8Array;
}

export interface ParsedMessage {
  headers: { key: string; value: string }[];
  subject: string;
  from?: { name: string; address: string };
  replyTo: { name: string; address: string }[];
  returnPath?: string;
  to: string[];
  date?: string;
  text: string;
  html: string;
  /** Text rendering of the body: plain part or HTML converted to text. */
  bodyText: string;
  /** The From header was not a single well-formed mailbox (e.g. unquoted comma in the name). */
  fromMalformed?: boolean;
  links: Link[];
  forms: FormInfo;
  attachments: ParsedAttachment[];
  limits: string[];
  parseError?: string;
}

export function header(msg: Pick<ParsedMessage, 'headers'>, key: string): string | undefined {
  const k = key.toLowerCase();
  return msg.headers.find((h) => h.key === k)?.value;
}

export function toBuffer(raw: Buffer | string | Uint8Array): Buffer {
  if (typeof raw === 'string') return Buffer.from(raw, 'utf8');
  return Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** Applies the raw-level bounds; returns the (possibly) rewritten buffer. */
export function boundRaw(input: Buffer, limits: string[]): Buffer {
  let buf = input;
  if (buf.length > LIMITS.maxRawBytes) {
    buf = buf.subarray(0, LIMITS.maxRawBytes);
    limits.push('raw_size');
  }
  // Single pass over lines: count boundary-like lines, find overlong lines.
  let boundaries = 0;
  let cut = -1;
  let longLines = false;
  let start = 0;
  let lines = 0;
  let b64Lines = 0;
  let blankRun = 0;
  let curBlank = 0;
  const n = buf.length;
  while (start < n) {
    let end = buf.indexOf(10, start);
    if (end < 0) end = n;
    lines++;
    const len = end - start - (buf[end - 1] === 13 ? 1 : 0);
    if (len <= 0) {
      if (++curBlank > blankRun) blankRun = curBlank;
    } else curBlank = 0;
    if (end - start > LIMITS.maxLineBytes) longLines = true;
    else if (end - start >= 40 && isBase64Line(buf, start, end)) b64Lines++;
    if (buf[start] === 0x2d && buf[start + 1] === 0x2d) {
      boundaries++;
      if (boundaries > LIMITS.maxParts) {
        cut = start;
        break;
      }
    }
    start = end + 1;
  }
  if (cut >= 0) {
    buf = buf.subarray(0, cut);
    limits.push('parts');
  }
  // Join runs of base64 lines into single lines: same decoded bytes, far fewer parser steps.
  if (b64Lines > 500) buf = joinBase64Runs(buf);
  if (blankRun > 64) buf = collapseBlankRuns(buf);
  if (lines - b64Lines > LIMITS.maxLines) {
    let pos = 0;
    for (let i = 0; i < LIMITS.maxLines && pos >= 0; i++) pos = buf.indexOf(10, pos + 1);
    if (pos > 0) {
      buf = buf.subarray(0, pos + 1);
      limits.push('lines');
    }
  }
  if (longLines) {
    const parts: Buffer[] = [];
    let s = 0;
    let cutAny = false;
    while (s < buf.length) {
      let e = buf.indexOf(10, s);
      if (e < 0) e = buf.length;
      const len = e - s;
      if (len > LIMITS.maxLineBytes && (isHeaderLike(buf, s) || !isBase64Line(buf, s, e))) {
        parts.push(buf.subarray(s, s + LIMITS.maxLineBytes));
        cutAny = true;
      } else parts.push(buf.subarray(s, e));
      if (e < buf.length) parts.push(NEWLINE);
      s = e + 1;
    }
    if (cutAny) {
      buf = Buffer.concat(parts);
      limits.push('line_length');
    }
  }
  return buf;
}

const NEWLINE = Buffer.from('\n');

/** Runs of more than 64 empty lines carry no content: keep 64. */
function collapseBlankRuns(buf: Buffer): Buffer {
  return Buffer.from(buf.toString('latin1').replace(/(?:\r?\n){65,}/g, (m) => m.slice(0, m.indexOf('\n') + 1).repeat(65)), 'latin1');
}

/** Header field or folded continuation (never a base64 body line). */
function isHeaderLike(buf: Buffer, s: number): boolean {
  if (buf[s] === 32 || buf[s] === 9) return true;
  for (let i = s; i < s + 100 && i < buf.length; i++) {
    const c = buf[i];
    if (c === 58) return i > s;
    const ok = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95;
    if (!ok) return false;
  }
  return false;
}

function joinBase64Runs(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let s = 0;
  let inRun = false;
  while (s < buf.length) {
    let e = buf.indexOf(10, s);
    if (e < 0) e = buf.length;
    const lineEnd = e > s && buf[e - 1] === 13 ? e - 1 : e;
    const b64 = lineEnd - s >= 40 ? strictBase64(buf, s, lineEnd) : 0;
    if (b64) {
      out.push(buf.subarray(s, lineEnd));
      inRun = true;
      if (b64 === 2) {
        out.push(CRLF);
        inRun = false;
      }
    } else {
      if (inRun) out.push(CRLF);
      inRun = false;
      out.push(buf.subarray(s, Math.min(e + 1, buf.length)));
    }
    s = e + 1;
  }
  if (inRun) out.push(CRLF);
  return Buffer.concat(out);
}

const CRLF = Buffer.from('\r\n');

/** 0: not base64; 1: base64 line; 2: base64 line ending with padding (end of a run). */
function strictBase64(buf: Buffer, s: number, e: number): 0 | 1 | 2 {
  for (let i = s; i < e; i++) {
    const c = buf[i];
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47) continue;
    if (c === 61 && i >= e - 2) {
      for (let j = i; j < e; j++) if (buf[j] !== 61) return 0;
      return 2;
    }
    return 0;
  }
  return 1;
}

function isBase64Line(buf: Buffer, s: number, e: number): boolean {
  // Sample: a long line of base64 alphabet only (a legitimate unwrapped attachment).
  const step = Math.max(1, Math.floor((e - s) / 4096));
  for (let i = s; i < e - 1; i += step) {
    const c = buf[i];
    const ok =
      (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47 || c === 61 || c === 13;
    if (!ok) return false;
  }
  return true;
}

const EMPTY_FORMS: FormInfo = { forms: 0, passwordFields: 0, credentialFields: 0, actions: [] };

export async function parseMessage(raw: Buffer | string | Uint8Array): Promise<ParsedMessage> {
  const limits: string[] = [];
  let buf: Buffer;
  try {
    buf = boundRaw(toBuffer(raw), limits);
  } catch (err) {
    limits.push('raw_unreadable');
    return fallbackParse(Buffer.alloc(0), limits, String(err));
  }
  let email: Awaited<ReturnType<typeof PostalMime.parse>>;
  try {
    email = await PostalMime.parse(analysisView(buf), {
      maxNestingDepth: LIMITS.maxDepth,
      maxHeadersSize: LIMITS.maxHeadersSize,
      maxRfc822NestingDepth: LIMITS.maxRfc822Depth,
      attachmentEncoding: 'arraybuffer',
    });
  } catch (err) {
    limits.push('mime_rejected');
    return fallbackParse(buf, limits, err instanceof Error ? err.message : String(err));
  }
  try {
    return buildParsed(email, limits);
  } catch (err) {
    limits.push('analysis_error');
    return fallbackParse(buf, limits, err instanceof Error ? err.message : String(err));
  }
}

type Email = Awaited<ReturnType<typeof PostalMime.parse>>;

const CTE_IDENTITY = /^Content-Transfer-Encoding:[ \t]*(7bit|8bit|binary)[ \t]*\r?$/gim;

/**
 * Analysis-only speed-up: postal-mime's pass-through decoder (7bit/8bit/binary) collects one Blob
 * chunk per line, which dominates parse time on long text parts. Declaring those parts
 * quoted-printable routes them through the buffered QP decoder; for text without `=XX`
 * sequences the decoded result is identical. Never used for bytes we hand back (report.ts,
 * live DKIM checks use the original message).
 */
function analysisView(buf: Buffer): Buffer {
  const s = buf.toString('latin1');
  CTE_IDENTITY.lastIndex = 0;
  if (!CTE_IDENTITY.test(s)) return buf;
  return Buffer.from(s.replace(CTE_IDENTITY, 'Content-Transfer-Encoding: quoted-printable'), 'latin1');
}

function mailbox(a: unknown): { name: string; address: string } | undefined {
  if (!a || typeof a !== 'object') return undefined;
  const m = a as { name?: string; address?: string; group?: { name: string; address: string }[] };
  if (m.address) return { name: (m.name ?? '').slice(0, 500), address: m.address.slice(0, 500).toLowerCase() };
  if (m.group?.[0]) return mailbox(m.group[0]);
  if (m.name) return { name: m.name.slice(0, 500), address: '' };
  return undefined;
}

function buildParsed(email: Email, limits: string[]): ParsedMessage {
  const headers = email.headers.slice(0, LIMITS.maxHeaders).map((h) => ({
    key: h.key,
    value: h.value.length > LIMITS.maxHeaderValue ? h.value.slice(0, LIMITS.maxHeaderValue) : h.value,
  }));
  if (email.headers.length > LIMITS.maxHeaders) limits.push('header_count');
  let html = email.html ?? '';
  if (html.length > LIMITS.maxHtmlChars) {
    html = html.slice(0, LIMITS.maxHtmlChars);
    limits.push('html_size');
  }
  let text = email.text ?? '';
  if (text.length > LIMITS.maxTextChars) {
    text = text.slice(0, LIMITS.maxTextChars);
    limits.push('text_size');
  }
  const links: Link[] = [];
  let forms = EMPTY_FORMS;
  let htmlText = '';
  if (html) {
    links.push(...extractHtmlLinks(html));
    forms = extractForms(html);
    htmlText = htmlToText(html);
  }
  // Plain-text URLs (in both parts; the HTML ones are usually duplicates, kept once).
  const seen = new Set(links.map((l) => l.href));
  for (const l of extractTextLinks(text || htmlText))
    if (!seen.has(l.href)) {
      links.push(l);
      seen.add(l.href);
    }

  const attachments: ParsedAttachment[] = [];
  // Images that may hold a QR code (by their bytes, whatever the declared type): attached or inline (cid:).
  const images: Uint8Array[] = [];
  for (const a of email.attachments) {
    if (attachments.length >= LIMITS.maxAttachments) {
      limits.push('attachment_count');
      break;
    }
    const full = toU8(a.content);
    const bytes = full.length > LIMITS.maxAttachmentBytes ? full.subarray(0, LIMITS.maxAttachmentBytes) : full;
    if (full.length > LIMITS.maxAttachmentBytes) limits.push('attachment_size');
    const filename = (a.filename ?? '').slice(0, 300);
    const mimeType = (a.mimeType ?? 'application/octet-stream').slice(0, 200);
    const att: ParsedAttachment = { filename, mimeType, size: full.length, kind: archiveKind(bytes) };
    if (att.kind === 'zip') att.archive = listZip(bytes);
    if (/html?$|svg|xhtml/i.test(mimeType) || /\.(s?html?|svg|xhtml|shtml|mht|mhtml)$/i.test(filename)) {
      const src = Buffer.from(bytes.subarray(0, LIMITS.maxHtmlChars)).toString('utf8');
      att.html = src;
      for (const l of extractHtmlLinks(src, 'attachment', 100)) links.push(l);
      const f = extractForms(src);
      if (f.forms || f.passwordFields || f.credentialFields) {
        forms = {
          forms: forms.forms + f.forms,
          passwordFields: forms.passwordFields + f.passwordFields,
          credentialFields: forms.credentialFields + f.credentialFields,
          actions: [...forms.actions, ...f.actions].slice(0, 20),
        };
      }
    }
    if (mimeType === 'message/rfc822') att.raw = bytes;
    if (images.length < QR_LIMITS.maxImages && imageKind(bytes)) images.push(bytes);
    attachments.push(att);
  }
  if (html && images.length < QR_LIMITS.maxImages) images.push(...dataUriImages(html, QR_LIMITS.maxImages - images.length));
  for (const href of qrLinks(images)) links.push({ href, text: 'QR code in an image', source: 'qr' });
  const bodyText = (text.trim() ? text : htmlText).slice(0, LIMITS.maxTextChars);
  // postal-mime splits `From: Brand, Team <x@y>` into two mailboxes and keeps the first (no
  // address). Re-read the raw header so the real address and the full display name are analysed.
  let from = mailbox(email.from);
  let fromMalformed = false;
  if (!from?.address) {
    const rawFrom = headers.find((h) => h.key === 'from')?.value;
    const re = rawFrom ? parseAddress(decodeWords(rawFrom)) : undefined;
    if (re?.address) {
      from = re;
      fromMalformed = true;
    }
  }
  return {
    headers,
    subject: (email.subject ?? '').slice(0, 1000),
    from,
    fromMalformed,
    replyTo: (email.replyTo ?? []).map(mailbox).filter((x): x is { name: string; address: string } => !!x?.address).slice(0, 10),
    returnPath: email.returnPath?.slice(0, 500).toLowerCase(),
    to: (email.to ?? [])
      .map((t) => mailbox(t)?.address ?? '')
      .filter(Boolean)
      .slice(0, 50),
    date: email.date,
    text,
    html,
    bodyText,
    links: links.slice(0, 600),
    forms,
    attachments,
    limits,
  };
}

function toU8(c: ArrayBuffer | Uint8Array | string): Uint8Array {
  if (typeof c === 'string') return Buffer.from(c, 'utf8');
  if (c instanceof Uint8Array) return c;
  return new Uint8Array(c);
}

/** Minimal parser for messages the MIME parser rejected: unfold headers, keep body as text. */
export function fallbackParse(buf: Buffer, limits: string[], error: string): ParsedMessage {
  const s = buf.subarray(0, 2 * 1024 * 1024).toString('latin1');
  const split = s.search(/\r?\n\r?\n/);
  const head = split >= 0 ? s.slice(0, split) : s.slice(0, 256 * 1024);
  const body = split >= 0 ? s.slice(split).trim().slice(0, LIMITS.maxTextChars) : '';
  const headers: { key: string; value: string }[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (headers.length >= LIMITS.maxHeaders) break;
    if (/^[ \t]/.test(line) && headers.length) {
      const h = headers[headers.length - 1];
      if (h.value.length < LIMITS.maxHeaderValue) h.value += ` ${line.trim()}`.slice(0, LIMITS.maxHeaderValue);
      continue;
    }
    const i = line.indexOf(':');
    if (i > 0 && i < 100) headers.push({ key: line.slice(0, i).trim().toLowerCase(), value: line.slice(i + 1, i + 1 + LIMITS.maxHeaderValue).trim() });
  }
  const get = (k: string) => headers.find((h) => h.key === k)?.value;
  const from = parseAddress(get('from') ?? '');
  const reply = parseAddress(get('reply-to') ?? '');
  const looksHtml = /<html|<body|<a\s/i.test(body);
  const html = looksHtml ? body.slice(0, LIMITS.maxHtmlChars) : '';
  const bodyText = looksHtml ? htmlToText(html) : body;
  const links = looksHtml ? extractHtmlLinks(html) : extractTextLinks(body);
  return {
    headers,
    subject: (get('subject') ?? '').slice(0, 1000),
    from,
    replyTo: reply?.address ? [reply] : [],
    returnPath: get('return-path')?.replace(/[<>]/g, '').trim().toLowerCase(),
    to: [],
    date: get('date'),
    text: looksHtml ? '' : body,
    html,
    bodyText: bodyText.slice(0, LIMITS.maxTextChars),
    links,
    forms: looksHtml ? extractForms(html) : EMPTY_FORMS,
    attachments: [],
    limits,
    parseError: error.slice(0, 300),
  };
}

/** Minimal RFC 2047 decoding for the fallback From parse (postal-mime decodes everything else). */
function decodeWords(v: string): string {
  return v.replace(/=\?([^?]{1,40})\?([bq])\?([^?]{0,2000})\?=/gi, (m, cs: string, enc: string, data: string) => {
    try {
      const bytes =
        enc.toLowerCase() === 'b'
          ? Buffer.from(data, 'base64')
          : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_x, h: string) => String.fromCharCode(Number.parseInt(h, 16))), 'latin1');
      return new TextDecoder(cs).decode(bytes);
    } catch {
      return m;
    }
  });
}

function parseAddress(v: string): { name: string; address: string } | undefined {
  if (!v) return undefined;
  const m = /^\s*"?([^"<]{0,300}?)"?\s*<([^>\s]{1,300})>/.exec(v);
  if (m) return { name: m[1].replace(/[\s,_]+$/, '').trim(), address: m[2].toLowerCase() };
  const a = /[^\s<>"]{1,200}@[^\s<>"]{1,200}/.exec(v);
  return a ? { name: '', address: a[0].toLowerCase() } : { name: v.slice(0, 300), address: '' };
}
