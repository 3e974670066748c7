// Shapes of the phishing queue API (src/phishing/queue-routes.ts) as the console uses them, and
// the labels/colours shared by the queue, the case detail and the badges.
export type Verdict = 'phishing' | 'suspicious' | 'clean';
export type State = 'new' | 'confirmed_phishing' | 'legitimate' | 'released';

export interface Reason {
  signal: string;
  detail: string;
  weight: number;
}

/** One row of GET /api/phishing/queue: repeated reports of a message are one case. */
export interface QueueItem {
  id: number;
  source: 'report' | 'gateway' | 'api';
  state: State;
  score: number;
  verdict: Verdict;
  subject: string;
  fromAddress: string;
  fromName: string;
  senderDomain: string;
  /** The first reporter (null for gateway quarantines). */
  reporter: string | null;
  /** Whether the first reporter is known staff; null for gateway quarantines. */
  reporterVerified: boolean | null;
  /** How many times the message was reported (unbounded; the reporters list is not). */
  reportCount: number;
  reasons: Reason[];
  analyst: string | null;
  createdAt: string;
  decidedAt: string | null;
}

export interface ReporterEntry {
  address: string;
  verified: boolean;
}

/** GET /api/phishing/queue/:id */
export interface Detail extends QueueItem {
  note: string | null;
  extraction: string | null;
  envelopeFrom: string | null;
  envelopeTo: string[] | null;
  truncated: boolean;
  size: number;
  /** Distinct reporters, at most MAX_REPORTERS (50) on the server; null for gateway rows. */
  reporters: ReporterEntry[] | null;
  lastReportedAt: string | null;
  auth: { source: string; spf: string; dkim: string; dmarc: string; arc: string } | null;
  links: { href: string; host: string; text?: string }[];
  attachments: { filename: string; mimeType: string; size: number }[];
  current: { score: number; verdict: Verdict; reasons: Reason[] };
  rendering: {
    headers: { name: string; value: string }[];
    text: string | null;
    html: string | null;
    remoteContentBlocked: number;
    disarmedLinks: number;
    error?: string;
  };
  canRelease: boolean;
}

export interface DayRow {
  day: string;
  reported: number;
  confirmed: number;
  legitimate: number;
}

export interface History {
  total: number;
  byState: Record<State, number>;
  byVerdict: Record<Verdict, number>;
  days: DayRow[];
  blocked: { id: number; kind: string; value: string }[];
}

export interface BlockEntry {
  id: number;
  kind: 'sender' | 'domain';
  value: string;
  reason: string | null;
  createdBy: string | null;
  createdAt: string;
}

/** The server keeps at most this many distinct reporters per case (MAX_REPORTERS). */
export const MAX_REPORTERS = 50;

export const verdictColor: Record<Verdict, string> = {
  phishing: 'red',
  suspicious: 'orange',
  clean: 'green',
};
export const stateLabel: Record<State, string> = {
  new: 'New',
  confirmed_phishing: 'Phishing',
  legitimate: 'Legitimate',
  released: 'Released',
};
export const stateColor: Record<State, string> = {
  new: 'blue',
  confirmed_phishing: 'red',
  legitimate: 'green',
  released: 'teal',
};
