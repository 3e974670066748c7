// A real local SMTP server (smtp-server) that records what it receives: the
// Message-ID, envelope and raw bytes of every accepted message. Replies can be
// scripted per recipient (e.g. 451 or 550) and each message can be delayed,
// so tests see real SMTP sessions over TCP, never a mocked transport.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export type Received = { messageId: string; from: string; to: string[]; raw: Buffer };
export type SinkOptions = {
  /** Reply for a recipient: undefined accepts; { code, message } refuses it. */
  reply?: (rcpt: string) => { code: number; message: string } | undefined;
  delayMs?: number;
};

export type Sink = { port: number; url: string; received: Received[]; close(): Promise<void> };

export async function startSink(opts: SinkOptions = {}): Promise<Sink> {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    maxClients: 200,
    onRcptTo(address, _s, cb) {
      const r = opts.reply?.(address.address.toLowerCase());
      if (r) return cb(Object.assign(new Error(r.message), { responseCode: r.code }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const head = raw.subarray(0, Math.max(0, raw.indexOf('\r\n\r\n'))).toString();
        const messageId = /^Message-ID:\s*(<[^>]+>)/im.exec(head)?.[1] ?? '';
        const done = () => {
          received.push({
            messageId,
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
          });
          cb();
        };
        if (opts.delayMs) setTimeout(done, opts.delayMs);
        else done();
      });
    },
  });
  // A killed client resets its connections: that is expected here, not an error of the test.
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}?tls=none`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
