// SMTP listeners of the phishing module (started by `serve`):
//  - the report mailbox (PHISHING_SMTP_PORT, address PHISHING_REPORT_ADDRESS): employees forward
//    suspicious mail; the original is extracted, scored, queued for an analyst and the reporter
//    gets an acknowledgement;
//  - the gateway (PHISHING_GATEWAY_PORT, off by default): scores passing mail with live
//    authentication, stamps X-Mailwarden-* and Authentication-Results, optionally adds a banner,
//    and relays to PHISHING_GATEWAY_NEXT_HOP — or quarantines it into the queue above a score.
// All are built on src/smtp/listener.ts (sizes, clients and socket time bounded; a 4xx on internal
// failure, so hostile mail never crashes a listener). The report mailbox rides on the delivery
// module's bounce listener (src/delivery/inbound.ts) when PHISHING_SMTP_PORT is 0 or equals
// INBOUND_SMTP_PORT: one port, messages routed by their RCPT TO address.
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { SMTPServerSession } from 'smtp-server';
import type { Logger } from '../config/logger.ts';
import type { Db } from '../db/client.ts';
import type { MailTransport } from '../delivery/smtp.ts';
import { type SmtpListener, type SmtpRoute, smtpError, startSmtpListener } from '../smtp/listener.ts';
import { domainOf } from './domains.ts';
import { stampGatewayHeaders } from './gateway.ts';
import { enqueue, enqueueCase, loadScanContext, scanForWorkspace, verifyReporter } from './queue.ts';
import { extractReportedMessage } from './report.ts';
import type { ScanResult } from './types.ts';

export type Listener = SmtpListener;

/** Hook for the simulated-phishing (training) module: a report of one of our own training mails is not queued. */
export function isSimulatedPhish(_original: Buffer): boolean {
  return false;
}

type Common = {
  db: Db;
  port: number;
  host?: string;
  maxSize?: number;
  /** Default 50. */
  maxClients?: number;
  socketTimeoutMs?: number;
  logger?: Logger;
};

// ---- acknowledgements ------------------------------------------------------------------

export type Acknowledgement = { to: string; from: string; subject: string; text: string; inReplyTo?: string };

/**
 * Acknowledgements go out through the transport `serve` hands over: the workspace's relays, else
 * SMTP_URL, else the built-in outbox (delivery/relays.ts workspaceTransport).
 */
export async function sendAcknowledgement(transport: MailTransport, ack: Acknowledgement): Promise<void> {
  const domain = domainOf(ack.from) || 'localhost';
  const messageId = `<phish-ack-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}@${domain}>`;
  const composer = new MailComposer({
    from: ack.from,
    to: ack.to,
    subject: ack.subject,
    text: ack.text,
    messageId,
    inReplyTo: ack.inReplyTo,
    references: ack.inReplyTo,
    headers: { 'Auto-Submitted': 'auto-replied', 'X-Mailwarden-Ack': 'phishing-report' },
  });
  const raw = await new Promise<Buffer>((resolve, reject) =>
    composer.compile().build((err, msg) => (err ? reject(err) : resolve(msg))),
  );
  await transport.send({ envelope: { from: '', to: [ack.to] }, raw, messageId });
}

export type ReportRouteOptions = {
  db: Db;
  logger?: Logger;
  /** The report mailbox, e.g. phish@example.com: the only recipient accepted. */
  reportAddress: string;
  /** Where acknowledgements go: the workspace's sending transport (its relays, else SMTP_URL, else the outbox). */
  transport: MailTransport;
  /** Acknowledge only reporters in these domains (default: the report address's domain) — never backscatter to outsiders. */
  ackDomains?: string[];
  trustedAuthservIds?: string[];
  onQueued?: (id: number) => void;
};

export type ReportListenerOptions = Common & ReportRouteOptions;

/** The report mailbox as a route: on its own listener, or sharing the bounce listener's port. */
export function reportRoute(opts: ReportRouteOptions): SmtpRoute {
  const address = opts.reportAddress.toLowerCase();
  const ackDomains = (opts.ackDomains?.length ? opts.ackDomains : [domainOf(address)]).map((d) =>
    d.toLowerCase(),
  );
  const transport = opts.transport;
  return {
    name: 'phishing report mailbox',
    accepts: (rcpt) => rcpt === address,
    async handle(raw, session) {
      const id = await handleReport(opts, raw, session, address, ackDomains, transport);
      return id ? `Report received as #${id}` : 'Report received';
    },
  };
}

export async function startReportListener(opts: ReportListenerOptions): Promise<Listener> {
  const address = opts.reportAddress.toLowerCase();
  const listener = await startSmtpListener({
    ...opts,
    maxClients: opts.maxClients ?? 50,
    name: domainOf(address) || 'mailwarden',
    banner: 'mailwarden phishing report mailbox',
    routes: [reportRoute(opts)],
    refusal: '5.1.1 Unknown recipient: this server only accepts phishing reports',
  });
  opts.logger?.info({ port: listener.port, address }, 'phishing report mailbox listening');
  return listener;
}

async function handleReport(
  opts: ReportRouteOptions,
  raw: Buffer,
  session: SMTPServerSession,
  address: string,
  ackDomains: string[],
  transport: MailTransport,
): Promise<number | undefined> {
  const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address.toLowerCase() : '';
  const report = await extractReportedMessage(raw);
  const reporter = report.reporter?.address || envelopeFrom;
  const original = report.original ?? raw;
  const ack = async (subject: string, text: string) => {
    // No acknowledgement to null senders (bounces), to ourselves, or outside the staff domains.
    if (!envelopeFrom || !reporter || reporter === address || !ackDomains.includes(domainOf(reporter)))
      return;
    try {
      await sendAcknowledgement(transport, {
        to: reporter,
        from: address,
        subject,
        text,
        inReplyTo: messageIdOf(raw),
      });
    } catch (err) {
      opts.logger?.warn({ err }, 'phishing report acknowledgement could not be sent');
    }
  };
  if (isSimulatedPhish(original)) {
    await ack(
      `Re: ${report.reportSubject ?? 'your report'}`.slice(0, 200),
      'Well spotted: this was a phishing simulation run by your security team. Thank you for reporting it.',
    );
    return undefined;
  }
  const result: ScanResult = await scanForWorkspace(opts.db, original, {
    trustedAuthservIds: opts.trustedAuthservIds,
  });
  // Staff = a mailwarden user, or an address in the workspace's own domains or the ack domains.
  const staffDomains = [...((await loadScanContext(opts.db)).workspace.ownDomains ?? []), ...ackDomains];
  const reporterVerified = await verifyReporter(opts.db, reporter, staffDomains);
  if (!reporterVerified)
    opts.logger?.warn(
      { reporter },
      'phishing report from an address that is not known staff (queued as unverified)',
    );
  const { id, reportCount } = await enqueueCase(opts.db, {
    raw: original,
    source: 'report',
    result,
    reporter,
    reporterVerified,
    reportRaw: raw,
    extraction: report.method,
    envelope: { from: envelopeFrom, to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()) },
    remoteAddress: session.remoteAddress,
  });
  opts.onQueued?.(id);
  const found =
    report.method === 'none'
      ? 'We could not find the original message in your report. Next time, please forward it as an attachment (in most mail programs: "Forward as attachment").'
      : 'Our security team will review it. You do not need to do anything else; please do not click links or open attachments in that message.';
  const others = reportCount > 1 ? ` It had already been reported (${reportCount} reports so far).` : '';
  await ack(
    `Re: ${report.reportSubject ?? 'your phishing report'}`.slice(0, 200),
    `Thank you for reporting a suspicious message (reference #${id}).${others}\n\n${found}\n`,
  );
  return id;
}

function messageIdOf(raw: Buffer): string | undefined {
  const head =
    raw
      .subarray(0, 64 * 1024)
      .toString('latin1')
      .split(/\r?\n\r?\n/)[0] ?? '';
  return /^Message-ID:[ \t]*(<[^<>\r\n]{1,500}>)/im.exec(head)?.[1];
}

// ---- relay -----------------------------------------------------------------------------

export type NextHop = {
  send(envelope: { from: string; to: string[] }, raw: Buffer): Promise<string>;
  close(): void;
};

/** A pooled nodemailer transport to `smtp://host:port` (STARTTLS when offered) or `smtps://host:port`. */
export function nextHop(url: string): NextHop {
  const u = new URL(url);
  const transport = nodemailer.createTransport({
    host: u.hostname,
    port: Number(u.port) || (u.protocol === 'smtps:' ? 465 : 25),
    secure: u.protocol === 'smtps:',
    auth: u.username
      ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) }
      : undefined,
    pool: true,
    maxConnections: 5,
    connectionTimeout: 15_000,
    socketTimeout: 60_000,
  });
  return {
    async send(envelope, raw) {
      const info = await transport.sendMail({ envelope, raw });
      return String(info.response ?? '');
    },
    close: () => transport.close(),
  };
}

// ---- gateway ---------------------------------------------------------------------------

export type GatewayOptions = Common & {
  /** smtp://host:port of the next hop (the real mail server). */
  nextHop: string;
  /** Host name of the gateway: SMTP greeting and authserv-id of the Authentication-Results it adds. */
  hostname: string;
  /** Quarantine (do not relay) at or above this score; > 100 never quarantines. */
  quarantineScore: number;
  banner?: boolean;
  /** Accept only recipients in these domains (empty: any — then firewall the port). */
  acceptDomains?: string[];
  dnsTimeoutMs?: number;
  /** DNS resolver for live authentication (tests); default: cached with timeout. */
  resolver?: (name: string, rrtype: string) => Promise<unknown>;
  onHandled?: (e: { action: 'relayed' | 'quarantined'; score: number; id?: number }) => void;
};

export async function startGatewayListener(opts: GatewayOptions): Promise<Listener> {
  const hop = nextHop(opts.nextHop);
  const accept = (opts.acceptDomains ?? []).map((d) => d.toLowerCase());
  const route: SmtpRoute = {
    name: 'phishing gateway',
    accepts: (rcpt) => !accept.length || accept.includes(domainOf(rcpt)),
    async handle(raw, session) {
      const envelope = {
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        to: session.envelope.rcptTo.map((r) => r.address),
      };
      const result = await scanForWorkspace(
        opts.db,
        raw,
        {
          authMode: 'live',
          live: {
            ip: session.remoteAddress,
            helo: session.hostNameAppearsAs,
            sender: envelope.from,
            mta: opts.hostname,
            dnsTimeoutMs: opts.dnsTimeoutMs,
            resolver: opts.resolver,
          },
        },
        envelope.from,
      );
      if (result.score >= opts.quarantineScore) {
        const id = await enqueue(opts.db, {
          raw,
          source: 'gateway',
          result,
          envelope,
          remoteAddress: session.remoteAddress,
        });
        opts.logger?.info({ id, score: result.score, from: envelope.from }, 'gateway quarantined a message');
        opts.onHandled?.({ action: 'quarantined', score: result.score, id });
        return `Queued (${id})`;
      }
      const stamped = stampGatewayHeaders(dropOwnAuthResults(raw, opts.hostname), result, {
        authservId: opts.hostname,
        banner: opts.banner ?? true,
      });
      try {
        await hop.send(envelope, stamped);
      } catch (err) {
        const e = err as Error & { responseCode?: number; response?: string };
        // A permanent refusal by the next hop is passed on; anything else is a temporary failure.
        if (e.responseCode && e.responseCode >= 500)
          throw smtpError(
            e.response?.replace(/^\d{3}[ -]/, '') || '5.0.0 Rejected by the next hop',
            e.responseCode,
          );
        opts.logger?.warn({ err }, 'gateway: next hop unavailable');
        throw smtpError('4.4.1 Next hop unavailable, try again later', 451);
      }
      opts.onHandled?.({ action: 'relayed', score: result.score });
      return 'Relayed';
    },
  };
  const listener = await startSmtpListener({
    ...opts,
    maxClients: opts.maxClients ?? 50,
    name: opts.hostname,
    banner: 'mailwarden phishing gateway',
    routes: [route],
    refusal: '5.7.1 Relaying denied',
  });
  opts.logger?.info(
    { port: listener.port, nextHop: new URL(opts.nextHop).host },
    'phishing gateway listening',
  );
  return {
    port: listener.port,
    async close() {
      await listener.close();
      hop.close();
    },
  };
}

/**
 * RFC 8601 §5: remove incoming Authentication-Results fields that claim our own authserv-id (a
 * sender forging "our" verdict). Only the top-level header block is touched; other bytes are kept.
 */
export function dropOwnAuthResults(raw: Buffer, authservId: string): Buffer {
  const text = raw.toString('latin1');
  const m = /\r?\n\r?\n/.exec(text);
  const headEnd = m ? m.index : text.length;
  const head = text.slice(0, headEnd);
  const fields = head.split(/(?<=\n)(?![ \t])/);
  const id = authservId.toLowerCase();
  const kept = fields.filter((f) => {
    const am = /^Authentication-Results[ \t]*:([\s\S]*)$/i.exec(f);
    if (!am) return true;
    const first = am[1]
      .replace(/\([^)]*\)/g, ' ')
      .trim()
      .split(/[;\s]/)[0]
      ?.toLowerCase();
    return first !== id;
  });
  if (kept.length === fields.length) return raw;
  let newHead = kept.join('');
  // the dropped field may have been the last one: keep the header block ending without a dangling newline
  if (!/\r?\n$/.test(head) && /\r?\n$/.test(newHead)) newHead = newHead.replace(/\r?\n$/, '');
  return Buffer.from(newHead + text.slice(headEnd), 'latin1');
}

/**
 * Release a quarantined message after an analyst's review: stamp it with the verdict it was
 * scanned with (no banner: a person decided it may pass), mark it released, and relay it with its
 * original envelope.
 */
export async function releaseToNextHop(
  url: string,
  envelope: { from: string; to: string[] },
  raw: Buffer,
  result: ScanResult,
  hostname: string,
) {
  const hop = nextHop(url);
  try {
    const stamped = stampGatewayHeaders(dropOwnAuthResults(raw, hostname), result, {
      authservId: hostname,
      banner: false,
    });
    return await hop.send(
      envelope,
      Buffer.concat([Buffer.from('X-Mailwarden-Released: analyst\r\n'), stamped]),
    );
  } finally {
    hop.close();
  }
}

/**
 * PHISHING_SMTP_PORT 0 or equal to INBOUND_SMTP_PORT, with a report address and a running bounce
 * listener: the report mailbox shares the bounce listener's port (routed by RCPT TO).
 */
export function reportMailboxSharesInboundPort(config: {
  inboundSmtpPort?: number;
  bounceDomain?: string;
  phishing?: import('../config/index.ts').PhishingConfig;
}): boolean {
  const p = config.phishing;
  return !!(
    p?.reportAddress &&
    config.inboundSmtpPort &&
    config.bounceDomain &&
    (p.smtpPort === 0 || p.smtpPort === config.inboundSmtpPort)
  );
}

/**
 * Starts the report mailbox and the gateway as configured (called by `serve`); returns one closer,
 * and in `inboundRoutes` the report mailbox when it shares the bounce listener's port (`serve`
 * passes it to that listener).
 */
export async function startPhishingListeners(
  config: {
    host: string;
    inboundSmtpPort?: number;
    bounceDomain?: string;
    phishing?: import('../config/index.ts').PhishingConfig;
  },
  db: Db,
  ackTransport: MailTransport,
  logger?: Logger,
): Promise<{ inboundRoutes: SmtpRoute[]; close(): Promise<void> }> {
  const p = config.phishing;
  const started: Listener[] = [];
  const inboundRoutes: SmtpRoute[] = [];
  const report = p?.reportAddress && {
    db,
    reportAddress: p.reportAddress,
    transport: ackTransport,
    trustedAuthservIds: p.trustedAuthservIds,
    logger,
  };
  try {
    if (report && reportMailboxSharesInboundPort(config)) inboundRoutes.push(reportRoute(report));
    else if (report && p?.smtpPort)
      started.push(await startReportListener({ ...report, port: p.smtpPort, host: config.host }));
    else if (p?.smtpPort)
      logger?.info('phishing report mailbox off: set PHISHING_REPORT_ADDRESS to turn it on');
    if (p?.gatewayPort && p.nextHop)
      started.push(
        await startGatewayListener({
          db,
          port: p.gatewayPort,
          host: config.host,
          nextHop: p.nextHop,
          hostname: p.hostname,
          quarantineScore: p.quarantineScore,
          banner: p.banner,
          acceptDomains: p.gatewayDomains,
          logger,
        }),
      );
  } catch (err) {
    for (const l of started) await l.close();
    throw err;
  }
  return {
    inboundRoutes,
    async close() {
      for (const l of started) await l.close();
    },
  };
}
