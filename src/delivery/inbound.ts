// The inbound SMTP listener for bounces and complaints (started by `serve` when
// INBOUND_SMTP_PORT > 0), built on src/smtp/listener.ts: no authentication, it
// accepts mail only for addresses at BOUNCE_DOMAIN (never relays) — plus the
// recipients of `alsoRoutes` when another flow (the phishing report mailbox)
// shares the port — up to a size limit, with timeouts and a client cap. Every
// accepted bounce/complaint is stored in
// inbound_reports — parsed or not, so unparseable reports stay for review — and
// the parse result is handed to `onReport` (the delivery ledger applies it).
import type { SMTPServerSession } from 'smtp-server';
import type { Logger } from '../config/logger.ts';
import type { Db } from '../db/client.ts';
import { type SmtpListener, type SmtpRoute, startSmtpListener } from '../smtp/listener.ts';
import { type ParseOutcome, parseReport } from './bounces.ts';
import { inboundReports } from './schema.ts';

export type StoredReport = { id: number; envelopeFrom: string; envelopeTo: string[]; outcome: ParseOutcome };

export type BounceRouteOptions = {
  db: Db;
  bounceDomain: string;
  onReport?: (r: StoredReport) => Promise<void> | void;
  logger?: Logger;
};

export type InboundOptions = BounceRouteOptions & {
  port: number;
  host?: string;
  /** Bytes; default 10 MiB (DSNs carry the original message). */
  maxSize?: number;
  maxClients?: number;
  socketTimeoutMs?: number;
  /** Other mail flows sharing this port (e.g. the phishing report mailbox), routed by RCPT TO. */
  alsoRoutes?: SmtpRoute[];
};

export type InboundListener = SmtpListener;

/** Bounces and complaints: every recipient at the bounce domain. */
export function bounceRoute(opts: BounceRouteOptions): SmtpRoute {
  const domain = opts.bounceDomain.toLowerCase();
  return {
    name: 'bounce processor',
    accepts: (rcpt) => rcpt.endsWith(`@${domain}`),
    handle: (raw, session) => handle(opts, raw, session).then(() => undefined),
  };
}

export async function startInboundListener(opts: InboundOptions): Promise<InboundListener> {
  const domain = opts.bounceDomain.toLowerCase();
  const routes = [bounceRoute(opts), ...(opts.alsoRoutes ?? [])];
  const names = routes.map((r) => r.name);
  const listener = await startSmtpListener({
    ...opts,
    name: domain,
    banner: `mailwarden ${names.join(' and ')}`,
    routes,
    refusal: routes.length > 1 ? '5.7.1 Relaying denied: unknown recipient' : '5.7.1 Relaying denied: this server only accepts bounces',
  });
  opts.logger?.info({ port: listener.port, bounceDomain: domain, routes: names }, 'inbound SMTP listener for bounces and complaints');
  return listener;
}

async function handle(opts: BounceRouteOptions, raw: Buffer, session: SMTPServerSession): Promise<void> {
  const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  const envelopeTo = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
  const outcome = await parseReport(raw, { envelopeTo, bounceDomain: opts.bounceDomain });
  const [row] = await opts.db
    .insert(inboundReports)
    .values({
      remoteAddress: session.remoteAddress ?? null,
      envelopeFrom,
      envelopeTo,
      raw,
      size: raw.length,
      kind: outcome.status === 'parsed' ? outcome.report.kind : outcome.kind,
      parseStatus: outcome.status,
      parseError: outcome.status === 'unparseable' ? outcome.error : null,
      summary: outcome.status === 'parsed' ? (outcome.report as unknown as Record<string, unknown>) : null,
    })
    .returning({ id: inboundReports.id });
  try {
    await opts.onReport?.({ id: row.id, envelopeFrom, envelopeTo, outcome });
  } catch (err) {
    // stored with processed_at null: the ledger can apply it later
    opts.logger?.error({ err, report: row.id }, 'inbound report handler failed');
  }
}
