// Which transport a process sends through: the relays of SMTP_URL (one or
// several, comma-separated, each with an optional `?weight=N`), or — with no
// relay configured, the embedded default — the built-in outbox that captures
// every message in the database for the console.
import type { Db } from '../db/client.ts';
import { OutboxTransport } from './outbox.ts';
import { type MailTransport, RelayPool, relayFromUrl } from './smtp.ts';

export function transportFor(
  smtpUrl: string | undefined,
  db: Db,
  opts: { maxConnections?: number } = {},
): MailTransport {
  if (!smtpUrl) return new OutboxTransport(db);
  const relays = smtpUrl
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((url, i) => {
      const u = new URL(url);
      const weight = Number(u.searchParams.get('weight') ?? 1);
      u.searchParams.delete('weight');
      return {
        ...relayFromUrl(u.toString(), `relay${i + 1}`),
        weight: Number.isFinite(weight) && weight > 0 ? weight : 1,
        maxConnections: opts.maxConnections,
      };
    });
  return new RelayPool(relays);
}
