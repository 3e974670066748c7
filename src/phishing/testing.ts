// Builders for tests and the bench: synthetic messages and archives. Not used at runtime.
import { crc32 } from 'node:zlib';

export interface MessageSpec {
  from?: string;
  to?: string;
  subject?: string;
  replyTo?: string;
  returnPath?: string;
  authResults?: string;
  text?: string;
  html?: string;
  headers?: Record<string, string>;
  attachments?: { filename: string; contentType?: string; content: Buffer | string }[];
}

export function buildMessage(spec: MessageSpec): Buffer {
  const h: string[] = [];
  if (spec.returnPath) h.push(`Return-Path: <${spec.returnPath}>`);
  if (spec.authResults) h.push(`Authentication-Results: ${spec.authResults}`);
  h.push(`From: ${spec.from ?? 'Alice Example <alice@example.org>'}`);
  h.push(`To: ${spec.to ?? 'user@example.com'}`);
  if (spec.replyTo) h.push(`Reply-To: ${spec.replyTo}`);
  h.push(`Subject: ${spec.subject ?? 'Hello'}`);
  h.push('Date: Mon, 6 May 2024 10:00:00 +0000', 'Message-ID: <test@example.org>', 'MIME-Version: 1.0');
  for (const [k, v] of Object.entries(spec.headers ?? {})) h.push(`${k}: ${v}`);
  const leaves: string[] = [];
  if (spec.text !== undefined) leaves.push(`Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${spec.text}`);
  if (spec.html !== undefined) leaves.push(`Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${spec.html}`);
  const atts = (spec.attachments ?? []).map((a) => {
    const b64 = (Buffer.from(a.content).toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
    return `Content-Type: ${a.contentType ?? 'application/octet-stream'}; name="${a.filename}"\r\nContent-Disposition: attachment; filename="${a.filename}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}`;
  });
  let body: string;
  if (leaves.length === 1 && atts.length === 0) {
    body = leaves[0];
  } else {
    const alt = leaves.length > 1 ? `Content-Type: multipart/alternative; boundary="alt-b"\r\n\r\n${leaves.map((l) => `--alt-b\r\n${l}\r\n`).join('')}--alt-b--` : leaves[0] ?? 'Content-Type: text/plain\r\n\r\n';
    body = `Content-Type: multipart/mixed; boundary="mix-b"\r\n\r\n--mix-b\r\n${alt}\r\n${atts.map((a) => `--mix-b\r\n${a}\r\n`).join('')}--mix-b--\r\n`;
  }
  return Buffer.from(`${h.join('\r\n')}\r\n${body}\r\n`, 'utf8');
}

export interface ZipSpecEntry {
  name: string;
  data?: Buffer;
  /** Pretend the entry is this large uncompressed (zip-bomb style declaration). */
  declaredSize?: number;
  encrypted?: boolean;
}

/** A minimal stored (uncompressed) ZIP with a valid central directory. */
export function buildZip(entries: ZipSpecEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = e.data ?? Buffer.from('x');
    const name = Buffer.from(e.name, 'utf8');
    const flags = (e.encrypted ? 1 : 0) | 0x800;
    const size = e.declaredSize ?? data.length;
    const crc = crc32(data) >>> 0;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(flags, 6);
    lh.writeUInt16LE(e.declaredSize ? 8 : 0, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(data.length, 18);
    lh.writeUInt32LE(size, 22);
    lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(flags, 8);
    ch.writeUInt16LE(e.declaredSize ? 8 : 0, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(data.length, 20);
    ch.writeUInt32LE(size, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, name, data);
    centrals.push(ch, name);
    offset += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}
