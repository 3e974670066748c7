// Is an open or a click a person, or a machine? A pure function over what the
// tracking endpoint saw. Automated events are still recorded, but reported
// separately from human engagement.
//
// Signals, in order (the first that matches is the reason):
//   1. method      — HEAD (link checkers) and anything but GET is automated.
//   2. prefetch    — `Purpose: prefetch`, `Sec-Purpose: prefetch…`, `X-Purpose: preview`,
//                    `X-Moz: prefetch`: the browser/client fetched ahead of the user.
//   3. user agent  — missing, or a known security scanner / link previewer / HTTP library.
//   4. privacy proxy (opens) — Apple Mail Privacy Protection loads every image on
//                    delivery through Apple's proxies with the bare UA `Mozilla/5.0`:
//                    such opens say nothing about the person.
//   5. too soon    — within `minSecondsAfterDelivery` of delivery (defaults: opens 2 s,
//                    clicks 10 s): gateways (Safe Links, Proofpoint, Mimecast…) fetch
//                    every link on arrival, before anyone could have read the message.
// Gmail's and Yahoo's image proxies fetch when the user opens the message, so
// they count as human opens (flagged `proxied`).
export type EngagementKind = 'open' | 'click';

export type EngagementRequest = {
  kind: EngagementKind;
  method: string;
  /** Lower-cased header names. */
  headers: Record<string, string | string[] | undefined>;
  at: Date;
  /** When the message was accepted by the receiving server (null: unknown). */
  deliveredAt: Date | null;
};

export type AutomationReason = 'method' | 'prefetch' | 'no_user_agent' | 'scanner_user_agent' | 'privacy_proxy' | 'too_soon';

export type Classification =
  | { automated: false; proxied: boolean }
  | { automated: true; reason: AutomationReason; detail?: string };

export type AutomationOptions = { minSecondsAfterDelivery?: Partial<Record<EngagementKind, number>> };

const DEFAULT_MIN_SECONDS: Record<EngagementKind, number> = { open: 2, click: 10 };

/** Substrings (lower-case) of user agents that are never a person reading mail. */
export const SCANNER_USER_AGENTS = [
  'barracuda',
  'proofpoint',
  'mimecast',
  'messagelabs',
  'symantec',
  'trend micro',
  'trendmicro',
  'forcepoint',
  'sophos',
  'fortiguard',
  'fortinet',
  'ironport',
  'cisco',
  'checkpoint',
  'zscaler',
  'paloalto',
  'safelinks',
  'safe links',
  'bingpreview',
  'microsoft office existence discovery',
  'ms-office',
  'googlebot',
  'google-safety',
  'slackbot',
  'linkedinbot',
  'facebookexternalhit',
  'twitterbot',
  'skypeuripreview',
  'discordbot',
  'whatsapp',
  'telegrambot',
  'headlesschrome',
  'phantomjs',
  'python-requests',
  'python-urllib',
  'aiohttp',
  'curl/',
  'wget/',
  'go-http-client',
  'java/',
  'okhttp',
  'apache-httpclient',
  'libwww-perl',
  'node-fetch',
  'axios/',
  'undici',
  'zgrab',
  'masscan',
  'scanner',
  'crawler',
  'spider',
  'bot/',
  'bot;',
];

const HUMAN_PROXIES = ['googleimageproxy', 'ggpht.com', 'yahoomailproxy'];

function headerValue(h: EngagementRequest['headers'], name: string): string {
  const v = h[name];
  return (Array.isArray(v) ? v.join(',') : (v ?? '')).trim();
}

export function classifyEngagement(req: EngagementRequest, opts: AutomationOptions = {}): Classification {
  const method = req.method.toUpperCase();
  if (method !== 'GET' && !(req.kind === 'click' && method === 'POST')) return { automated: true, reason: 'method', detail: method };

  const purpose = [headerValue(req.headers, 'purpose'), headerValue(req.headers, 'sec-purpose'), headerValue(req.headers, 'x-purpose'), headerValue(req.headers, 'x-moz')]
    .join(' ')
    .toLowerCase();
  if (/\b(prefetch|preview|prerender)\b/.test(purpose)) return { automated: true, reason: 'prefetch', detail: purpose.trim() };

  const ua = headerValue(req.headers, 'user-agent');
  if (ua === '') return { automated: true, reason: 'no_user_agent' };
  const lower = ua.toLowerCase();
  const scanner = SCANNER_USER_AGENTS.find((s) => lower.includes(s));
  if (scanner) return { automated: true, reason: 'scanner_user_agent', detail: scanner };

  if (req.kind === 'open' && ua === 'Mozilla/5.0') return { automated: true, reason: 'privacy_proxy', detail: 'apple-mpp' };

  if (req.deliveredAt) {
    const min = opts.minSecondsAfterDelivery?.[req.kind] ?? DEFAULT_MIN_SECONDS[req.kind];
    const seconds = (req.at.getTime() - req.deliveredAt.getTime()) / 1000;
    if (seconds < min) return { automated: true, reason: 'too_soon', detail: `${seconds.toFixed(1)}s` };
  }
  return { automated: false, proxied: HUMAN_PROXIES.some((p) => lower.includes(p)) };
}
