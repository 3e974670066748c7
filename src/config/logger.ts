// pino logger: JSON in production, readable in a terminal. Secrets and customer
// fields are redacted by key name wherever they appear in a logged object.
import pino, { type Logger } from 'pino';

export type { Logger };

const secretKeys = [
  'password',
  'newPassword',
  'currentPassword',
  'passwordHash',
  'token',
  'secret',
  'code',
  'recoveryCode',
  'recoveryCodes',
  'cookie',
  'authorization',
  'masterKey',
  'key',
  'apiKey',
  'set-cookie',
  'x-csrf-token',
  // customer fields
  'email',
  'firstName',
  'lastName',
  'phone',
  'notes',
];

export const redactPaths = [
  ...secretKeys,
  ...secretKeys.map((k) => `*.${k}`),
  ...secretKeys.map((k) => `*.*.${k}`),
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
];

export function createLogger(opts: { level: string; format: 'json' | 'pretty' }, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: opts.level,
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { service: 'mailwarden' },
  };
  if (destination) return pino(options, destination);
  if (opts.format === 'pretty')
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } } });
  return pino(options);
}
