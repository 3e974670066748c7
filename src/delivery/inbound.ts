// The inbound SMTP listener for bounces and complaints (started by `serve` when
// INBOUND_SMTP_PORT > 0). A dedicated port with no authentication: it accepts
// mail only for addresses at BOUNCE_DOMAIN (never relays), up to a size limit,
// with timeouts and a client cap. Every accepted message is stored in
// inbound_reports — parsed or not, so unparseable reports stay for review — and
// the parse result is handed to `onReport` (the delivery ledger applies it).
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { Logger } from '../config/logger.ts';
import type { Db } from '../db/client.ts';
import { type ParseOutcome, parseReport } from './bounces.ts';
import { inboundReports } from './schema.ts';

export type StoredReport = { id: number; envelopeFrom: string; envelopeTo: string[]; outcome: ParseOutcome };

export type InboundOptions = {
  db: Db;
  port: number;
  host?: string;
  bounceDomain: string;
  /** Bytes; default 10 MiB (DSNs carry the original message). */
  maxSize?: number;
  maxClients?: number;
  socketTimeoutMs?: number;
  onReport?: (r: StoredReport) => Promise<void> | void;
  logger?: Logger;
};

export type InboundListener = { port: number; close(): Promise<void> };

function smtpError(message: string, code: number): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

export async function startInboundListener(opts: InboundOptions): Promise<InboundListener> {
  const domain = opts.bounceDomain.toLowerCase();
  const maxSize = opts.maxSize ?? 10 * 1024 * 1024;
  const server = new SMTPServer({
    name: domain,
    banner: 'mailwarden bounce processor',
    authOptional: true,
    disabledCommands: ['AUTH'],
    hideSTARTTLS: true,
    size: maxSize,
    maxClients: opts.maxClients ?? 100,
    socketTimeout: opts.socketTimeoutMs ?? 60_000,
    closeTimeout: 10_000,
    logger: false,
    onRcptTo(address, _session, cb) {
      const rcpt = address.address.toLowerCase();
      if (!rcpt.endsWith(`@${domain}`)) return cb(smtpError('5.7.1 Relaying denied: this server only accepts bounces', 550));
      cb();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => cb(err));
      stream.on('end', () => {
        if (stream.sizeExceeded) return cb(smtpError('5.3.4 Message too big', 552));
        handle(opts, Buffer.concat(chunks), session).then(
          () => cb(),
          (err) => {
            opts.logger?.error({ err }, 'inbound report could not be stored');
            cb(smtpError('4.3.0 Temporary failure storing the message', 451));
          },
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => opts.logger?.warn({ err }, 'inbound SMTP error'));
  const port = (server.server.address() as AddressInfo).port;
  opts.logger?.info({ port, bounceDomain: domain }, 'inbound SMTP listener for bounces and complaints');
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function handle(opts: InboundOptions, raw: Buffer, session: SMTPServerSession): Promise<void> {
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
