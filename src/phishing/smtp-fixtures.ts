// Shared fixtures of the SMTP tests (report mailbox, gateway): messages, a sender and a next-hop sink.
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
export const lure = [
  'From: "PayPal Security" <service@paypa1-secure-login.top>',
  'Reply-To: recovery.team@gmail.com',
  'To: staff@example.com',
  'Subject: Urgent: your account has been suspended',
  'Message-ID: <lure-7@paypa1-secure-login.top>',
  'MIME-Version: 1.0',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Dear customer, we detected unusual activity. Your account will be suspended within 24 hours.</p>',
  '<p><a href="http://192.0.2.7/paypal/login.php">https://www.paypal.com/signin</a></p>',
  '<form action="http://192.0.2.7/collect"><input type="password" name="pw"></form>',
  '',
].join('\r\n');

export const note = [
  'From: Jane Doe <jane@partner.example>',
  'To: team@example.com',
  'Subject: Notes from Tuesday',
  'X-Mailwarden-Verdict: clean',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hi all, the notes from Tuesday are in the shared folder. Next meeting is Thursday at 10.',
  '',
].join('\r\n');

/** A report as mail clients send it: the suspicious mail attached as message/rfc822. */
export const reportWithAttachment = (from: string) =>
  [
    `From: Employee <${from}>`,
    'To: phish@example.com',
    'Subject: Fwd: Urgent: your account has been suspended',
    'Message-ID: <report-1@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'This looks fishy.',
    '--b1',
    'Content-Type: message/rfc822',
    'Content-Disposition: attachment; filename="suspicious.eml"',
    '',
    lure,
    '--b1--',
    '',
  ].join('\r\n');

export const inlineReport = [
  'From: Employee <bob@example.com>',
  'To: phish@example.com',
  'Subject: Fwd: Invoice overdue',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Please check.',
  '',
  '---------- Forwarded message ---------',
  'From: Accounts <billing@invoices-payme.top>',
  'Date: Mon, 3 Mar 2025 10:00:00 +0000',
  'Subject: Invoice overdue',
  'To: <bob@example.com>',
  '',
  'Your invoice is overdue. Pay now at http://invoices-payme.top/pay to avoid suspension.',
  '',
].join('\r\n');

export const noDns = async (name: string) => {
  throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
};

export async function send(port: number, from: string, to: string[], raw: string) {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    name: 'client.test',
  });
  try {
    return await transport.sendMail({ envelope: { from, to }, raw });
  } finally {
    transport.close();
  }
}

export type Received = { from: string; to: string[]; raw: string };
export async function sink(): Promise<{ port: number; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    hideSTARTTLS: true,
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.server.address() as AddressInfo).port,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

