// Generated contacts for the vault benchmarks: 5 fields to encrypt, 5 plaintext
// attributes; 30 % of the addresses at gmail.com, the rest over 5,000 domains.
import { createWriteStream, existsSync, renameSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MAPPING = {
  email: 'email',
  first_name: 'firstName',
  last_name: 'lastName',
  phone: 'phone',
  notes: 'notes',
  plan: 'plan',
  score: 'score',
  city: 'city',
  active: 'active',
  signup: 'signup',
};
const FIRST = ['Ada', 'Grace', 'Linus', 'Margaret', 'Alan', 'Barbara', 'Ken', 'Radia', 'Dennis', 'Frances'];
const LAST = [
  'Lovelace',
  'Hopper',
  'Torvalds',
  'Hamilton',
  'Turing',
  'Liskov',
  'Thompson',
  'Perlman',
  'Ritchie',
  'Allen',
];
const CITIES = ['Paris', 'Berlin', 'London', 'Madrid', 'Rome', 'Lisbon', 'Dublin', 'Vienna'];

/** 30 % of the addresses at one webmail domain (the case that made layout 1's 10-bit email index slow), the rest over 5,000 domains. */
export const emailOf = (i: number) =>
  `${FIRST[i % 10].toLowerCase()}.${LAST[(i * 7) % 10].toLowerCase()}.${i}@${i % 10 < 3 ? 'gmail.com' : `d${i % 5000}.example.com`}`;

export async function generateContactsCsv(n: number): Promise<string> {
  const path = join(tmpdir(), `mw-bench-contacts-v2-${n}.csv`);
  if (existsSync(path)) return path;
  const out = createWriteStream(`${path}.tmp`);
  out.write(`${Object.keys(MAPPING).join(',')}\n`);
  let buf = '';
  for (let i = 0; i < n; i++) {
    const f = FIRST[i % 10];
    const l = LAST[(i * 7) % 10];
    const phone = `+1415${String(2000000 + (i % 7_999_999)).padStart(7, '0')}`;
    buf += `${emailOf(i)},${f},${l},${phone},Met at event ${i % 100},${i % 3 ? 'pro' : 'free'},${i % 1000},${CITIES[i % 8]},${i % 2 ? 'true' : 'false'},2024-0${(i % 9) + 1}-1${i % 10}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
  renameSync(`${path}.tmp`, path);
  return path;
}

