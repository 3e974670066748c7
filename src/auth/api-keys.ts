// API keys for machines and third-party systems: `mwk_<prefix>_<secret>`.
// The prefix identifies the key in lists and logs; the 256-bit secret is stored
// as SHA-256 only and shown once. Scopes, expiry and an IP allow-list bound it.
import { createHash, randomBytes } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { desc, eq } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { sameHash } from './totp.ts';
import { apiKeys } from './schema.ts';

export type ApiKeyRow = typeof apiKeys.$inferSelect;

const TOKEN_RE = /^mwk_([A-Za-z0-9]{10})_([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export function isValidIpRule(rule: string): boolean {
  const [addr, bits] = rule.split('/');
  const family = isIP(addr);
  if (!family) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return Number.isInteger(n) && n >= 0 && n <= (family === 4 ? 32 : 128);
}

export function ipAllowed(rules: string[], ip: string | undefined): boolean {
  if (rules.length === 0) return true;
  if (!ip) return false;
  const clean = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  const list = new BlockList();
  for (const rule of rules) {
    const [addr, bits] = rule.split('/');
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list.check(clean, isIP(clean) === 6 ? 'ipv6' : 'ipv4');
}

export async function createApiKey(
  db: Tx,
  input: { name: string; scopes: string[]; expiresAt: Date | null; allowedIps: string[]; createdBy: number | null },
): Promise<{ apiKey: ApiKeyRow; secret: string }> {
  const prefix = randomBytes(16).toString('base64url').replace(/[^A-Za-z0-9]/g, '').slice(0, 10).padEnd(10, '0');
  const secretPart = randomBytes(32).toString('base64url');
  const secret = `mwk_${prefix}_${secretPart}`;
  const [apiKey] = await db
    .insert(apiKeys)
    .values({ ...input, prefix, secretHash: sha256(secretPart) })
    .returning();
  return { apiKey, secret };
}

export type KeyCheck = { ok: true; key: ApiKeyRow } | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' | 'expired' | 'ip_not_allowed'; key?: ApiKeyRow };

export async function authenticateApiKey(db: Tx, token: string, ip: string | undefined): Promise<KeyCheck> {
  const m = TOKEN_RE.exec(token);
  if (!m) return { ok: false, reason: 'malformed' };
  const [key] = await db.select().from(apiKeys).where(eq(apiKeys.prefix, m[1]));
  if (!key || !sameHash(key.secretHash, sha256(m[2]))) return { ok: false, reason: 'unknown' };
  if (key.revokedAt) return { ok: false, reason: 'revoked', key };
  if (key.expiresAt && key.expiresAt.getTime() <= Date.now()) return { ok: false, reason: 'expired', key };
  if (!ipAllowed(key.allowedIps, ip)) return { ok: false, reason: 'ip_not_allowed', key };
  // Recording every use would turn reads into writes; once a minute or on a new IP is enough.
  if (!key.lastUsedAt || Date.now() - key.lastUsedAt.getTime() > 60_000 || key.lastUsedIp !== (ip ?? null))
    await db.update(apiKeys).set({ lastUsedAt: new Date(), lastUsedIp: ip ?? null }).where(eq(apiKeys.id, key.id));
  return { ok: true, key };
}

export async function listApiKeys(db: Tx): Promise<ApiKeyRow[]> {
  return db.select().from(apiKeys).orderBy(desc(apiKeys.id));
}

export async function revokeApiKey(db: Tx, id: number): Promise<ApiKeyRow | null> {
  const [row] = await db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, id)).returning();
  return row ?? null;
}
