// Which reports are the same case, and whether a reporter is staff: helpers of the analyst
// queue (queue.ts), kept apart so they can be tested without a database.
import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { users } from '../auth/schema.ts';
import type { Tx } from '../db/client.ts';
import { domainOf } from './domains.ts';

function splitHead(raw: Buffer): { head: string; body: Buffer } {
  const s = raw.subarray(0, 64 * 1024).toString('latin1');
  const m = /\r?\n\r?\n/.exec(s);
  return m
    ? { head: s.slice(0, m.index), body: raw.subarray(m.index + m[0].length) }
    : { head: s, body: Buffer.alloc(0) };
}

export function messageIdOf(raw: Buffer): string | null {
  const m = /^Message-ID:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)/im.exec(splitHead(raw).head);
  return m ? m[1].replace(/\s+/g, ' ').trim().slice(0, 500) : null;
}

/**
 * The same message reported by several employees: by Message-ID when it has one, else by a hash
 * of From, Subject and body (line endings and trailing whitespace normalised: each forward
 * re-encodes lines). From and Subject are in the hash so that two senders' identical short
 * bodies ("see attached") stay separate cases.
 */
export function dedupeKeyOf(raw: Buffer): string {
  const mid = messageIdOf(raw);
  if (mid && /<[^<>\s]+@[^<>\s]+>/.test(mid)) return `mid:${mid.toLowerCase()}`;
  const { head, body } = splitHead(raw);
  const field = (name: string) =>
    (new RegExp(`^${name}:[ \\t]*([^\\r\\n]*(?:\\r?\\n[ \\t][^\\r\\n]*)*)`, 'im').exec(head)?.[1] ?? '')
      .replace(/\s+/g, ' ')
      .trim()
      .toLowerCase();
  const text = body
    .toString('latin1')
    .replace(/[ \t]+\r?$/gm, '')
    .replace(/\r\n/g, '\n')
    .trim();
  return `body:${createHash('sha256')
    .update(`${field('From')}\n${field('Subject')}\n${text}`, 'latin1')
    .digest('hex')}`;
}

/**
 * A reporter is verified staff when the address belongs to a mailwarden user (not disabled) or to
 * one of the workspace's domains. The From of a report can be forged like any From: this only
 * separates "one of ours" from strangers writing to the mailbox, it does not authenticate.
 */
export async function verifyReporter(
  db: Tx,
  reporter: string | undefined,
  staffDomains: string[],
): Promise<boolean> {
  const addr = reporter?.trim().toLowerCase();
  if (!addr?.includes('@')) return false;
  const domain = domainOf(addr);
  if (
    domain &&
    staffDomains.some((d) => domain === d.toLowerCase() || domain.endsWith(`.${d.toLowerCase()}`))
  )
    return true;
  const [u] = await db
    .select({ id: users.id })
    .from(users)
    .where(and(sql`lower(${users.email}) = ${addr}`, eq(users.disabled, false)))
    .limit(1);
  return !!u;
}
