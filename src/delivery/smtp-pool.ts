// A pool of reused SMTP connections to one relay, built on nodemailer's
// lower layer (`nodemailer/lib/smtp-connection`).
//
// The engine hands over finished bytes (composed, personalised and DKIM-signed
// in compose.ts/dkim.ts). nodemailer's pooled *transport* would still run each
// of them through its mail pipeline — a Mail object, plugins, a MIME node
// wrapping the raw bytes, a read stream piped into the connection — which was
// ~15 % of the CPU per message. Here the Buffer goes straight to
// `SMTPConnection.send()` (envelope commands, dot-stuffing, the data terminator:
// all still nodemailer's; smtp-data.ts makes the DATA phase one write and skips
// the byte-by-byte dot-stuffing scan when it would change nothing).
//
// Pool semantics follow nodemailer's smtp-pool (pool-resource.js):
//   - up to `maxConnections` connections, each reused for `maxMessages`
//     messages, then closed with QUIT and replaced on demand;
//   - a connection authenticates once (LOGIN/PLAIN credentials, when the
//     server offers AUTH) after connecting (and STARTTLS, which SMTPConnection
//     does per the options);
//   - after an envelope/message refusal (EENVELOPE/EMESSAGE, not 421) the
//     session is RSET and the connection reused; after any other error it is
//     closed;
//   - a message that finds a *reused* connection closed by the server (idle
//     timeout) before anything was written is retried once on a new connection;
//   - errors are nodemailer's own error objects (code, responseCode, response,
//     command), so smtp.ts classifies them as before.
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { singleWriteMessage } from './smtp-data.ts';

export type ConnectionPoolOptions = SMTPConnection.Options & {
  auth?: { user: string; pass: string };
  maxConnections?: number;
  maxMessages?: number;
  /** Close a connection that has been idle this long (default 30 s; SMTP servers drop idle sessions anyway). */
  idleTimeoutMs?: number;
};

export type SentInfo = { accepted: string[]; rejected: string[]; response: string };

type SmtpError = Error & { code?: string; responseCode?: number; response?: string; command?: string };

type Conn = {
  c: SMTPConnection;
  messages: number;
  closed: boolean;
  idleTimer: NodeJS.Timeout | null;
};

const TRANSIENT = new Set(['ECONNECTION', 'ESOCKET', 'ETIMEDOUT']);

export class ConnectionPool {
  private readonly idle: Conn[] = [];
  private readonly waiting: ((c: Conn | Error) => void)[] = [];
  private open = 0;
  private closed = false;
  private readonly maxConnections: number;
  private readonly maxMessages: number;
  private readonly idleTimeoutMs: number;

  constructor(private readonly options: ConnectionPoolOptions) {
    this.maxConnections = options.maxConnections ?? 5;
    this.maxMessages = options.maxMessages ?? 100;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  }

  /** Open connections (busy and idle). */
  get size(): number {
    return this.open;
  }

  async send(envelope: { from: string; to: string[] }, raw: Buffer): Promise<SentInfo> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.acquire();
      const reused = conn.messages > 0;
      // No reply at all during this send means the server never took MAIL FROM: nothing was transferred.
      conn.c.lastServerResponse = false;
      try {
        const info = await this.sendOn(conn, envelope, raw);
        this.release(conn);
        return info;
      } catch (e) {
        const err = e as SmtpError;
        const silent = conn.c.lastServerResponse === false;
        // A server that dropped an idle session as we started: try once more on a fresh connection.
        if (reused && silent && attempt === 0 && TRANSIENT.has(err.code ?? '')) {
          this.discard(conn);
          continue;
        }
        if ((err.code === 'EENVELOPE' || err.code === 'EMESSAGE') && err.responseCode !== 421 && !conn.closed) {
          conn.c.reset((resetErr) => (resetErr ? this.discard(conn) : this.release(conn)));
        } else this.discard(conn);
        throw err;
      }
    }
  }

  private sendOn(conn: Conn, envelope: { from: string; to: string[] }, raw: Buffer): Promise<SentInfo> {
    return new Promise((resolve, reject) => {
      conn.messages++;
      // SMTPConnection keeps its per-transaction state on the envelope object: a fresh one per send.
      const message = singleWriteMessage(conn.c, raw) as unknown as Buffer;
      conn.c.send({ from: envelope.from, to: [...envelope.to] }, message, (err, info) => {
        if (err) return reject(err);
        resolve({ accepted: info.accepted as string[], rejected: info.rejected as string[], response: info.response });
      });
    });
  }

  private acquire(): Promise<Conn> {
    if (this.closed) return Promise.reject(Object.assign(new Error('connection pool closed'), { code: 'ECONNECTION' }));
    for (let conn = this.idle.pop(); conn; conn = this.idle.pop()) {
      if (conn.idleTimer) clearTimeout(conn.idleTimer);
      conn.idleTimer = null;
      if (!conn.closed) return Promise.resolve(conn);
    }
    if (this.open < this.maxConnections) return this.connect();
    return new Promise<Conn>((resolve, reject) => {
      this.waiting.push((c) => (c instanceof Error ? reject(c) : resolve(c)));
    });
  }

  private release(conn: Conn): void {
    if (conn.closed) {
      this.handOver();
      return;
    }
    if (this.closed || conn.messages >= this.maxMessages) {
      this.discard(conn, true);
      return;
    }
    const next = this.waiting.shift();
    if (next) {
      next(conn);
      return;
    }
    conn.idleTimer = setTimeout(() => this.discard(conn, true), this.idleTimeoutMs);
    conn.idleTimer.unref();
    this.idle.push(conn);
  }

  /** Close a connection (QUIT when it is healthy) and let a waiter open a new one. */
  private discard(conn: Conn, quit = false): void {
    if (!conn.closed) {
      conn.closed = true;
      this.open--;
      if (conn.idleTimer) clearTimeout(conn.idleTimer);
      const i = this.idle.indexOf(conn);
      if (i >= 0) this.idle.splice(i, 1);
      if (quit) conn.c.quit();
      else conn.c.close();
    }
    this.handOver();
  }

  /** A slot became free: open a connection for the next waiter. */
  private handOver(): void {
    while (this.waiting.length && this.open < this.maxConnections && !this.closed) {
      const next = this.waiting.shift()!;
      this.connect().then(next, next);
    }
  }

  private connect(): Promise<Conn> {
    this.open++;
    const c = new SMTPConnection(this.options);
    const conn: Conn = { c, messages: 0, closed: false, idleTimer: null };
    // An error or the end of the session (idle, dropped) takes the connection out of the pool.
    const gone = () => {
      if (conn.closed) return;
      conn.closed = true;
      this.open--;
      if (conn.idleTimer) clearTimeout(conn.idleTimer);
      const i = this.idle.indexOf(conn);
      if (i >= 0) this.idle.splice(i, 1);
      this.handOver();
    };
    c.on('error', gone);
    c.once('end', gone);
    return new Promise<Conn>((resolve, reject) => {
      let settled = false;
      const done = (err?: Error | null) => {
        if (settled) return;
        settled = true;
        c.removeListener('error', done);
        if (!err) return resolve(conn);
        if (!conn.closed) c.close();
        gone();
        reject(err);
      };
      // before the session is up, an error arrives through the callback or the 'error' event
      c.on('error', done);
      c.connect((err) => {
        if (err) return done(err);
        const auth = this.options.auth;
        // as nodemailer's pool: credentials are used when the server offers AUTH
        if (!auth?.user || !c.allowsAuth) return done();
        c.login({ credentials: { user: auth.user, pass: auth.pass } }, (loginErr) => done(loginErr ?? null));
      });
    });
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w(Object.assign(new Error('connection pool closed'), { code: 'ECONNECTION' }));
    for (const conn of [...this.idle]) this.discard(conn, true);
  }
}
