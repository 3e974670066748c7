// Security events: the types, the JSON schema accepted from outside
// (POST /api/events, `events ingest --format jsonl`), and the mapping of
// mailwarden's own audit entries to events.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AuditEntry } from '../audit/service.ts';

export const eventTypes = [
  'auth.login.success',
  'auth.login.failure',
  'auth.login.denied',
  'auth.lockout',
  'auth.2fa.failure',
  'auth.2fa.change',
  'session.created',
  'auth.password_changed',
  'session.revoked',
  'apikey.used',
  'apikey.rejected',
  'apikey.change',
  'data.export',
  'data.unmasked_read',
  'data.import',
  'campaign.launched',
  'mail.sent',
  'mail.deferred',
  'mail.bounced',
  'mail.rejected',
  'mail.forwarded',
  'attachment.uploaded',
  'settings.changed',
  'user.role_changed',
  'user.changed',
] as const;
export type EventType = (typeof eventTypes)[number];

/** Event types that count as privileged actions (off-hours detector). */
export const privilegedTypes = new Set<string>(['settings.changed', 'user.role_changed', 'user.changed', 'apikey.change', 'auth.2fa.change']);

const ip = z.union([z.ipv4(), z.ipv6()]);

/** One event as accepted from outside. Unknown keys are refused. */
export const eventInput = z
  .object({
    type: z.enum(eventTypes),
    at: z.iso.datetime({ offset: true }).optional().describe('ISO 8601; defaults to the time of receipt'),
    actor: z.string().min(1).max(320).optional().describe('user e-mail, API key label or mail sender'),
    actorType: z.enum(['user', 'api_key', 'sender', 'system', 'anonymous']).optional(),
    actorId: z.string().max(200).optional(),
    target: z.string().max(500).optional().describe('account signed into, recipient, file…'),
    outcome: z.enum(['success', 'failure', 'denied']).optional(),
    ip: ip.optional(),
    userAgent: z.string().max(512).optional(),
    country: z.string().regex(/^[A-Z]{2}$/).optional().describe('ISO 3166 alpha-2; looked up from ip when absent'),
    asn: z.number().int().min(0).max(4_294_967_295).optional(),
    size: z.number().int().min(0).optional().describe('bytes'),
    count: z.number().int().min(0).optional().describe('rows or recipients'),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type EventInput = z.infer<typeof eventInput>;

/** An event ready to store (geo filled in) and, after insert, with its id. */
export type MonitorEvent = {
  id?: number;
  at: Date;
  type: string;
  source: string;
  actorType: string | null;
  actorId: string | null;
  actor: string | null;
  target: string | null;
  outcome: string | null;
  ip: string | null;
  userAgent: string | null;
  country: string | null;
  city: string | null;
  lat: number | null;
  lon: number | null;
  asn: number | null;
  size: number | null;
  count: number | null;
  details: Record<string, unknown>;
};
export type StoredEvent = MonitorEvent & { id: number };

export type Reject = { index: number; line?: number; reason: string };

/** Validate records; good ones come back as events, bad ones as rejects with the reason. */
export function validateEvents(records: unknown[], source: string, lineOf?: (i: number) => number): { events: MonitorEvent[]; rejects: Reject[] } {
  const events: MonitorEvent[] = [];
  const rejects: Reject[] = [];
  records.forEach((rec, index) => {
    const r = eventInput.safeParse(rec);
    if (!r.success) {
      const reason = r.error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`).join('; ');
      rejects.push({ index, ...(lineOf ? { line: lineOf(index) } : {}), reason });
      return;
    }
    events.push(fromInput(r.data, source));
  });
  return { events, rejects };
}

export function fromInput(e: EventInput, source: string): MonitorEvent {
  return {
    at: e.at ? new Date(e.at) : new Date(),
    type: e.type,
    source,
    actorType: e.actorType ?? null,
    actorId: e.actorId ?? null,
    actor: e.actor?.toLowerCase() ?? null,
    target: e.target ?? null,
    outcome: e.outcome ?? defaultOutcome(e.type),
    ip: e.ip ?? null,
    userAgent: e.userAgent ?? null,
    country: e.country ?? null,
    city: null,
    lat: null,
    lon: null,
    asn: e.asn ?? null,
    size: e.size ?? null,
    count: e.count ?? null,
    details: e.details ?? {},
  };
}

function defaultOutcome(type: string): string | null {
  if (type.endsWith('.failure') || type === 'mail.bounced' || type === 'apikey.rejected') return 'failure';
  if (type.endsWith('.denied') || type === 'mail.rejected') return 'denied';
  return 'success';
}

/** A short device fingerprint from the user agent: browser family + OS family (versions ignored). */
export function deviceOf(userAgent: string | null | undefined): string | null {
  if (!userAgent) return null;
  const ua = userAgent;
  const browser = /Edg\//.test(ua) ? 'edge' : /Firefox\//.test(ua) ? 'firefox' : /Chrome\//.test(ua) ? 'chrome' : /Safari\//.test(ua) ? 'safari' : ua.split(/[\s/]/)[0].toLowerCase();
  const os = /Windows/.test(ua) ? 'windows' : /Android/.test(ua) ? 'android' : /iPhone|iPad|iOS/.test(ua) ? 'ios' : /Mac OS X|Macintosh/.test(ua) ? 'macos' : /Linux/.test(ua) ? 'linux' : 'other';
  return createHash('sha256').update(`${browser}|${os}`).digest('hex').slice(0, 12) + `:${browser}/${os}`;
}

/** Map one audit entry of mailwarden itself to a security event (or null when not security-relevant). */
export function eventFromAudit(a: Pick<AuditEntry, 'at' | 'actorType' | 'actorId' | 'actorLabel' | 'action' | 'target' | 'outcome' | 'ip' | 'userAgent' | 'details'>): MonitorEvent | null {
  const d = a.details ?? {};
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  let type: string | null = null;
  let count: number | null = null;
  // Sign-in events are about the account signed into (target), whoever the actor was.
  let actor: string | null = a.actorLabel ?? null;
  switch (a.action) {
    case 'auth.login':
      type = a.outcome === 'success' ? 'auth.login.success' : a.outcome === 'denied' ? 'auth.login.denied' : 'auth.login.failure';
      actor = a.target ?? actor;
      break;
    case 'auth.lockout':
      type = 'auth.lockout';
      actor = a.target ?? actor;
      break;
    case 'auth.totp':
    case 'auth.totp_replay':
    case 'auth.recovery_code':
      if (a.outcome === 'failure') type = 'auth.2fa.failure';
      actor = a.target ?? actor;
      break;
    case '2fa.enabled':
    case '2fa.disabled':
    case '2fa.reset':
    case '2fa.recovery_codes_regenerated':
      type = 'auth.2fa.change';
      break;
    case 'session.revoked':
    case 'session.revoked_all':
    case 'session.revoked_others':
      type = 'session.revoked';
      break;
    case 'apikey.rejected':
      type = 'apikey.rejected';
      break;
    case 'apikey.created':
    case 'apikey.revoked':
      type = 'apikey.change';
      break;
    case 'contacts.exported':
    case 'contacts.privacy_export':
      type = 'data.export';
      count = num(d.count) ?? num(d.rows) ?? 1;
      break;
    case 'contacts.unmasked_read':
      type = 'data.unmasked_read';
      count = num(d.count) ?? 1;
      break;
    case 'contacts.imported':
      type = 'data.import';
      count = num(d.rows) ?? num(d.inserted);
      break;
    case 'settings.changed':
      type = 'settings.changed';
      break;
    case 'user.role_changed':
      type = 'user.role_changed';
      break;
    case 'user.created':
    case 'user.updated':
    case 'user.unlocked':
      type = 'user.changed';
      break;
    case 'user.password_changed':
      type = 'auth.password_changed';
      break;
    default:
      return null;
  }
  if (!type) return null;
  return {
    at: a.at,
    type,
    source: 'app',
    actorType: a.actorType,
    actorId: a.actorId,
    actor: actor?.toLowerCase() ?? null,
    target: a.target,
    outcome: a.outcome,
    ip: a.ip,
    userAgent: a.userAgent,
    country: null,
    city: null,
    lat: null,
    lon: null,
    asn: null,
    size: null,
    count,
    details: { action: a.action, ...(typeof d.reason === 'string' ? { reason: d.reason } : {}), ...(d.method ? { method: d.method } : {}) },
  };
}
