// Public types of the phishing scanner. Result shapes are type aliases (not interfaces) so they
// stay assignable to `Record<string, unknown>`-style schemas (zod loose objects, loggers).

export type Verdict = 'phishing' | 'suspicious' | 'clean';

export type Reason = {
  /** Stable signal id, e.g. `links.text_href_mismatch`. */
  signal: string;
  /** Human-readable explanation with the evidence. */
  detail: string;
  /** Contribution of this signal to the score, in score points (0-100 scale, may be negative). */
  weight: number;
};

export type AuthOutcome =
  | 'pass'
  | 'fail'
  | 'softfail'
  | 'neutral'
  | 'none'
  | 'temperror'
  | 'permerror'
  | 'policy'
  | 'unknown';

export type AuthSummary = {
  /** Where the results come from: a trusted `Authentication-Results` header, a live check, or nothing. */
  source: 'header' | 'live' | 'none';
  authservId?: string;
  spf: AuthOutcome;
  dkim: AuthOutcome;
  dmarc: AuthOutcome;
  arc: AuthOutcome;
  /** Domain the DKIM signature(s) that passed belong to. */
  dkimDomains?: string[];
  /** RFC5322.From domain as seen by the authenticator. */
  headerFrom?: string;
  /** Envelope sender domain (smtp.mailfrom). */
  mailFrom?: string;
};

export interface WorkspaceConfig {
  /** Domains the organisation owns and sends from (lookalikes of these are flagged). */
  ownDomains?: string[];
  /** Display names of staff / executives that fraudsters impersonate (e.g. "Jane Doe"). */
  staffNames?: string[];
  /** Extra brand names to protect, with their legitimate domains. */
  brands?: { name: string; domains: string[] }[];
  /** Verdict thresholds on the 0-100 score. */
  thresholds?: { suspicious?: number; phishing?: number };
}

/** A per-workspace additive adjustment to the model's weights (see learn.ts). */
export interface ModelAdjustment {
  version: 1;
  /** feature -> delta added to the base weight */
  weights: Record<string, number>;
  bias: number;
  examples: number;
}

export interface ScanOptions {
  workspace?: WorkspaceConfig;
  /** 'offline' (default) trusts the top-most Authentication-Results header; 'live' runs SPF/DKIM/DMARC/ARC with DNS. */
  authMode?: 'offline' | 'live';
  /** Offline mode: only trust Authentication-Results headers whose authserv-id is one of these hosts. */
  trustedAuthservIds?: string[];
  /** Live mode: connection details of the SMTP session (IP, HELO, envelope sender). */
  live?: {
    ip?: string;
    helo?: string;
    sender?: string;
    mta?: string;
    dnsTimeoutMs?: number;
    /** Custom DNS resolver `(name, rrtype) => Promise<records>` (tests, or a shared caching resolver). */
    resolver?: (name: string, rrtype: string) => Promise<unknown>;
  };
  /** Analyst-learned adjustment for this workspace (from learnFromVerdicts). */
  adjustment?: ModelAdjustment;
  /** Override the bundled model (used by the bench for cross-validation). */
  model?: import('./model.ts').Model;
}

export type AttachmentInfo = {
  filename: string;
  mimeType: string;
  size: number;
  /** Entries of an archive attachment, from its central directory (never extracted). */
  archive?: { entries: { name: string; size: number; compressedSize: number; encrypted: boolean }[]; truncated: boolean; encrypted: boolean };
};

export type ScanResult = {
  score: number;
  verdict: Verdict;
  /** Fired signals, largest contribution first. */
  reasons: Reason[];
  subject?: string;
  from?: { name: string; address: string };
  replyTo?: string;
  auth: AuthSummary;
  links: { href: string; host: string; text?: string }[];
  attachments: AttachmentInfo[];
  /** Parser limits that were hit (the message was analysed partially). */
  limits: string[];
  /** Model probability before clamping to the 0-100 score. */
  probability: number;
};
