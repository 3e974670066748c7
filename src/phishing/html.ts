// Bounded, regex-based HTML inspection: links with their visible text, forms and credential
// fields, and a plain-text rendering. Every regex is linear (bounded quantifiers) and the input
// is capped by the caller, so hostile HTML costs at most a few milliseconds.

export interface Link {
  href: string;
  /** Visible text of the anchor (tags stripped), if the link came from HTML. */
  text?: string;
  /** `qr`: decoded from a QR code in an image (qr.ts). */
  source: 'html' | 'text' | 'attachment' | 'qr';
}

export interface FormInfo {
  forms: number;
  passwordFields: number;
  /** Inputs named/typed like e-mail, card numbers, CVV, PINs, etc. */
  credentialFields: number;
  actions: string[];
}

export const MAX_LINKS = 500;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,8});/gi, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/** Removes `<tag ...> ... </tag>` blocks in linear time (no backtracking regex). */
function dropBlocks(html: string, lower: string, open: string, close: string): string {
  let out = '';
  let pos = 0;
  for (;;) {
    const i = lower.indexOf(open, pos);
    if (i < 0) break;
    out += html.slice(pos, i);
    const j = lower.indexOf(close, i + open.length);
    if (j < 0) return out;
    pos = j + close.length;
  }
  return out + html.slice(pos);
}

export function htmlToText(html: string): string {
  let h = dropBlocks(html, html.toLowerCase(), '<!--', '-->');
  for (const t of ['script', 'style', 'head', 'title']) {
    const lower = h.toLowerCase();
    if (lower.includes(`<${t}`)) h = dropBlocks(h, lower, `<${t}`, `</${t}`);
  }
  return decodeEntities(h.replace(/<br\s*\/?>|<\/(p|div|tr|li|h[1-6])>/gi, '\n').replace(/<[^<>]{0,4000}>/g, ' '))
    .replace(/[ \t\u00a0\u200b-\u200d\ufeff]+/g, ' ')
    .replace(/\n\s*\n+/g, '\n');
}

function attr(tag: string, name: string): string | undefined {
  const re = new RegExp(`\\b${name}\\s*=\\s*(?:"([^"]{0,8000})"|'([^']{0,8000})'|([^\\s>]{1,8000}))`, 'i');
  const m = re.exec(tag);
  if (!m) return undefined;
  return decodeEntities(m[1] ?? m[2] ?? m[3] ?? '').trim();
}

export function extractHtmlLinks(html: string, source: Link['source'] = 'html', max = MAX_LINKS): Link[] {
  const links: Link[] = [];
  const re = /<a\b([^<>]{0,4000})>/gi;
  const lower = html.toLowerCase();
  let nextClose = -1;
  for (let m = re.exec(html); m && links.length < max; m = re.exec(html)) {
    const href = attr(m[1], 'href');
    if (!href) continue;
    const start = m.index + m[0].length;
    if (nextClose !== Number.POSITIVE_INFINITY && nextClose < start) {
      const c = lower.indexOf('</a', start);
      nextClose = c < 0 ? Number.POSITIVE_INFINITY : c;
    }
    const inner = nextClose - start <= 4000 ? html.slice(start, nextClose) : '';
    const text = htmlToText(inner).replace(/\s+/g, ' ').trim().slice(0, 300);
    links.push({ href: href.slice(0, 2048), text, source });
  }
  // Links without a closing tag, image maps, meta refresh, form actions are caught loosely here.
  const re2 = /<(?:area|link|base)\b([^<>]{0,4000})>/gi;
  for (let m = re2.exec(html); m && links.length < max; m = re2.exec(html)) {
    const href = attr(m[1], 'href');
    if (href && /^(https?:|data:|javascript:)/i.test(href)) links.push({ href: href.slice(0, 2048), source });
  }
  const meta = /<meta\b([^<>]{0,2000})>/gi;
  for (let m = meta.exec(html); m && links.length < max; m = meta.exec(html)) {
    if (!/refresh/i.test(m[1])) continue;
    const c = /url\s*=\s*([^"'>\s]{1,2048})/i.exec(m[1]);
    if (c) links.push({ href: decodeEntities(c[1]), source });
  }
  const jsLoc = /(?:window\.|document\.)?location(?:\.href)?\s*=\s*["'](https?:[^"']{1,2048})["']/gi;
  for (let m = jsLoc.exec(html); m && links.length < max; m = jsLoc.exec(html)) {
    links.push({ href: m[1], source });
  }
  return links;
}

export function extractTextLinks(text: string, source: Link['source'] = 'text', max = MAX_LINKS): Link[] {
  const links: Link[] = [];
  const re = /\b(?:https?:\/\/|www\.)[^\s<>"'`{}|\\^\][)]{1,2048}/gi;
  for (let m = re.exec(text); m && links.length < max; m = re.exec(text)) {
    let href = m[0].replace(/[.,;:!?]+$/, '');
    if (/^www\./i.test(href)) href = `http://${href}`;
    links.push({ href, source });
  }
  return links;
}

export function extractForms(html: string): FormInfo {
  const info: FormInfo = { forms: 0, passwordFields: 0, credentialFields: 0, actions: [] };
  const formRe = /<form\b([^<>]{0,4000})>/gi;
  for (let m = formRe.exec(html); m && info.forms < 100; m = formRe.exec(html)) {
    info.forms++;
    const action = attr(m[1], 'action');
    if (action && info.actions.length < 20) info.actions.push(action.slice(0, 2048));
  }
  const inputRe = /<input\b([^<>]{0,4000})>/gi;
  let n = 0;
  for (let m = inputRe.exec(html); m && n < 1000; m = inputRe.exec(html)) {
    n++;
    const type = (attr(m[1], 'type') ?? 'text').toLowerCase();
    const name = `${attr(m[1], 'name') ?? ''} ${attr(m[1], 'id') ?? ''} ${attr(m[1], 'placeholder') ?? ''}`.toLowerCase();
    if (type === 'password') info.passwordFields++;
    else if (
      type === 'email' ||
      /pass|senha|contrase|kennwort|passwort|user|login|email|e-mail|card|cart[aã]o|tarjeta|cvv|cvc|pin\b|ssn|cpf|iban|account|conta|token|otp/.test(
        name,
      )
    )
      info.credentialFields++;
  }
  return info;
}
