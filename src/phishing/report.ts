// Reported-message extraction: an employee forwards a suspicious mail to the report mailbox;
// recover the original message (a message/rfc822 or .eml attachment, or an inline forward
// reconstructed from the "Forwarded message" block) and who reported it. Pure and bounded.
import PostalMime from 'postal-mime';
import { boundRaw, LIMITS, toBuffer } from './parse.ts';

export interface ReportedMessage {
  /** The original message as raw RFC 5322 bytes, or null if none could be found. */
  original: Buffer | null;
  method: 'attachment' | 'inline' | 'none';
  reporter?: { name: string; address: string };
  /** Subject of the report mail itself. */
  reportSubject?: string;
}

const MARKERS = [
  /^-{2,}\s*Forwarded message\s*-{2,}\s*$/im,
  /^-{2,}\s*Original Message\s*-{2,}\s*$/im,
  /^Begin forwarded message:\s*$/im,
  /^-{2,}\s*(Weitergeleitete Nachricht|Urspr[üu]ngliche Nachricht)\s*-{2,}\s*$/im,
  /^-{2,}\s*(Mensagem encaminhada|Mensagem original)\s*-{2,}\s*$/im,
  /^-{2,}\s*(Mensaje reenviado|Mensaje original)\s*-{2,}\s*$/im,
  /^_{10,}\s*$(?=\s*^(From|De|Von):)/im,
];

const HEADER_MAP: Record<string, string> = {
  from: 'From', de: 'From', von: 'From',
  to: 'To', para: 'To', an: 'To',
  cc: 'Cc', kopie: 'Cc',
  subject: 'Subject', assunto: 'Subject', asunto: 'Subject', betreff: 'Subject',
  date: 'Date', sent: 'Date', enviado: 'Date', enviada: 'Date', fecha: 'Date', datum: 'Date', gesendet: 'Date', data: 'Date',
  'reply-to': 'Reply-To',
};

function sanitizeHeaderValue(v: string): string {
  return v.replace(/[\r\n]+/g, ' ').slice(0, 2000).trim();
}

/** Rebuilds an RFC 5322 message from the text after a forward marker. */
export function reconstructInline(text: string): Buffer | null {
  let found: RegExpExecArray | null = null;
  for (const re of MARKERS) {
    const m = re.exec(text);
    if (m && (!found || m.index < found.index)) found = m;
  }
  if (!found) return null;
  let rest = text.slice(found.index + found[0].length).replace(/^\s*\n/, '');
  // Quoted forwards ("> From: ...") are unquoted.
  if (/^>/m.test(rest.split('\n')[0] ?? '')) rest = rest.replace(/^> ?/gm, '');
  const lines = rest.split(/\r?\n/);
  const headers: [string, string][] = [];
  let i = 0;
  for (; i < lines.length && i < 40; i++) {
    const line = lines[i].replace(/^\*+|\*+$/g, '').trim();
    if (!line) {
      if (headers.length) break;
      continue;
    }
    const m = /^\*?([A-Za-z-]{2,12})\*?:\s*(.*)$/.exec(line);
    const name = m && HEADER_MAP[m[1].toLowerCase()];
    if (!m || !name) {
      if (headers.length) break;
      return null;
    }
    headers.push([name, sanitizeHeaderValue(m[2].replace(/\[mailto:[^\]]*\]/g, ''))]);
  }
  if (!headers.some(([k]) => k === 'From')) return null;
  const body = lines.slice(i).join('\r\n').trim();
  const head = headers.map(([k, v]) => `${k}: ${v}`).join('\r\n');
  return Buffer.from(
    `${head}\r\nX-Mailwarden-Reconstructed: inline-forward\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${body}\r\n`,
    'utf8',
  );
}

export async function extractReportedMessage(raw: Buffer | string): Promise<ReportedMessage> {
  const limits: string[] = [];
  const buf = boundRaw(toBuffer(raw), limits);
  let email: Awaited<ReturnType<typeof PostalMime.parse>>;
  try {
    email = await PostalMime.parse(buf, {
      forceRfc822Attachments: true,
      attachmentEncoding: 'arraybuffer',
      maxNestingDepth: LIMITS.maxDepth,
      maxHeadersSize: LIMITS.maxHeadersSize,
    });
  } catch {
    return { original: null, method: 'none' };
  }
  const from = email.from && 'address' in email.from && email.from.address ? email.from : undefined;
  const reporter = from ? { name: from.name ?? '', address: (from.address ?? '').toLowerCase() } : undefined;
  const base = { reporter, reportSubject: email.subject };
  for (const a of email.attachments) {
    const isMsg = a.mimeType === 'message/rfc822' || /\.eml$/i.test(a.filename ?? '');
    if (!isMsg) continue;
    const c = a.content;
    const bytes = typeof c === 'string' ? Buffer.from(c) : Buffer.from(c instanceof Uint8Array ? c : new Uint8Array(c));
    if (bytes.length) return { ...base, original: bytes, method: 'attachment' };
  }
  const text = email.text ?? (email.html ? htmlText(email.html) : '');
  const rebuilt = reconstructInline(text);
  if (rebuilt) return { ...base, original: rebuilt, method: 'inline' };
  return { ...base, original: null, method: 'none' };
}

function htmlText(html: string): string {
  return html
    .replace(/<br\s*\/?>|<\/(p|div)>/gi, '\n')
    .replace(/<[^<>]{0,2000}>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&');
}
