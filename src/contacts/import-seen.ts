// Emails an import run has inserted, as a Bloom filter (in memory only, never
// stored). The duplicate probe of a large import mostly finds candidates that
// the same run inserted a moment ago: the email blind index is truncated, so at
// 1,000,000 contacts a gmail.com address shares its index pair with ~19 others.
// When the filter says an address was *not* inserted by this run, those
// candidates cannot be it and need not be fetched and decrypted. A Bloom filter
// has no false negatives, so skipping is always safe; a false positive only
// means decrypting as before. Fixed size: beyond its capacity it degrades to
// "maybe" for everything, i.e. to the behaviour without it.

/** 2^25 bits = 4 MiB: about 1 % false positives at 3.5 million addresses. */
const BITS_LOG2 = 25;
const MASK = (1 << BITS_LOG2) - 1;
const PROBES = 7;

export interface SeenEmails {
  add(email: string): void;
  /** False: certainly never added. True: probably added. */
  mightContain(email: string): boolean;
}

// Two independent 32-bit FNV-1a style hashes of the UTF-16 code units; the k
// probe positions are h1 + i·h2 (Kirsch–Mitzenmacher double hashing).
function hashes(s: string): [number, number] {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
  }
  h2 ^= h2 >>> 15;
  return [h1 >>> 0, (h2 | 1) >>> 0];
}

export function seenEmails(): SeenEmails {
  const bits = new Uint8Array(1 << (BITS_LOG2 - 3));
  return {
    add(email) {
      const [h1, h2] = hashes(email);
      for (let i = 0; i < PROBES; i++) {
        const b = (h1 + Math.imul(i, h2)) & MASK;
        bits[b >>> 3] |= 1 << (b & 7);
      }
    },
    mightContain(email) {
      const [h1, h2] = hashes(email);
      for (let i = 0; i < PROBES; i++) {
        const b = (h1 + Math.imul(i, h2)) & MASK;
        if ((bits[b >>> 3] & (1 << (b & 7))) === 0) return false;
      }
      return true;
    },
  };
}
