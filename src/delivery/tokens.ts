// HMAC-signed compact tokens for tracking and unsubscribe URLs.
//
// Version 2 (what is sent now):
//   open, unsubscribe, preferences:  base64url(2 || kind || campaignId 0x00 contactId) "." base64url(mac)
//   click:                           base64url(2 || 2 || campaignId 0x00 contactId) "." base64url(url) "." base64url(mac)
// (mac: 16 bytes). It needs ONE HMAC per recipient instead of one per link: a
// message carries an open pixel, an unsubscribe and a preferences URL and a
// click URL per link (18 tokens for 15 links), and signing each of them
// separately was ~10 % of the CPU per message. The URL has a segment of its
// own so its encoding is made once per campaign, not per recipient.
//
//   R = HMAC-SHA512(kR, 2 || campaignId 0x00 contactId)       once per recipient
//   tag(kind) = R[16·(k−1) .. 16·k]        k = 1 open, 2 click, 3 unsubscribe, 4 preferences
//   L(url) = HMAC-SHA256(kL, 2 || campaignId 0x00 url)[0..16]  once per campaign link
//   mac = tag(kind)                    for open / unsubscribe / preferences
//   mac = tag(click) XOR L(url)        for a click
//
// kR and kL are derived from the tracking key (different HMAC inputs, so the two
// functions are independent). The four slices of R are independent outputs of a
// PRF, so an open token still cannot be turned into an unsubscribe token (the
// kind stays inside the MAC). A click MAC needs both a recipient's click tag
// (only in that recipient's message) and the server's tag for (campaign, url):
// a URL this server never signed for the campaign has an unknown L, so the click
// endpoint is never an open redirect, and no click can be made up for a
// recipient without one of that recipient's click tokens. What XOR allows:
// whoever holds a click token of a recipient (and the link tokens of any message
// of the campaign) can turn it into that recipient's click on another link of
// the same campaign — the same property as a link index checked against the
// campaign's link table, and only what the holder could do by clicking.
// L is cached per (campaign, url) when signing.
//
// Version 1 tokens — base64url(1 || kind || fields joined by 0x00) "." mac, one
// HMAC-SHA256 over the payload, fields = campaignId, contactId (and the URL for
// a click) — are in mail sent before version 2 and are still accepted, so links
// in already-delivered mail keep working.
//
// `verifyToken` returns null for anything malformed, tampered or unknown (→ 404),
// comparing MACs in constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { deriveKey } from '../crypto/aead.ts';

const V1 = 1;
const V2 = 2;
const MAC_BYTES = 16;
const kinds = { open: 1, click: 2, unsubscribe: 3, preferences: 4 } as const;
export type TokenKind = keyof typeof kinds;
const kindByCode = new Map<number, TokenKind>(Object.entries(kinds).map(([k, v]) => [v, k as TokenKind]));

export type TokenPayload =
  | { kind: 'open'; campaignId: string; contactId: string }
  | { kind: 'click'; campaignId: string; contactId: string; url: string }
  | { kind: 'unsubscribe'; campaignId: string; contactId: string }
  | { kind: 'preferences'; campaignId: string; contactId: string };

export function trackingKey(masterKey: Buffer): Buffer {
  return deriveKey(masterKey, 'tracking-tokens');
}

type Link = { tag: Buffer; encoded: string };
type Derived = { recipientKey: Buffer; linkKey: Buffer; links: Map<string, Link> };
const derivedByKey = new WeakMap<Buffer, Derived>();
const MAX_CACHED_LINKS = 20_000;

function derived(key: Buffer): Derived {
  let d = derivedByKey.get(key);
  if (!d) {
    d = {
      recipientKey: createHmac('sha256', key).update('mailwarden token v2: recipient').digest(),
      linkKey: createHmac('sha256', key).update('mailwarden token v2: link').digest(),
      links: new Map(),
    };
    derivedByKey.set(key, d);
  }
  return d;
}

/** Version 1: one HMAC-SHA256 over the whole payload (verification of old tokens only). */
function macV1(key: Buffer, payload: Buffer): Buffer {
  return createHmac('sha256', key).update(payload).digest().subarray(0, MAC_BYTES);
}

/** R: 64 bytes, four independent 16-byte tags, one per kind. */
function recipientMac(key: Buffer, campaignId: string, contactId: string): Buffer {
  return createHmac('sha512', derived(key).recipientKey).update(`\x02${campaignId}\0${contactId}`, 'utf8').digest();
}

const computeLinkTag = (d: Derived, campaignId: string, url: string) =>
  createHmac('sha256', d.linkKey).update(`\x02${campaignId}\0${url}`, 'utf8').digest().subarray(0, MAC_BYTES);

/** L(url) and the URL's token segment, when signing: made once per (campaign, url), after checking the URL is a trackable target. */
function link(key: Buffer, campaignId: string, url: string): Link {
  const d = derived(key);
  const k = `${campaignId}\0${url}`;
  let l = d.links.get(k);
  if (!l) {
    if (typeof url !== 'string' || !isTrackableUrl(url)) throw new TypeError('click target must be an absolute http(s) URL');
    l = { tag: computeLinkTag(d, campaignId, url), encoded: Buffer.from(url, 'utf8').toString('base64url') };
    if (d.links.size >= MAX_CACHED_LINKS) d.links.clear();
    d.links.set(k, l);
  }
  return l;
}

function tagOf(r: Buffer, kind: TokenKind): Buffer {
  const i = (kinds[kind] - 1) * MAC_BYTES;
  return r.subarray(i, i + MAC_BYTES);
}

function xor16(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(MAC_BYTES);
  for (let i = 0; i < MAC_BYTES; i++) out[i] = a[i] ^ b[i];
  return out;
}

/** Only absolute http(s) URLs can be click targets. */
export function isTrackableUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname !== '';
  } catch {
    return false;
  }
}

const assertIds = (campaignId: string, contactId: string) => {
  for (const f of [campaignId, contactId])
    if (typeof f !== 'string' || f.includes('\0')) throw new TypeError('token fields must be strings without NUL');
};

const idsSegment = (kind: TokenKind, campaignId: string, contactId: string) =>
  Buffer.from(`\x02${String.fromCharCode(kinds[kind])}${campaignId}\0${contactId}`, 'utf8').toString('base64url');

/** A single token (version 2). For a whole message use `trackingUrls`, which computes the recipient MAC once. */
export function signToken(key: Buffer, p: TokenPayload): string {
  assertIds(p.campaignId, p.contactId);
  const r = recipientMac(key, p.campaignId, p.contactId);
  if (p.kind === 'click') {
    const l = link(key, p.campaignId, p.url);
    return `${idsSegment('click', p.campaignId, p.contactId)}.${l.encoded}.${xor16(tagOf(r, 'click'), l.tag).toString('base64url')}`;
  }
  return `${idsSegment(p.kind, p.campaignId, p.contactId)}.${tagOf(r, p.kind).toString('base64url')}`;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** base64url in its one canonical form, decoded; null otherwise. */
function b64(segment: string): Buffer | null {
  if (!B64URL.test(segment)) return null;
  const b = Buffer.from(segment, 'base64url');
  return b.toString('base64url') === segment ? b : null;
}

/** UTF-8 text that round-trips (else its fields are not what was signed). */
function utf8(b: Buffer): string | null {
  const text = b.toString('utf8');
  return Buffer.from(text, 'utf8').equals(b) ? text : null;
}

/** The payload of a genuine token of the expected kind (version 1 or 2), or null. Never throws. */
export function verifyToken<K extends TokenKind>(key: Buffer, token: unknown, expected: K): Extract<TokenPayload, { kind: K }> | null {
  if (typeof token !== 'string' || token.length > 4096) return null;
  const segments = token.split('.');
  if (segments.length !== 2 && segments.length !== 3) return null;
  const payload = b64(segments[0]);
  const given = b64(segments[segments.length - 1]);
  if (!payload || !given || given.length !== MAC_BYTES || payload.length < 2) return null;
  const version = payload[0];
  const kind = kindByCode.get(payload[1]);
  if (kind !== expected || (version !== V1 && version !== V2)) return null;
  // a version 2 click has the URL as its middle segment; nothing else has three
  if ((segments.length === 3) !== (version === V2 && kind === 'click')) return null;
  const text = utf8(payload.subarray(2));
  if (text === null) return null;
  const fields = text.split('\0');
  if (segments.length === 3) {
    const url = b64(segments[1]);
    const u = url && utf8(url);
    if (!u) return null;
    fields.push(u);
  }
  if (fields.length !== (kind === 'click' ? 3 : 2)) return null;
  if (kind === 'click' && !isTrackableUrl(fields[2])) return null;
  let expectedMac: Buffer;
  if (version === V1) expectedMac = macV1(key, payload);
  else {
    const r = recipientMac(key, fields[0], fields[1]);
    // not cached: URLs of requests are chosen by whoever sends them
    expectedMac = kind === 'click' ? xor16(tagOf(r, 'click'), computeLinkTag(derived(key), fields[0], fields[2])) : tagOf(r, kind);
  }
  if (!timingSafeEqual(given, expectedMac)) return null;
  if (kind === 'click')
    return { kind, campaignId: fields[0], contactId: fields[1], url: fields[2] } as Extract<TokenPayload, { kind: K }>;
  return { kind, campaignId: fields[0], contactId: fields[1] } as Extract<TokenPayload, { kind: K }>;
}

export type RecipientUrls = {
  open: string;
  click: (url: string) => string;
  unsubscribe: string;
  preferences: string;
};

/** URLs for one recipient, built from the public base URL (PUBLIC_URL): one HMAC for all of them. */
export function trackingUrls(key: Buffer, baseUrl: string, campaignId: string, contactId: string): RecipientUrls {
  assertIds(campaignId, contactId);
  const base = baseUrl.endsWith('/') ? baseUrl.slice(0, -1) : baseUrl;
  const r = recipientMac(key, campaignId, contactId);
  const token = (kind: TokenKind) => `${idsSegment(kind, campaignId, contactId)}.${tagOf(r, kind).toString('base64url')}`;
  const clickTag = tagOf(r, 'click');
  const clickPrefix = `${base}/t/c/${idsSegment('click', campaignId, contactId)}.`;
  return {
    open: `${base}/t/o/${token('open')}`,
    click: (url: string) => {
      const l = link(key, campaignId, url);
      return `${clickPrefix}${l.encoded}.${xor16(clickTag, l.tag).toString('base64url')}`;
    },
    unsubscribe: `${base}/t/u/${token('unsubscribe')}`,
    preferences: `${base}/t/p/${token('preferences')}`,
  };
}
