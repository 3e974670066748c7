import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Socket, connect } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import PostalMime from 'postal-mime';
import { startSink } from '../../test/support/smtp-sink.ts';
import { composeTemplate, personalise, toRaw } from './compose.ts';
import { ConnectionPool } from './smtp-pool.ts';
import { nodemailerTransform, passesUnchanged, singleWriteMessage } from './smtp-data.ts';

/** Everything a DataStream emits for the chunks, and its byte counters. */
async function run(chunks: Buffer[], original: boolean) {
  const s = new DataStream() as DataStream & { inByteCount: number; outByteCount: number; _transform: unknown };
  if (original) s._transform = nodemailerTransform;
  const out: Buffer[] = [];
  s.on('data', (b: Buffer) => out.push(b));
  const ended = new Promise((r) => s.on('end', r));
  for (const c of chunks) s.write(c);
  s.end();
  await ended;
  return { bytes: Buffer.concat(out), inBytes: s.inByteCount, outBytes: s.outByteCount };
}

const hostileByte = fc.constantFrom(0x0d, 0x0a, 0x2e, 0x61, 0x20);
const chunk = fc.uint8Array({ minLength: 0, maxLength: 24 }).chain((a) =>
  fc.array(hostileByte, { minLength: a.length, maxLength: a.length }).map((b) => Buffer.from(b)),
);

// A wrong fast path can leave a bare "." line in the data, which ends it early and stalls the SMTP session:
// the timeout turns that into a failure instead of a hung test run.
describe('SMTP DATA fast path (smtp-data.ts)', { timeout: 60_000 }, () => {
  it('gives exactly what nodemailer’s dot-stuffing gives, for any chunks of CR, LF, dots and text', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(chunk, { maxLength: 8 }), async (chunks) => {
        assert.deepEqual(await run(chunks, false), await run(chunks, true));
      }),
      { numRuns: 2000 },
    );
  });

  it('passes a clean chunk unchanged and refuses whatever needs stuffing or a line-break repair', () => {
    assert.equal(passesUnchanged(Buffer.from('a\r\nb\r\n'), false), true);
    assert.equal(passesUnchanged(Buffer.from('\nb'), 0x0d), true, 'the CR came with the chunk before');
    for (const [text, last] of [
      ['.a\r\n', false],
      ['a\r\n.b', false],
      ['a\nb', false],
      ['a\rb', false],
      ['\nb', false],
      ['b', 0x0d],
      ['.b', 0x0a],
    ] as const)
      assert.equal(passesUnchanged(Buffer.from(text), last), false, JSON.stringify(text));
  });

  it('composes no line that starts with a dot, so a campaign message needs no stuffing, and decodes to the same text', async () => {
    const t = composeTemplate({
      campaignId: 7,
      from: { address: 'news@acme.example' },
      subject: 'Dots',
      html: [{ slot: 'name' }, '. Fabrics and fits.\n.Leading dot in the source\n', { slot: 'name' }, '.'],
      text: [{ slot: 'name' }, `. ${'x'.repeat(72)}.${'y'.repeat(80)}\n.end`],
      messageIdDomain: 'acme.example',
      messageIdKey: randomBytes(32),
    });
    const m = personalise(t, {
      contactId: 'c1',
      to: { address: 'ann@example.org' },
      returnPath: 'b-1@bounce.acme.example',
      slots: { name: 'Ann' },
    });
    const raw = toRaw(m);
    assert.equal(passesUnchanged(raw, false), true);
    assert.ok(!raw.toString('latin1').includes('\r\n.'));
    assert.ok(Math.max(...m.body.toString('latin1').split('\r\n').map((l) => l.length)) <= 76);
    const parsed = await PostalMime.parse(raw);
    assert.equal(parsed.text?.trimEnd(), `Ann. ${'x'.repeat(72)}.${'y'.repeat(80)}\n.end`);
    assert.equal(parsed.html?.trimEnd(), 'Ann. Fabrics and fits.\n.Leading dot in the source\nAnn.');
  });

  it('writes the message and its terminating dot to the socket in one write', async () => {
    const got: Buffer[] = [];
    const server = createServer((s) => s.on('data', (b) => got.push(b)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const socket: Socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    let writes = 0;
    const s = socket as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
    for (const k of ['_write', '_writev'] as const) {
      const f = s[k].bind(socket);
      s[k] = (...a: unknown[]) => {
        writes++;
        f(...a);
      };
    }
    const dest = new DataStream();
    dest.pipe(socket, { end: false });
    const raw = Buffer.from('Subject: x\r\n\r\nline one\r\n.dot line\r\n');
    singleWriteMessage({ _socket: socket } as unknown as SMTPConnection, raw).pipe(dest);
    assert.equal(writes, 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(Buffer.concat(got).toString(), 'Subject: x\r\n\r\nline one\r\n..dot line\r\n.\r\n');
    socket.destroy();
    await new Promise((r) => server.close(r));
  });

  it('delivers byte for byte through the pool to a real SMTP server, stuffed or not', async () => {
    const sink = await startSink();
    const pool = new ConnectionPool({ host: '127.0.0.1', port: sink.port, ignoreTLS: true, maxConnections: 2 });
    try {
      const clean = Buffer.from('Message-ID: <a@x>\r\nSubject: clean\r\n\r\nHello\r\nthere\r\n');
      const dotted = Buffer.from('Message-ID: <b@x>\r\nSubject: dotted\r\n\r\n.Hello\r\n..there\r\nbare\nLF\r\n');
      await pool.send({ from: 'a@x.example', to: ['b@y.example'] }, clean);
      await pool.send({ from: 'a@x.example', to: ['b@y.example'] }, dotted);
      assert.equal(sink.received.length, 2);
      assert.equal(sink.received[0].raw.toString(), clean.toString());
      // the server removes the stuffing again; the bare LF was made CRLF by the client
      assert.equal(sink.received[1].raw.toString(), dotted.toString().replace('bare\nLF', 'bare\r\nLF'));
    } finally {
      pool.close();
      await sink.close();
    }
  });
});
