// Gateway stamping: add X-Mailwarden-Verdict / -Score / -Reasons and an Authentication-Results
// header to a message, and optionally prepend a warning banner to its text/plain and text/html
// parts (only parts that are not attachments). Pre-existing X-Mailwarden-* headers are removed
// first so a sender cannot forge a "clean" stamp. All other bytes are kept as they were.
// Note: a banner changes the body, so original DKIM signatures no longer verify downstream —
// deliver to the mailbox directly or seal with ARC after stamping.
import type { ScanResult, Verdict } from './types.ts';

export interface StampOptions {
  /** authserv-id written into Authentication-Results (the gateway's host name). */
  authservId: string;
  /** Add a banner to text parts when the verdict is at least `bannerMinVerdict` (default 'suspicious'). */
  banner?: boolean;
  bannerMinVerdict?: Exclude<Verdict, 'clean'>;
  /** Custom banner text ({verdict}, {score}, {reasons} are replaced). */
  bannerText?: string;
}

const RANK: Record<Verdict, number> = { clean: 0, suspicious: 1, phishing: 2 };
const MAX_DEPTH = 20;

function splitHead(s: string): { head: string; sep: string; body: string } {
  const m = /\r?\n\r?\n/.exec(s);
  if (!m) return { head: s, sep: '', body: '' };
  return { head: s.slice(0, m.index), sep: m[0], body: s.slice(m.index + m[0].length) };
}

function headerValue(head: string, name: string): string | undefined {
  const re = new RegExp(`^${name}:([^\\n]*(?:\\r?\\n[ \\t][^\\n]*)*)`, 'im');
  const m = re.exec(head);
  return m ? m[1].replace(/\r?\n[ \t]+/g, ' ').trim() : undefined;
}

function removeHeaders(head: string, pred: (name: string) => boolean): string {
  const lines = head.split(/(?<=\n)/);
  const out: string[] = [];
  let dropping = false;
  for (const l of lines) {
    if (/^[ \t]/.test(l) && out.length + (dropping ? 1 : 0) > 0) {
      if (!dropping) out.push(l);
      continue;
    }
    const name = /^([^:\s]+):/.exec(l)?.[1] ?? '';
    dropping = !!name && pred(name.toLowerCase());
    if (!dropping) out.push(l);
  }
  return out.join('');
}

function param(v: string | undefined, p: string): string | undefined {
  if (!v) return undefined;
  const m = new RegExp(`(?:^|;)\\s*${p}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i').exec(v);
  return m ? (m[1] ?? m[2]) : undefined;
}

function decodeBody(body: string, cte: string, charset: string): string | null {
  let bytes: Buffer;
  const enc = cte.toLowerCase();
  if (enc === 'base64') bytes = Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  else if (enc === 'quoted-printable')
    bytes = Buffer.from(
      body
        .replace(/=\r?\n/g, '')
        .replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
      'latin1',
    );
  else bytes = Buffer.from(body, 'latin1');
  try {
    return new TextDecoder(charset || 'us-ascii').decode(bytes);
  } catch {
    return null;
  }
}

function b64(s: string, eol: string): string {
  return (Buffer.from(s, 'utf8').toString('base64').match(/.{1,76}/g) ?? []).join(eol);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

interface Banner {
  text: string;
  html: string;
}

function rewriteEntity(
  head: string,
  body: string,
  eol: string,
  banner: Banner,
  depth: number,
): { head: string; body: string } {
  const ct = headerValue(head, 'Content-Type') ?? 'text/plain';
  const type = ct.split(';')[0].trim().toLowerCase();
  const disp = (headerValue(head, 'Content-Disposition') ?? '').toLowerCase();
  if (type.startsWith('multipart/') && depth < MAX_DEPTH) {
    const boundary = param(ct, 'boundary');
    if (!boundary) return { head, body };
    const delim = `--${boundary}`;
    const lines = body.split(/(?<=\n)/);
    const parts: { open: string; lines: string[] }[] = [];
    let preamble: string[] | null = null;
    let cur: string[] = [];
    let open = '';
    let closeLine = '';
    const epilogue: string[] = [];
    for (const l of lines) {
      const t = l.replace(/\r?\n$/, '').trimEnd();
      if (!closeLine && (t === delim || t === `${delim}--`)) {
        if (preamble === null) preamble = cur;
        else parts.push({ open, lines: cur });
        cur = [];
        if (t === delim) open = l;
        else closeLine = l;
        continue;
      }
      if (closeLine) epilogue.push(l);
      else cur.push(l);
    }
    if (preamble === null) return { head, body };
    if (!closeLine && open) parts.push({ open, lines: cur });
    const chunks: string[] = [...preamble];
    parts.forEach((p, n) => {
      chunks.push(p.open);
      const raw = p.lines.join('');
      if (n >= 500) {
        chunks.push(raw);
        return;
      }
      // The line break before a delimiter belongs to the delimiter: keep it aside.
      const trail = /\r?\n$/.exec(raw)?.[0] ?? '';
      const s = splitHead(raw.slice(0, raw.length - trail.length));
      const r = rewriteEntity(s.head, s.body, eol, banner, depth + 1);
      chunks.push(r.head + s.sep + r.body + trail);
    });
    if (closeLine) chunks.push(closeLine, ...epilogue);
    return { head, body: chunks.join('') };
  }
  if ((type === 'text/plain' || type === 'text/html') && !disp.startsWith('attachment')) {
    const cte = headerValue(head, 'Content-Transfer-Encoding') ?? '7bit';
    const charset = param(ct, 'charset') ?? 'us-ascii';
    const text = decodeBody(body, cte, charset);
    if (text === null) return { head, body };
    let out: string;
    if (type === 'text/plain') out = banner.text + text;
    else {
      const m = /<body\b[^<>]{0,2000}>/i.exec(text);
      out = m ? text.slice(0, m.index + m[0].length) + banner.html + text.slice(m.index + m[0].length) : banner.html + text;
    }
    let h = removeHeaders(head, (n) => n === 'content-transfer-encoding' || n === 'content-type');
    if (h && !/\n$/.test(h)) h += eol;
    h += `Content-Type: ${type}; charset=utf-8${eol}Content-Transfer-Encoding: base64`;
    return { head: h, body: b64(out, eol) + (body.endsWith('\n') ? eol : '') };
  }
  return { head, body };
}

export function authResultsHeader(result: ScanResult, authservId: string): string {
  const parts: string[] = [];
  for (const k of ['spf', 'dkim', 'dmarc', 'arc'] as const) {
    const v = result.auth[k];
    if (v && v !== 'unknown') parts.push(`${k}=${v}`);
  }
  const id = authservId.replace(/[^A-Za-z0-9.-]/g, '') || 'mailwarden';
  return `${id}; ${parts.length ? parts.join('; ') : 'none'}`;
}

export function stampGatewayHeaders(raw: Buffer | string, result: ScanResult, opts: StampOptions): Buffer {
  const s = typeof raw === 'string' ? raw : raw.toString('latin1');
  const eol = s.includes('\r\n') ? '\r\n' : '\n';
  const { head, sep, body } = splitHead(s);
  const cleaned = removeHeaders(head, (n) => n.startsWith('x-mailwarden-'));
  const reasons = result.reasons
    .filter((r) => r.weight > 0)
    .slice(0, 5)
    .map((r) => r.signal)
    .join(', ');
  const stamp =
    `X-Mailwarden-Verdict: ${result.verdict}${eol}` +
    `X-Mailwarden-Score: ${result.score}${eol}` +
    (reasons ? `X-Mailwarden-Reasons: ${reasons}${eol}` : '') +
    `Authentication-Results: ${authResultsHeader(result, opts.authservId)}${eol}`;
  let newHead = cleaned;
  let newBody = body;
  const min = opts.bannerMinVerdict ?? 'suspicious';
  if (opts.banner && RANK[result.verdict] >= RANK[min]) {
    const top = result.reasons.filter((r) => r.weight > 0).slice(0, 3).map((r) => r.detail);
    const template =
      opts.bannerText ??
      'WARNING: mailwarden rated this message {verdict} (score {score}/100). {reasons}. Do not click links, open attachments or reply with information unless you verified the sender another way.';
    const fill = (t: string, esc: (x: string) => string) =>
      t
        .replace('{verdict}', esc(result.verdict))
        .replace('{score}', String(result.score))
        .replace('{reasons}', esc(top.join('; ') || 'Suspicious characteristics'));
    const banner: Banner = {
      text: `${fill(template, (x) => x)}${eol}${'-'.repeat(60)}${eol}${eol}`,
      html: `<div style="border:2px solid #c92a2a;background:#fff5f5;color:#c92a2a;padding:8px;margin:0 0 12px 0;font-family:sans-serif;font-size:14px" data-mailwarden-banner="1">${fill(template, escapeHtml)}</div>`,
    };
    const r = rewriteEntity(cleaned, body, eol, banner, 0);
    newHead = r.head;
    newBody = r.body;
  }
  return Buffer.from(stamp + newHead + (sep || eol + eol) + newBody, 'latin1');
}
