import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { relayFromUrl, RelayPool } from './smtp.ts';

type Received = { from: string; to: string[]; raw: Buffer };

/** A local SMTP server on port 0: `mode` decides how it answers. */
async function relay(mode: 'accept' | 'down' | 'reject-rcpt' | 'defer-rcpt', opts: { tls?: boolean } = {}) {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    hideSTARTTLS: !opts.tls,
    logger: false,
    onMailFrom(_a, _s, cb) {
      if (mode === 'down') return cb(Object.assign(new Error('4.3.2 Service not available, closing channel'), { responseCode: 421 }));
      cb();
    },
    onRcptTo(a, _s, cb) {
      if (mode === 'reject-rcpt' && a.address.startsWith('nobody')) return cb(Object.assign(new Error('5.1.1 User unknown'), { responseCode: 550 }));
      if (mode === 'defer-rcpt') return cb(Object.assign(new Error('4.2.2 Mailbox full, try later'), { responseCode: 452 }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks) });
        cb(null, `2.0.0 queued as Q${received.length}` as unknown as undefined);
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as AddressInfo).port;
  servers.push(server);
  return { port, received, url: `smtp://127.0.0.1:${port}` };
}
const servers: SMTPServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

const message = (to = 'ann@example.org') => ({
  envelope: { from: 'b-1-c1-0000000000@bounce.acme.example', to: [to] },
  raw: Buffer.from(`From: news@acme.example\r\nTo: ${to}\r\nSubject: hi\r\nMessage-ID: <m1@acme.example>\r\n\r\nHello\r\n`),
  messageId: '<m1@acme.example>',
});

describe('relay pool', () => {
  it('sends raw bytes unchanged with the VERP envelope over a reused pooled connection', async () => {
    const r = await relay('accept');
    const pool = new RelayPool([{ id: 'local', url: r.url, requireTLS: false }]);
    try {
      for (let i = 0; i < 3; i++) {
        const res = await pool.send(message());
        assert.equal(res.status, 'accepted');
        assert.equal(res.relay, 'local');
        assert.equal(res.enhanced, '2.0.0');
      }
      assert.equal(r.received.length, 3);
      assert.deepEqual(r.received[0].to, ['ann@example.org']);
      assert.equal(r.received[0].from, 'b-1-c1-0000000000@bounce.acme.example');
      assert.equal(r.received[0].raw.toString(), message().raw.toString());
    } finally {
      await pool.close();
    }
  });

  it('fails over from a relay that is down, then skips it during its cool-down', async () => {
    const down = await relay('down');
    const up = await relay('accept');
    let now = 1_000;
    const pool = new RelayPool(
      [
        { id: 'down', url: down.url, requireTLS: false, weight: 1000 },
        { id: 'up', url: up.url, requireTLS: false, weight: 1 },
      ],
      { failureThreshold: 2, cooldownMs: 60_000, now: () => now, random: () => 0 },
    );
    try {
      const first = await pool.send(message());
      assert.equal(first.status, 'accepted');
      assert.equal(first.relay, 'up');
      assert.equal(first.failovers?.[0].relay, 'down');
      await pool.send(message());
      assert.ok(pool.health()[0].coolingUntil, 'down relay is cooling after 2 failures');
      const third = await pool.send(message());
      assert.equal(third.failovers, undefined, 'the cooling relay is not tried');
      assert.equal(up.received.length, 3);
      now += 61_000;
      assert.equal(pool.health()[0].coolingUntil, null);
    } finally {
      await pool.close();
    }
  });

  it('classifies 5xx as failed and 4xx as deferred (no failover for recipient answers)', async () => {
    const rej = await relay('reject-rcpt');
    const def = await relay('defer-rcpt');
    const p1 = new RelayPool([{ id: 'rej', url: rej.url, requireTLS: false }]);
    const p2 = new RelayPool([{ id: 'def', url: def.url, requireTLS: false }]);
    try {
      const failed = await p1.send(message('nobody@example.org'));
      assert.equal(failed.status, 'failed');
      assert.equal(failed.code, 550);
      assert.equal(failed.enhanced, '5.1.1');
      const deferred = await p2.send(message());
      assert.equal(deferred.status, 'deferred');
      assert.equal(deferred.code, 452);
      assert.equal(deferred.enhanced, '4.2.2');
    } finally {
      await p1.close();
      await p2.close();
    }
  });

  it('requires TLS by default and only lets a loopback relay opt out', async () => {
    const plain = await relay('accept');
    const pool = new RelayPool([{ id: 'strict', url: plain.url }], { failureThreshold: 1 });
    try {
      const res = await pool.send(message());
      assert.equal(res.status, 'deferred', 'a relay without STARTTLS is refused');
      assert.equal(plain.received.length, 0);
    } finally {
      await pool.close();
    }
    const tls = await relay('accept', { tls: true });
    const tlsPool = new RelayPool([{ id: 'tls', url: tls.url, tls: { rejectUnauthorized: false } }]);
    try {
      assert.equal((await tlsPool.send(message())).status, 'accepted');
    } finally {
      await tlsPool.close();
    }
    assert.throws(() => new RelayPool([{ id: 'x', url: 'smtp://relay.example.com:587', requireTLS: false }]), /loopback/);
    assert.deepEqual(relayFromUrl('smtp://127.0.0.1:2525/?tls=none'), { id: 'default', url: 'smtp://127.0.0.1:2525/', requireTLS: false });
    assert.equal(relayFromUrl('smtp://u:p@relay.example.com:587').requireTLS, true);
  });
});

describe('connection pool (nodemailer SMTPConnection)', () => {
  /** A server that counts sessions and the most open at once; `closeIdle` drops each session after its first message. */
  async function counting(opts: { closeAfterFirst?: boolean; rejectPrefix?: string } = {}) {
    const stats = { sessions: 0, open: 0, maxOpen: 0, messages: 0 };
    const server = new SMTPServer({
      authOptional: true,
      hideSTARTTLS: true,
      logger: false,
      onConnect(_session, cb) {
        stats.sessions++;
        stats.maxOpen = Math.max(stats.maxOpen, ++stats.open);
        cb();
      },
      onClose() {
        stats.open--;
      },
      onRcptTo(a, _s, cb) {
        if (opts.rejectPrefix && a.address.startsWith(opts.rejectPrefix)) return cb(Object.assign(new Error('5.1.1 User unknown'), { responseCode: 550 }));
        cb();
      },
      onData(stream, _session, cb) {
        stream.resume();
        stream.on('end', () => {
          stats.messages++;
          cb();
          // a server ending the session while the client keeps it in its pool
          if (opts.closeAfterFirst)
            setTimeout(() => {
              for (const c of (server as unknown as { connections: Set<{ close(): void }> }).connections) c.close();
            }, 5);
        });
      },
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    return { url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`, stats, server };
  }

  it('reuses connections up to maxMessages, never opens more than maxConnections, and RSETs after a refused recipient', async () => {
    const s = await counting({ rejectPrefix: 'nobody' });
    const pool = new RelayPool([{ id: 'p', url: s.url, requireTLS: false, maxConnections: 3, maxMessages: 4 }]);
    try {
      const results = await Promise.all(Array.from({ length: 12 }, () => pool.send(message())));
      assert.ok(results.every((r) => r.status === 'accepted'));
      assert.equal(s.stats.messages, 12);
      assert.ok(s.stats.maxOpen <= 3, `at most 3 open at once, saw ${s.stats.maxOpen}`);
      assert.ok(s.stats.sessions >= 3 && s.stats.sessions <= 6, `12 messages at 4 per connection: ${s.stats.sessions} sessions`);
      const before = s.stats.sessions;
      const refused = await pool.send(message('nobody@example.org'));
      assert.equal(refused.status, 'failed');
      assert.equal(refused.code, 550);
      await new Promise((r) => setTimeout(r, 50)); // the session is RSET, then back in the pool
      assert.equal((await pool.send(message())).status, 'accepted');
      assert.ok(s.stats.sessions <= before + 1, 'the refused recipient did not cost the connection');
    } finally {
      await pool.close();
    }
  });

  it('replaces a pooled connection the server closed', async () => {
    const s = await counting({ closeAfterFirst: true });
    const pool = new RelayPool([{ id: 'p', url: s.url, requireTLS: false, maxConnections: 1 }]);
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal((await pool.send(message())).status, 'accepted');
        await new Promise((r) => setTimeout(r, 30));
      }
      assert.equal(s.stats.messages, 3);
      assert.equal(s.stats.sessions, 3);
      assert.equal(pool.health()[0].failures, 0);
    } finally {
      await pool.close();
    }
  });

  it('authenticates each pooled connection once with the relay credentials', async () => {
    const logins: string[] = [];
    const server = new SMTPServer({
      hideSTARTTLS: true,
      allowInsecureAuth: true,
      logger: false,
      onAuth(auth, _s, cb) {
        logins.push(auth.username ?? '');
        if (auth.username === 'mw' && auth.password === 's3cret pass') return cb(null, { user: auth.username });
        cb(new Error('5.7.8 Authentication failed'));
      },
      onData(stream, _s, cb) {
        stream.resume();
        stream.on('end', () => cb());
      },
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    const port = (server.server.address() as AddressInfo).port;
    const pool = new RelayPool([{ id: 'auth', url: `smtp://mw:${encodeURIComponent('s3cret pass')}@127.0.0.1:${port}`, requireTLS: false, maxConnections: 1 }]);
    const wrong = new RelayPool([{ id: 'wrong', url: `smtp://mw:nope@127.0.0.1:${port}`, requireTLS: false }]);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await pool.send(message())).status, 'accepted');
      assert.deepEqual(logins, ['mw'], 'one login for the reused connection');
      const refused = await wrong.send(message());
      assert.equal(refused.status, 'deferred');
      assert.match(refused.failovers?.[0].error ?? '', /EAUTH/);
    } finally {
      await pool.close();
      await wrong.close();
    }
  });
});
