// Which transport a process sends through: the relays of SMTP_URL (one or
// several, comma-separated, each with an optional `?weight=N`), or — with no
// relay configured, the embedded default — the built-in outbox that captures
// every message in the database for the console.
import type { Db } from '../db/client.ts';
import { OutboxTransport, outboxKey } from './outbox.ts';
import { type MailTransport, RelayPool, relayFromUrl } from './smtp.ts';

export function transportFor(
  smtpUrl: string | undefined,
  db: Db,
  opts: { masterKey?: Buffer; maxConnections?: number } = {},
): MailTransport {
  if (!smtpUrl) {
    // The outbox seals what it captures: it needs the master key.
    if (!opts.masterKey) throw new Error('the built-in outbox needs the master key');
    return new OutboxTransport(db, outboxKey(opts.masterKey));
  }
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
