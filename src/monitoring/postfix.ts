// Postfix maillog parser. Postfix logs one message over several lines keyed
// by its queue id (smtpd: client and SASL user; qmgr: sender, size, recipient
// count; smtp/lmtp/local: one line per recipient with its status), plus
// NOQUEUE rejects and SASL authentication failures. The parser keeps the
// per-queue-id state and emits one event per delivery attempt, reject or
// authentication failure. Syslog (`Nov 24 06:12:01 host postfix/…`) and
// RFC 3339 (`2026-11-24T06:12:01.123+00:00 host postfix/…`) prefixes are read.
import type { MonitorEvent, Reject } from './events.ts';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SYSLOG = /^([A-Z][a-z]{2})\s+(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\S+) (postfix[\w/.-]*)\[\d+\]: (.*)$/;
const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})) (\S+) (postfix[\w/.-]*)\[\d+\]: (.*)$/;
const QID = /^([0-9A-F]{6,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}): (.*)$/;

type Queued = { from?: string; size?: number; nrcpt?: number; clientIp?: string; clientHost?: string; saslUser?: string; messageId?: string; seen: number };

const field = (s: string, name: string): string | undefined => {
  const m = new RegExp(`(?:^|[ ,])${name}=(<[^>]*>|[^,\\s]+)`).exec(s);
  return m ? m[1].replace(/^<|>$/g, '') : undefined;
};
const client = (s: string): { host?: string; ip?: string } => {
  const m = /([^\s[,]+)\[([0-9a-fA-F:.]+)\](?::\d+)?/.exec(s);
  return m ? { host: m[1], ip: m[2].replace(/^ipv6:/i, '') } : {};
};

export type PostfixOptions = { year?: number; localDomains?: string[] };

export class PostfixParser {
  private queue = new Map<string, Queued>();
  private lineNo = 0;
  readonly rejects: Reject[] = [];
  private readonly year: number;
  constructor(private readonly opts: PostfixOptions = {}) {
    this.year = opts.year ?? new Date().getUTCFullYear();
  }

  /** Parse one line; returns the events it completes (often none). */
  line(raw: string): MonitorEvent[] {
    this.lineNo++;
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) return [];
    let at: Date;
    let prog: string;
    let msg: string;
    let m = SYSLOG.exec(line);
    if (m) {
      const mon = MONTHS.indexOf(m[1]);
      at = new Date(Date.UTC(this.year, mon, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])));
      prog = m[7];
      msg = m[8];
    } else if ((m = RFC3339.exec(line))) {
      at = new Date(m[1]);
      prog = m[3];
      msg = m[4];
    } else {
      this.rejects.push({ index: this.lineNo - 1, line: this.lineNo, reason: 'not a Postfix log line' });
      return [];
    }
    if (Number.isNaN(at.getTime())) {
      this.rejects.push({ index: this.lineNo - 1, line: this.lineNo, reason: 'bad timestamp' });
      return [];
    }
    const service = prog.split('/').pop() ?? prog;
    const base = (type: string, extra: Partial<MonitorEvent>): MonitorEvent => ({
      at, type, source: 'postfix', actorType: 'sender', actorId: null, actor: null, target: null, outcome: null, ip: null, userAgent: null,
      country: null, city: null, lat: null, lon: null, asn: null, size: null, count: null, details: {}, ...extra,
    });

    // SASL authentication failure: a sign-in failure for the mailbox.
    if (/SASL \w+ authentication failed/.test(msg)) {
      const c = client(msg);
      const user = field(msg, 'sasl_username');
      return [base('auth.login.failure', { actorType: 'user', actor: user?.toLowerCase() ?? null, target: user ?? null, outcome: 'failure', ip: c.ip ?? null, details: { service: 'smtp', host: c.host } })];
    }
    // Rejected before queueing: `NOQUEUE: reject: RCPT from host[ip]: 554 5.7.1 <rcpt>: reason; from=<s> to=<r> proto=ESMTP helo=<h>`
    if (msg.startsWith('NOQUEUE: reject:') || /^[0-9A-Za-z]+: reject:/.test(msg)) {
      const c = client(msg);
      const from = field(msg, 'from');
      const to = field(msg, 'to');
      const reason = /: (\d{3} [\d.]+ .*?);/.exec(msg)?.[1] ?? msg.slice(0, 200);
      return [base('mail.rejected', { actor: from?.toLowerCase() || null, target: to?.toLowerCase() ?? null, outcome: 'denied', ip: c.ip ?? null, details: { reason, host: c.host } })];
    }
    const q = QID.exec(msg);
    if (!q) return [];
    const [, qid, rest] = q;
    let st = this.queue.get(qid);
    if (!st) {
      st = { seen: at.getTime() };
      this.queue.set(qid, st);
      if (this.queue.size > 200_000) this.trim(at.getTime());
    }
    if (service === 'smtpd' && rest.startsWith('client=')) {
      const c = client(rest);
      st.clientIp = c.ip;
      st.clientHost = c.host;
      st.saslUser = field(rest, 'sasl_username')?.toLowerCase();
      return [];
    }
    if (rest.startsWith('message-id=')) {
      st.messageId = rest.slice(11).replace(/^<|>$/g, '');
      return [];
    }
    if (service === 'qmgr' && rest.startsWith('from=')) {
      st.from = field(rest, 'from')?.toLowerCase();
      const size = field(rest, 'size');
      const nrcpt = field(rest, 'nrcpt');
      st.size = size ? Number(size) : undefined;
      st.nrcpt = nrcpt ? Number(nrcpt) : undefined;
      return [];
    }
    if (rest === 'removed') {
      this.queue.delete(qid);
      return [];
    }
    const status = field(rest, 'status');
    const to = field(rest, 'to');
    if (!status || !to) return [];
    const type = status === 'sent' ? 'mail.sent' : status === 'deferred' ? 'mail.deferred' : status === 'bounced' || status === 'expired' ? 'mail.bounced' : null;
    if (!type) return [];
    const origTo = field(rest, 'orig_to')?.toLowerCase();
    const relay = field(rest, 'relay');
    const dsn = field(rest, 'dsn');
    const reason = /status=\w+ \((.*)\)$/.exec(rest)?.[1];
    const common = {
      actor: st.from || st.saslUser || null,
      actorId: st.saslUser ?? null,
      ip: st.clientIp ?? null,
      size: st.size ?? null,
      details: { queueId: qid, relay, dsn, saslUser: st.saslUser, messageId: st.messageId, nrcpt: st.nrcpt, ...(reason ? { reason: reason.slice(0, 300) } : {}) },
    };
    const out = [base(type, { ...common, target: to.toLowerCase(), outcome: type === 'mail.sent' ? 'success' : 'failure', count: 1 })];
    // Forwarding: the original recipient was ours and the final one is elsewhere.
    if (origTo && origTo !== to.toLowerCase()) {
      const local = this.opts.localDomains;
      const origDomain = origTo.split('@')[1];
      const toDomain = to.toLowerCase().split('@')[1];
      if (origDomain && toDomain && origDomain !== toDomain && (!local || local.includes(origDomain)))
        out.push(base('mail.forwarded', { ...common, actor: origTo, actorType: 'user', target: to.toLowerCase(), outcome: 'success', details: { ...common.details, origTo } }));
    }
    return out;
  }

  private trim(now: number) {
    for (const [k, v] of this.queue) if (now - v.seen > 86_400_000) this.queue.delete(k);
  }

  /** Lines read so far. */
  get lines() {
    return this.lineNo;
  }
}

/** Parse a whole log text. */
export function parsePostfix(text: string, opts?: PostfixOptions): { events: MonitorEvent[]; rejects: Reject[] } {
  const p = new PostfixParser(opts);
  const events: MonitorEvent[] = [];
  for (const l of text.split('\n')) events.push(...p.line(l));
  return { events, rejects: p.rejects };
}
