// Configuration: read once from the environment (and an optional .env) at start,
// validated with zod into a typed object that is passed down explicitly.
// A bad value stops start-up with one line naming the variable and the fix.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { z } from 'zod';

const RATE = String.raw`\d+/[smhd]`;
const RATE_LIST = new RegExp(`^${RATE}(,${RATE})*$`);
const DOMAIN_LIMITS = new RegExp(`^[a-z0-9.-]+=${RATE}(,${RATE})*(;[a-z0-9.-]+=${RATE}(,${RATE})*)*$`, 'i');

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('127.0.0.1'),
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
    .optional(),
  MAILWARDEN_DATA_DIR: z.string().default('./data'),
  MAILWARDEN_MASTER_KEY: z.string().optional(),
  MAILWARDEN_MASTER_KEY_FILE: z.string().optional(),
  /** Previous master key(s), comma-separated, accepted for unwrapping only during a master-key rotation. */
  MAILWARDEN_MASTER_KEY_PREVIOUS: z.string().optional(),
  SMTP_URL: z
    .string()
    // One relay, or several separated by commas (`?weight=N` each; `?tls=none` for a loopback relay).
    .regex(
      /^smtps?:\/\/[^,\s]+(,\s*smtps?:\/\/[^,\s]+)*$/,
      'must start with smtp:// or smtps:// (several relays separated by commas)',
    )
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  NODE_ENV: z.string().default('development'),
  // Which proxies may set X-Forwarded-For: a hop count, or a comma-separated list of
  // addresses/CIDRs. `true` trusts every hop, letting any client choose its own address
  // (and so escape per-IP limits): only for a proxy that overwrites the header.
  TRUST_PROXY: z
    .string()
    .default('false')
    .refine(
      (v) => /^(true|false|\d+|[0-9a-fA-F.:/,\s]+)$/.test(v),
      'must be false, true, a hop count, or addresses/CIDRs',
    )
    .transform((v): boolean | number | string =>
      v === 'true' ? true : v === 'false' ? false : /^\d+$/.test(v) ? Number(v) : v.replace(/\s+/g, ''),
    ),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  /** Inbound SMTP listener for bounces (DSN) and complaints (ARF); 0 turns it off. */
  INBOUND_SMTP_PORT: z.coerce.number().int().min(0).max(65535).default(2525),
  /** Domain of the VERP return paths; the inbound listener accepts mail only for it. */
  BOUNCE_DOMAIN: z
    .string()
    .regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, 'must be a domain name')
    .optional(),
  /** The delivery engine: `serve` sends too unless false (then only `worker` processes send). */
  DELIVERY_IN_SERVE: z.enum(['true', 'false']).default('true'),
  DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(200).default(8),
  DELIVERY_BATCH_SIZE: z.coerce.number().int().min(1).max(5000).default(200),
  DELIVERY_LEASE_SECONDS: z.coerce.number().int().min(2).max(3600).default(60),
  DELIVERY_RETRY_HOURS: z.coerce.number().min(0).max(720).default(72),
  /** Days the built-in outbox keeps captured messages (0 = forever). */
  OUTBOX_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(14),
  /** Limits over all relays together, e.g. `100/s,20000/h,200000/d`. */
  SMTP_RATE_LIMIT: z.string().regex(RATE_LIST, 'must look like 100/s,20000/h').optional(),
  /** Per recipient domain, e.g. `gmail.com=20/s,3000/h;outlook.com=1000/h`. */
  DELIVERY_DOMAIN_LIMITS: z
    .string()
    .regex(DOMAIN_LIMITS, 'must look like gmail.com=20/s,3000/h;outlook.com=1000/h')
    .optional(),
  /** Sending domains on the warm-up schedule (daily caps that roughly double from 50), comma-separated. */
  DELIVERY_WARMUP_DOMAINS: z.string().optional(),
  /** Phishing report mailbox (SMTP); 0 turns it off. Needs PHISHING_REPORT_ADDRESS. */
  PHISHING_SMTP_PORT: z.coerce.number().int().min(0).max(65535).default(2526),
  PHISHING_REPORT_ADDRESS: z.email().optional(),
  /** Phishing gateway (SMTP in, stamped mail out to the next hop); 0 = off. */
  PHISHING_GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  PHISHING_GATEWAY_NEXT_HOP: z
    .string()
    .regex(/^smtps?:\/\/[^/]+/, 'must be smtp://host:port or smtps://host:port')
    .optional(),
  PHISHING_GATEWAY_HOSTNAME: z
    .string()
    .regex(/^[a-z0-9.-]{1,253}$/i, 'must be a host name')
    .optional(),
  PHISHING_GATEWAY_QUARANTINE_SCORE: z.coerce.number().int().min(0).max(101).default(90),
  PHISHING_GATEWAY_BANNER: z.enum(['true', 'false']).default('true'),
  PHISHING_GATEWAY_DOMAINS: z.string().optional(),
  PHISHING_TRUSTED_AUTHSERV_IDS: z.string().optional(),
});

/** Fixes shown next to a bad variable. */
const fixes: Record<string, string> = {
  PORT: 'set PORT to a number between 0 and 65535',
  PUBLIC_URL: 'set PUBLIC_URL to the URL users open, e.g. https://mail.example.com',
  DATABASE_URL:
    'set DATABASE_URL to postgres://user:pass@host:5432/db, or unset it to use the embedded PGlite',
  SMTP_URL: 'set SMTP_URL to smtp://user:pass@relay:587, or unset it to capture mail in the built-in outbox',
  LOG_LEVEL: 'use one of fatal, error, warn, info, debug, trace, silent',
  INBOUND_SMTP_PORT: 'set INBOUND_SMTP_PORT to a port number, or 0 to turn the bounce listener off',
  BOUNCE_DOMAIN: 'set BOUNCE_DOMAIN to the domain whose MX points at this server, e.g. bounce.example.com',
  PHISHING_SMTP_PORT: 'set PHISHING_SMTP_PORT to a port number, or 0 (or the same port as INBOUND_SMTP_PORT) to receive reports on the bounce listener',
  PHISHING_REPORT_ADDRESS:
    'set PHISHING_REPORT_ADDRESS to the address employees forward suspicious mail to, e.g. phish@example.com',
  PHISHING_GATEWAY_PORT: 'set PHISHING_GATEWAY_PORT to a port number, or 0 to turn the gateway off',
  PHISHING_GATEWAY_NEXT_HOP:
    'set PHISHING_GATEWAY_NEXT_HOP to the mail server the gateway relays to, e.g. smtp://10.0.0.5:25',
  TRUST_PROXY: 'use the number of proxy hops (e.g. 1) or the proxy addresses (e.g. 10.0.0.5,10.1.0.0/16)',
  MAILWARDEN_MASTER_KEY: 'provide 32 bytes as 64 hex characters or base64 (e.g. `openssl rand -hex 32`)',
};

export type Config = {
  port: number;
  host: string;
  publicUrl: string;
  secureCookies: boolean;
  database: { kind: 'pglite'; dataDir: string } | { kind: 'postgres'; url: string };
  dataDir: string;
  masterKey: Buffer;
  masterKeySource: 'env' | 'file' | 'generated' | 'data-dir';
  /** Previous master keys (MAILWARDEN_MASTER_KEY_PREVIOUS): unwrap-only, during a master-key rotation. */
  masterKeyPrevious?: Buffer[];
  smtpUrl: string | undefined;
  logLevel: string;
  logFormat: 'json' | 'pretty';
  env: string;
  trustProxy: boolean | number | string;
  workerConcurrency: number;
  /** Inbound bounce/complaint SMTP port (0 = off). Optional in the type: absent = off. */
  inboundSmtpPort?: number;
  /** VERP/bounce domain; defaults to `bounce.<PUBLIC_URL host>`. */
  bounceDomain?: string;
  /** Phishing report mailbox and gateway (src/phishing/smtp.ts). Optional in the type: absent = off. */
  phishing?: PhishingConfig;
  /** The delivery engine (src/delivery/engine.ts). Optional in the type: absent = defaults. */
  delivery?: DeliveryConfig;
};

export type RateLimit = { per: 'second' | 'minute' | 'hour' | 'day'; max: number };

export type DeliveryConfig = {
  inServe: boolean;
  concurrency: number;
  batchSize: number;
  leaseSeconds: number;
  retryHours: number;
  outboxRetentionDays: number;
  relayLimits: RateLimit[];
  domainLimits: Record<string, RateLimit[]>;
  warmupDomains: string[];
};

const UNIT = { s: 'second', m: 'minute', h: 'hour', d: 'day' } as const;
function parseRates(v: string): RateLimit[] {
  return v.split(',').map((r) => {
    const [n, u] = r.split('/');
    return { per: UNIT[u as keyof typeof UNIT], max: Number(n) };
  });
}

function deliveryConfig(env: z.infer<typeof envSchema>): DeliveryConfig {
  const domainLimits: Record<string, RateLimit[]> = {};
  for (const part of (env.DELIVERY_DOMAIN_LIMITS ?? '').split(';').filter(Boolean)) {
    const [d, rates] = part.split('=');
    domainLimits[d.toLowerCase()] = parseRates(rates);
  }
  return {
    inServe: env.DELIVERY_IN_SERVE === 'true',
    concurrency: env.DELIVERY_CONCURRENCY,
    batchSize: env.DELIVERY_BATCH_SIZE,
    leaseSeconds: env.DELIVERY_LEASE_SECONDS,
    retryHours: env.DELIVERY_RETRY_HOURS,
    outboxRetentionDays: env.OUTBOX_RETENTION_DAYS,
    relayLimits: env.SMTP_RATE_LIMIT ? parseRates(env.SMTP_RATE_LIMIT) : [],
    domainLimits,
    warmupDomains: list(env.DELIVERY_WARMUP_DOMAINS),
  };
}

export type PhishingConfig = {
  smtpPort: number;
  reportAddress?: string;
  gatewayPort: number;
  nextHop?: string;
  /** Greeting and authserv-id of the gateway. */
  hostname: string;
  quarantineScore: number;
  banner: boolean;
  /** Recipient domains the gateway accepts (empty = any). */
  gatewayDomains: string[];
  trustedAuthservIds: string[];
};

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

/** Parse a 32-byte key given as 64 hex characters or base64. */
export function parseMasterKey(text: string, variable = 'MAILWARDEN_MASTER_KEY'): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== 32) throw new ConfigError(variable, `must be 32 bytes; ${fixes.MAILWARDEN_MASTER_KEY}`);
  return key;
}

type KeyResolution = { key: Buffer; source: Config['masterKeySource'] };

function resolveMasterKey(env: z.infer<typeof envSchema>, dataDir: string, embedded: boolean): KeyResolution {
  if (env.MAILWARDEN_MASTER_KEY) return { key: parseMasterKey(env.MAILWARDEN_MASTER_KEY), source: 'env' };
  if (env.MAILWARDEN_MASTER_KEY_FILE) {
    if (!existsSync(env.MAILWARDEN_MASTER_KEY_FILE))
      throw new ConfigError(
        'MAILWARDEN_MASTER_KEY_FILE',
        `file ${env.MAILWARDEN_MASTER_KEY_FILE} does not exist`,
      );
    return {
      key: parseMasterKey(readFileSync(env.MAILWARDEN_MASTER_KEY_FILE, 'utf8'), 'MAILWARDEN_MASTER_KEY_FILE'),
      source: 'file',
    };
  }
  if (!embedded)
    throw new ConfigError(
      'MAILWARDEN_MASTER_KEY',
      'is required with DATABASE_URL; set MAILWARDEN_MASTER_KEY or MAILWARDEN_MASTER_KEY_FILE (e.g. `openssl rand -hex 32`)',
    );
  // Embedded mode: the key lives next to the database, generated once.
  const path = join(dataDir, 'master.key');
  if (existsSync(path)) return { key: parseMasterKey(readFileSync(path, 'utf8'), path), source: 'data-dir' };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  writeFileSync(path, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return { key, source: 'generated' };
}

/** Load the .env file (if present) into a copy of the environment; real env wins. */
export function readEnvironment(
  base: NodeJS.ProcessEnv = process.env,
  envFile = '.env',
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  if (existsSync(envFile)) {
    for (const line of readFileSync(envFile, 'utf8').split(/\r?\n/)) {
      const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
      if (!m || line.trimStart().startsWith('#')) continue;
      env[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
    }
  }
  for (const [k, v] of Object.entries(base)) if (v !== undefined && v !== '') env[k] = v;
  return env;
}

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((x) => x.trim().toLowerCase())
    .filter(Boolean);

function phishingConfig(env: z.infer<typeof envSchema>, publicUrl: string): PhishingConfig {
  if (env.PHISHING_GATEWAY_PORT && !env.PHISHING_GATEWAY_NEXT_HOP)
    throw new ConfigError(
      'PHISHING_GATEWAY_NEXT_HOP',
      `is required when PHISHING_GATEWAY_PORT is set — ${fixes.PHISHING_GATEWAY_NEXT_HOP}`,
    );
  return {
    smtpPort: env.PHISHING_SMTP_PORT,
    reportAddress: env.PHISHING_REPORT_ADDRESS?.toLowerCase(),
    gatewayPort: env.PHISHING_GATEWAY_PORT,
    nextHop: env.PHISHING_GATEWAY_NEXT_HOP,
    hostname: (env.PHISHING_GATEWAY_HOSTNAME ?? new URL(publicUrl).hostname).toLowerCase(),
    quarantineScore: env.PHISHING_GATEWAY_QUARANTINE_SCORE,
    banner: env.PHISHING_GATEWAY_BANNER === 'true',
    gatewayDomains: list(env.PHISHING_GATEWAY_DOMAINS),
    trustedAuthservIds: list(env.PHISHING_TRUSTED_AUTHSERV_IDS),
  };
}

export function loadConfig(rawEnv: Record<string, string | undefined> = readEnvironment()): Config {
  const parsed = envSchema.safeParse(rawEnv);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue.path[0] ?? 'environment');
    throw new ConfigError(variable, `${issue.message}${fixes[variable] ? ` — ${fixes[variable]}` : ''}`);
  }
  const env = parsed.data;
  const dataDir = resolve(env.MAILWARDEN_DATA_DIR);
  const embedded = !env.DATABASE_URL;
  const { key, source } = resolveMasterKey(env, dataDir, embedded);
  const publicUrl = (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/$/, '');
  return {
    port: env.PORT,
    host: env.HOST,
    publicUrl,
    secureCookies: publicUrl.startsWith('https://'),
    database: env.DATABASE_URL
      ? { kind: 'postgres', url: env.DATABASE_URL }
      : { kind: 'pglite', dataDir: join(dataDir, 'db') },
    dataDir,
    masterKey: key,
    masterKeySource: source,
    masterKeyPrevious: (env.MAILWARDEN_MASTER_KEY_PREVIOUS ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean)
      .map((k) => parseMasterKey(k, 'MAILWARDEN_MASTER_KEY_PREVIOUS')),
    smtpUrl: env.SMTP_URL,
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT ?? (process.stdout.isTTY && env.NODE_ENV !== 'production' ? 'pretty' : 'json'),
    env: env.NODE_ENV,
    trustProxy: env.TRUST_PROXY,
    workerConcurrency: env.WORKER_CONCURRENCY,
    inboundSmtpPort: env.INBOUND_SMTP_PORT,
    bounceDomain: (env.BOUNCE_DOMAIN ?? `bounce.${new URL(publicUrl).hostname}`).toLowerCase(),
    phishing: phishingConfig(env, publicUrl),
    delivery: deliveryConfig(env),
  };
}
