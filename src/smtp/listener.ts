// Shared plumbing of mailwarden's inbound SMTP listeners (bounces, the phishing report mailbox, the
// phishing gateway): one hardened smtp-server setup — no AUTH, no STARTTLS, a size limit (552), a
// client cap, a socket timeout — that collects each message into a Buffer and hands it to the
// route its recipients belong to. A listener carries one or more routes and picks one by the
// RCPT TO address, so several mail flows can share one port; recipients no route accepts get 550.
// Handlers never crash the listener: a failure is answered with 451 (an error carrying its own
// `responseCode`, e.g. a next hop's 5xx, is passed on as is).
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { Logger } from '../config/logger.ts';

export type SmtpListener = { port: number; close(): Promise<void> };

/** One mail flow on a listener: which recipients it takes and what it does with a message. */
export type SmtpRoute = {
  /** For logs and the greeting, e.g. 'phishing report mailbox'. */
  name: string;
  /** `rcpt` is lower-cased. */
  accepts(rcpt: string): boolean;
  /** Resolves to the text of the 250 reply (optional); rejects for a 451 (or the error's own responseCode). */
  handle(raw: Buffer, session: SMTPServerSession): Promise<string | undefined>;
};

export type SmtpListenerOptions = {
  port: number;
  host?: string;
  /** Host name in the greeting. */
  name: string;
  banner: string;
  routes: SmtpRoute[];
  /** Reply to recipients no route accepts (always 550). */
  refusal?: string;
  /** Bytes; default 10 MiB. */
  maxSize?: number;
  maxClients?: number;
  socketTimeoutMs?: number;
  logger?: Logger;
};

export const smtpError = (message: string, code: number): Error =>
  Object.assign(new Error(message), { responseCode: code });

const routeFor = (routes: SmtpRoute[], rcpt: string) => routes.find((r) => r.accepts(rcpt.toLowerCase()));

export async function startSmtpListener(opts: SmtpListenerOptions): Promise<SmtpListener> {
  const maxSize = opts.maxSize ?? 10 * 1024 * 1024;
  const server = new SMTPServer({
    name: opts.name,
    banner: opts.banner,
    authOptional: true,
    disabledCommands: ['AUTH'],
    hideSTARTTLS: true,
    size: maxSize,
    maxClients: opts.maxClients ?? 100,
    socketTimeout: opts.socketTimeoutMs ?? 60_000,
    closeTimeout: 10_000,
    logger: false,
    onRcptTo(address, session, cb) {
      const route = routeFor(opts.routes, address.address);
      if (!route) return cb(smtpError(opts.refusal ?? '5.7.1 Relaying denied', 550));
      // One message goes to one route: a recipient of another route waits for its own transaction.
      const first = session.envelope.rcptTo[0];
      if (first && routeFor(opts.routes, first.address) !== route)
        return cb(smtpError('4.5.3 Send this recipient in a separate message', 452));
      cb();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, cb) {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= maxSize) chunks.push(c);
      });
      stream.on('error', (err) => cb(err));
      stream.on('end', () => {
        if (stream.sizeExceeded) return cb(smtpError('5.3.4 Message too big', 552));
        const route = routeFor(opts.routes, session.envelope.rcptTo[0]?.address ?? '');
        if (!route) return cb(smtpError('5.5.1 No valid recipients', 554));
        route.handle(Buffer.concat(chunks), session).then(
          (message) => cb(null, message),
          (err: Error & { responseCode?: number }) => {
            if (err.responseCode) return cb(err);
            opts.logger?.error({ err }, `${route.name}: message could not be handled`);
            cb(smtpError('4.3.0 Temporary failure, try again later', 451));
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
  server.on('error', (err) => opts.logger?.warn({ err }, `${opts.banner}: SMTP error`));
  return {
    port: (server.server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
