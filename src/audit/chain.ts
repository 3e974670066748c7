// Hash chain over audit entries: each entry's hash covers its canonical form and
// the previous entry's hash, so altering, removing or reordering any entry
// breaks every hash after it.
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

export type ChainedFields = {
  at: Date;
  actorType: string;
  actorId: string | null;
  actorLabel: string | null;
  action: string;
  target: string | null;
  outcome: string;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
};

/** JSON with object keys sorted at every level (JSONB does not keep key order). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function entryHash(fields: ChainedFields, prevHash: string): string {
  const canonical = canonicalJson({
    at: fields.at.toISOString(),
    actorType: fields.actorType,
    actorId: fields.actorId,
    actorLabel: fields.actorLabel,
    action: fields.action,
    target: fields.target,
    outcome: fields.outcome,
    ip: fields.ip,
    userAgent: fields.userAgent,
    details: fields.details,
  });
  return createHash('sha256').update(prevHash).update('\n').update(canonical).digest('hex');
}
