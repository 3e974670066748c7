// TOTP per RFC 6238 (SHA-1, 6 digits, 30 s, ±1 step) through `otpauth`, with
// replay protection: the last accepted time step is stored and any code for
// that step or an earlier one is refused (OWASP ASVS v4 2.8.4/2.8.5).
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOTP_PERIOD = 30;
export const TOTP_WINDOW = 1;

export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

function totp(secretBase32: string, label = 'user', issuer = 'mailwarden'): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: 6, period: TOTP_PERIOD, secret: Secret.fromBase32(secretBase32) });
}

export function totpUri(secretBase32: string, label: string, issuer = 'mailwarden'): string {
  return totp(secretBase32, label, issuer).toString();
}

export async function totpQrDataUrl(uri: string): Promise<string> {
  const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}

/** Code for a given time (tests and benchmarks compute codes like an authenticator app). */
export function totpCode(secretBase32: string, at = Date.now()): string {
  return totp(secretBase32).generate({ timestamp: at });
}

export type TotpCheck = { ok: true; step: number } | { ok: false; reason: 'invalid' | 'replayed' };

/** Check a code; `lastStep` is the last step accepted for this user (null if none). */
export function checkTotp(secretBase32: string, code: string, lastStep: number | null, at = Date.now()): TotpCheck {
  const clean = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(clean)) return { ok: false, reason: 'invalid' };
  const delta = totp(secretBase32).validate({ token: clean, timestamp: at, window: TOTP_WINDOW });
  if (delta === null) return { ok: false, reason: 'invalid' };
  const step = Math.floor(at / 1000 / TOTP_PERIOD) + delta;
  if (lastStep !== null && step <= lastStep) return { ok: false, reason: 'replayed' };
  return { ok: true, step };
}

// Recovery codes: 10 single-use codes of 10 base32 characters (50 bits each),
// shown once and stored as SHA-256 (high entropy, so a fast hash suffices).
const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
export function newRecoveryCodes(count = 10): string[] {
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(10);
    const chars = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

export function hashRecoveryCode(code: string): string {
  return createHash('sha256').update(code.trim().toLowerCase().replace(/[^a-z0-9]/g, '')).digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
