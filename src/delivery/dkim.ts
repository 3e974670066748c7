// DKIM signing of composed messages: RSA-SHA256 and Ed25519-SHA256 (RFC 8463),
// one or both at once (dual signing), relaxed/relaxed.
//
// Built on mailauth. `dkimSign()` streams the whole message through its parser
// and re-hashes the body every time; mailauth's `DkimSigner` can take a
// precomputed body hash (`bodyHash` + parsed `headers` + `finalize()`), but its
// finalize() re-parses the PEM private key for every message (createPrivateKey:
// ~2 ms, measured — 5× the rest of the work). So this module runs the same steps
// as DkimSigner.finalize() with mailauth's own functions — the relaxed body
// hasher, formatRelaxedLine (relaxed header canonicalisation),
// generateCanonicalizedHeader (the DKIM-Signature template) and
// formatSignatureHeaderLine — and only does the signing itself with node:crypto
// and a KeyObject parsed once per key. No home-made canonicalisation: the only
// shortcut is the body hash of a composed body that relaxed canonicalisation
// provably leaves unchanged (`isRelaxedCanonical`: compose.ts encodes bodies
// so), which is then SHA-256 over the bytes. The body hash is computed once per
// campaign when the body is identical for all recipients (cached on the
// template) and per recipient only when the body is personalised; the relaxed
// form of the campaign's static header fields is computed once (cached on their
// HeadLine objects, compose.ts).
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createRequire } from 'node:module';
import type { PersonalisedMessage } from './compose.ts';

const require = createRequire(import.meta.url);

type ParsedHeaders = { parsed: { key: string; casedKey: string; line: Buffer }[]; original: Buffer };
type SigningLines = { keys: string; headers: ParsedHeaders['parsed'] };
const { generateCanonicalizedHeader } = require('mailauth/lib/dkim/header/index.js') as {
  generateCanonicalizedHeader: (
    type: 'DKIM',
    lines: SigningLines,
    o: { signingDomain: string; selector: string; algorithm: string; canonicalization: string; bodyHash: string; signTime?: Date },
  ) => { canonicalizedHeader: Buffer; dkimHeaderOpts: Record<string, unknown> };
};
const { dkimBody } = require('mailauth/lib/dkim/body/index.js') as {
  dkimBody: (canon: string, algo: string, maxLength: false) => { update(b: Buffer): void; digest(enc: 'base64'): string };
};
const { parseHeaders, formatRelaxedLine, formatSignatureHeaderLine } = require('mailauth/lib/tools.js') as {
  parseHeaders: (b: Buffer) => ParsedHeaders;
  formatRelaxedLine: (line: Buffer, suffix: string) => Buffer;
  formatSignatureHeaderLine: (type: 'DKIM', values: Record<string, unknown>, folded: boolean) => string;
};
const { dkimVerify } = require('mailauth/lib/dkim/verify.js') as {
  dkimVerify: (input: Buffer, o: { resolver?: DnsResolver; curTime?: Date }) => Promise<DkimVerifyResult>;
};

export type DnsResolver = (name: string, rrtype: string) => Promise<unknown>;
type DkimVerifyResult = {
  results: {
    signingDomain?: string;
    selector?: string;
    algo?: string;
    status: { result: string; comment?: string };
  }[];
};

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';
export type DkimKey = {
  domain: string;
  selector: string;
  /** PKCS#8 PEM. */
  privateKey: string;
  algorithm: DkimAlgorithm;
};

/** Headers signed when present (h=). List-Unsubscribe-Post must be signed for RFC 8058 one-click. */
export const SIGNED_HEADERS = [
  'From',
  'Reply-To',
  'Subject',
  'Date',
  'To',
  'Cc',
  'Message-ID',
  'In-Reply-To',
  'References',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'List-Id',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
  'Feedback-ID',
].join(':');

const CRLF = Buffer.from('\r\n');

/** relaxed body hash (base64 SHA-256), with mailauth's canonicaliser. */
export function relaxedBodyHash(body: Buffer): string {
  const h = dkimBody('relaxed', 'sha256', false);
  h.update(body);
  return h.digest('base64');
}

/**
 * True when relaxed body canonicalisation (RFC 6376 §3.4.4) would not change
 * `body`: no tab, no run of spaces, no space before a line break, and it ends
 * in exactly one CRLF (no trailing empty lines). Composed bodies have CRLF line
 * breaks only (compose.ts normalises every run) and are encoded to pass this
 * (compose.ts `relaxedStable`), so their hash is SHA-256 over the bytes. A few
 * native searches instead of canonicalising byte by byte in JavaScript.
 */
export function isRelaxedCanonical(body: Buffer): boolean {
  const n = body.length;
  return (
    n >= 3 &&
    body[n - 2] === 0x0d &&
    body[n - 1] === 0x0a &&
    !(body[n - 3] === 0x0a) &&
    body.indexOf(0x09) < 0 &&
    body.indexOf('  ') < 0 &&
    body.indexOf(' \r\n') < 0
  );
}

/** Body hash of a composed body (its lines are CRLF-terminated; see isRelaxedCanonical). */
function composedBodyHash(body: Buffer): string {
  return isRelaxedCanonical(body) ? createHash('sha256').update(body).digest('base64') : relaxedBodyHash(body);
}

function bodyHashOf(m: PersonalisedMessage): string {
  if (!m.bodyIsStatic)
    return m.bodyCanonical === undefined
      ? composedBodyHash(m.body)
      : m.bodyCanonical
        ? createHash('sha256').update(m.body).digest('base64')
        : relaxedBodyHash(m.body);
  const cache = m.template.bodyHashCache;
  let h = cache.get('relaxed:sha256');
  if (!h) {
    h = composedBodyHash(m.body);
    cache.set('relaxed:sha256', h);
  }
  return h;
}

const keyObjects = new Map<string, KeyObject>();
function keyObject(k: DkimKey): KeyObject {
  let o = keyObjects.get(k.privateKey);
  if (!o) {
    o = createPrivateKey(k.privateKey);
    const expected = k.algorithm === 'ed25519-sha256' ? 'ed25519' : 'rsa';
    if (o.asymmetricKeyType !== expected) throw new Error(`DKIM key ${k.selector}: ${o.asymmetricKeyType} key for ${k.algorithm}`);
    if (keyObjects.size >= 1000) keyObjects.delete(keyObjects.keys().next().value as string);
    keyObjects.set(k.privateKey, o);
  }
  return o;
}

const SIGNED = new Set(SIGNED_HEADERS.toLowerCase().split(':'));
export type SignableLine = { key: string; casedKey: string; line: Buffer; canon?: Buffer };

// The DKIM-Signature field of a message differs from the last one of the same
// key, signed field names and second only in its bh= and b= values, which
// have a fixed length per algorithm and never contain whitespace. mailauth's
// formatting (libmime folds at whitespace only) and relaxed canonicalisation
// (it changes whitespace only) therefore give the same text around them every
// time. So mailauth formats the field once per (key, h=, t=) with placeholder
// characters in the two values — the relaxed form to sign and the folded form
// to write — and each message fills in its own values (~30 µs of string
// formatting per message less). Placeholders are control characters that
// neither occurs in the rest of the field nor counts as whitespace;
// `signatureHeadersByMailauth` is the reference the tests compare with.
const BH_MARK = '\u0001';
const B_MARK = '\u0002';
type SignatureTemplate = { canonical: string[]; folded: string[]; bhLength: number; bLength: number } | null;
const templates = new Map<string, SignatureTemplate>();

/** `text` split at runs of `mark`: [literal, run, literal, run, …, literal] by length of each run. */
function fillable(text: string, marks: string): string[] {
  return text.split(new RegExp(`([${marks}]+)`));
}
/** Put `values` into the mark runs of a split template, in order (a run of a mark takes the next characters of its value). */
function fill(parts: string[], values: Record<string, string>): string {
  const at: Record<string, number> = {};
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (i % 2 === 0) out += p;
    else {
      const v = values[p[0]];
      const from = at[p[0]] ?? 0;
      out += v.slice(from, from + p.length);
      at[p[0]] = from + p.length;
    }
  }
  return out;
}

/** Characters of `mark` in the mark runs of a split template. */
const marked = (parts: string[], mark: string) => parts.reduce((n, p, i) => (i % 2 === 1 && p[0] === mark ? n + p.length : n), 0);

/** The template, or null when the field's other text holds a placeholder character (then mailauth formats per message). */
function signatureTemplate(k: DkimKey, keys: string, t: Date, bhLength: number, bLength: number): SignatureTemplate {
  const id = `${k.algorithm}\u0000${k.domain}\u0000${k.selector}\u0000${keys}\u0000${Math.floor(t.getTime() / 1000)}\u0000${bhLength}\u0000${bLength}`;
  let tpl = templates.get(id);
  if (tpl === undefined) {
    const bh = BH_MARK.repeat(bhLength);
    const { canonicalizedHeader, dkimHeaderOpts } = generateCanonicalizedHeader('DKIM', { keys, headers: [] }, {
      signingDomain: k.domain,
      selector: k.selector,
      algorithm: k.algorithm,
      canonicalization: 'relaxed/relaxed',
      bodyHash: bh,
      signTime: t,
    });
    const folded = formatSignatureHeaderLine('DKIM', { ...dkimHeaderOpts, b: B_MARK.repeat(bLength) }, true);
    const canonical = fillable(canonicalizedHeader.toString('latin1'), BH_MARK + B_MARK);
    const foldedParts = fillable(folded, BH_MARK + B_MARK);
    // Every placeholder character must be one of ours: a selector or domain holding one would be filled wrongly.
    const exact =
      marked(canonical, BH_MARK) === bhLength &&
      marked(canonical, B_MARK) === 0 &&
      marked(foldedParts, BH_MARK) === bhLength &&
      marked(foldedParts, B_MARK) === bLength;
    tpl = exact ? { canonical, folded: foldedParts, bhLength, bLength } : null;
    // A template lives for one second of t=; keep the map small.
    if (templates.size >= 256) templates.clear();
    templates.set(id, tpl);
  }
  return tpl;
}

/** The signed fields of a message, bottom-up and every occurrence (like mailauth's getSigningHeaderLines). */
function signedFields(fields: SignableLine[]): { signed: SignableLine[]; keys: string } {
  const signed: SignableLine[] = [];
  for (let i = fields.length - 1; i >= 0; i--) if (SIGNED.has(fields[i].key)) signed.push(fields[i]);
  return { signed, keys: signed.map((f) => f.casedKey).join(': ') };
}

/** RFC 8463 §3: Ed25519 signs the SHA-256 of the canonicalised header; RSA uses RSASSA-PKCS1-v1_5 with SHA-256. */
function signHeader(k: DkimKey, canonicalizedHeader: Buffer): Buffer {
  return k.algorithm === 'ed25519-sha256'
    ? sign(null, createHash('sha256').update(canonicalizedHeader).digest(), keyObject(k))
    : sign('rsa-sha256', canonicalizedHeader, keyObject(k));
}

/**
 * What DkimSigner.finalize() does for one signature, with a cached KeyObject.
 * The signed fields are canonicalised with mailauth's formatRelaxedLine; a
 * field's canonical form is cached on its HeadLine, so the static fields of a
 * campaign (From, Subject, MIME-Version, Content-Type, List-Id, …; shared
 * objects, see compose.ts) are canonicalised once and only the recipient's own
 * (Date, To, Message-ID, List-Unsubscribe, a personalised Subject) per
 * message. The DKIM-Signature field comes from a template made by mailauth
 * (see above).
 */
function signatureHeaders(keys: DkimKey[], fields: SignableLine[], bodyHash: string, signTime?: Date): Buffer {
  if (keys.length === 0) return Buffer.alloc(0);
  const { signed, keys: h } = signedFields(fields);
  const chunks: Buffer[] = [];
  for (const f of signed) {
    f.canon ??= formatRelaxedLine(f.line, '\r\n');
    chunks.push(f.canon);
  }
  // One t= for the signed and the written header: left to mailauth, each formatSignatureHeaderLine call
  // takes Math.round(Date.now() / 1000) itself, and two calls across a half second gave a signature that fails.
  const t = signTime ?? new Date();
  const out: string[] = [];
  for (const k of keys) {
    const tpl = signatureTemplate(k, h, t, bodyHash.length, signatureLength(k));
    if (!tpl) {
      out.push(signatureHeadersByMailauth([k], fields, bodyHash, t).toString('latin1').slice(0, -2));
      continue;
    }
    const sigField = Buffer.from(fill(tpl.canonical, { [BH_MARK]: bodyHash }), 'latin1');
    const signature = signHeader(k, Buffer.concat([...chunks, sigField])).toString('base64');
    if (signature.length !== tpl.bLength) throw new Error(`DKIM key ${k.selector}: unexpected signature length`);
    out.push(fill(tpl.folded, { [BH_MARK]: bodyHash, [B_MARK]: signature }));
  }
  return Buffer.from(`${out.join('\r\n')}\r\n`);
}

const signatureLengths = new Map<string, number>();
/** Base64 length of the key's signatures (88 for Ed25519, 344 for RSA-2048): the size of the b= placeholder. */
function signatureLength(k: DkimKey): number {
  let n = signatureLengths.get(k.privateKey);
  if (n === undefined) {
    n = signHeader(k, Buffer.from('length probe')).toString('base64').length;
    if (signatureLengths.size >= 1000) signatureLengths.clear();
    signatureLengths.set(k.privateKey, n);
  }
  return n;
}

/** The same DKIM-Signature fields produced by mailauth directly, per message (the reference for the template above). */
export function signatureHeadersByMailauth(keys: DkimKey[], fields: SignableLine[], bodyHash: string, signTime: Date): Buffer {
  if (keys.length === 0) return Buffer.alloc(0);
  const { signed, keys: h } = signedFields(fields);
  const chunks = signed.map((f) => formatRelaxedLine(f.line, '\r\n'));
  const out: string[] = [];
  for (const k of keys) {
    const { canonicalizedHeader: sigField, dkimHeaderOpts } = generateCanonicalizedHeader('DKIM', { keys: h, headers: [] }, {
      signingDomain: k.domain,
      selector: k.selector,
      algorithm: k.algorithm,
      canonicalization: 'relaxed/relaxed',
      bodyHash,
      signTime,
    });
    const signature = signHeader(k, Buffer.concat([...chunks, sigField]));
    out.push(formatSignatureHeaderLine('DKIM', { ...dkimHeaderOpts, b: signature.toString('base64') }, true));
  }
  return Buffer.from(`${out.join('\r\n')}\r\n`);
}

/** The final signed bytes of a personalised message: DKIM-Signature header(s) + head + body. */
export async function signMessage(keys: DkimKey[], m: PersonalisedMessage, signTime?: Date): Promise<Buffer> {
  const sig = signatureHeaders(keys, m.headLines, bodyHashOf(m), signTime);
  return Buffer.concat([sig, m.head, CRLF, m.body]);
}

/** Sign an arbitrary raw message (transactional mail, tests): hashes its body once. */
export async function signRaw(keys: DkimKey[], raw: Buffer, signTime?: Date): Promise<Buffer> {
  const split = raw.indexOf('\r\n\r\n');
  const headEnd = split < 0 ? raw.length : split + 2;
  const head = raw.subarray(0, headEnd);
  const body = split < 0 ? Buffer.alloc(0) : raw.subarray(split + 4);
  const sig = signatureHeaders(keys, parseHeaders(head).parsed, relaxedBodyHash(body), signTime);
  return Buffer.concat([sig, raw]);
}

export type GeneratedDkimKey = DkimKey & {
  /** DNS name of the TXT record. */
  dnsName: string;
  /** TXT record value, e.g. `v=DKIM1; k=ed25519; p=…`. */
  txt: string;
};

/** The `p=` value: raw 32-byte key for Ed25519 (RFC 8463 §4.2), SubjectPublicKeyInfo DER for RSA. */
export function dnsPublicKey(publicKey: KeyObject): string {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return publicKey.asymmetricKeyType === 'ed25519' ? der.subarray(der.length - 32).toString('base64') : der.toString('base64');
}

export function txtRecord(publicKey: KeyObject): string {
  const k = publicKey.asymmetricKeyType === 'ed25519' ? 'ed25519' : 'rsa';
  return `v=DKIM1; k=${k}; p=${dnsPublicKey(publicKey)}`;
}

/** A new signing key and the TXT record to publish at `<selector>._domainkey.<domain>`. */
export function generateDkimKey(kind: 'ed25519' | 'rsa', domain: string, selector: string): GeneratedDkimKey {
  const { privateKey, publicKey } =
    kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    domain,
    selector,
    algorithm: kind === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256',
    privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    dnsName: `${selector}._domainkey.${domain}`,
    txt: txtRecord(publicKey),
  };
}

export function publicKeyOf(k: DkimKey): KeyObject {
  return createPublicKey(k.privateKey);
}

/** A mailauth resolver that serves the TXT records of the given keys (tests, outbox verification). */
export function staticKeyResolver(keys: DkimKey[]): DnsResolver {
  const records = new Map(keys.map((k) => [`${k.selector}._domainkey.${k.domain}`.toLowerCase(), txtRecord(publicKeyOf(k))]));
  return async (name, rrtype) => {
    const txt = rrtype === 'TXT' ? records.get(name.toLowerCase()) : undefined;
    if (!txt) throw Object.assign(new Error(`no ${rrtype} record for ${name}`), { code: 'ENOTFOUND' });
    return [[txt]];
  };
}

export type DkimCheck = { domain: string; selector: string; algorithm: string; result: string; comment?: string };

/** Verify every DKIM signature of a raw message with mailauth. */
export async function verifyDkim(raw: Buffer, resolver: DnsResolver): Promise<DkimCheck[]> {
  const res = await dkimVerify(raw, { resolver });
  return res.results.map((r) => ({
    domain: r.signingDomain ?? '',
    selector: r.selector ?? '',
    algorithm: r.algo ?? '',
    result: r.status.result,
    comment: r.status.comment,
  }));
}
