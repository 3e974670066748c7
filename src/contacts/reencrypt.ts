// The CPU part of a field-key rotation batch: re-encrypt every encrypted column
// of the rows under the active key (contacts still on an old blind-index layout
// also get their email index recomputed, from the email decrypted on the way).
// Pure: runs inline or in an encode worker thread (encode-pool.ts), with the
// same result.
import { decryptFieldText, encryptField, type Keyring, reencryptField } from '../crypto/field-cipher.ts';
import { byteaArrayParam } from '../db/copy.ts';
import { emailInRecord } from './profile.ts';
import { BIDX_LAYOUT, emailBidx } from './vault.ts';

export interface ReencryptJob {
  table: string;
  /** [column, AAD column name] pairs, as in rotation.ts ENCRYPTED_TABLES. */
  columns: readonly (readonly [string, string])[];
  ids: string[];
  /** values[c][r]: column c of row r as stored (null when empty), or that packed by `packJob` for a worker. */
  values: (Uint8Array | null)[][] | PackedColumn[];
  /** Contacts only: each row's bidx_layout. */
  layouts?: number[];
  /** Answer each column as one binary bytea[] parameter (PostgreSQL) instead of an array of Buffers. */
  binary: boolean;
}

export interface ReencryptResult {
  columns: (Buffer | (Buffer | null)[])[];
  /**
   * Contacts only: row r's email blind index under the current layout, or null where the stored one already
   * is (current layout and a single blind-index key: recomputing would give the same value for one more HMAC).
   */
  emailIdx: (number | null)[];
}

const asBuffer = (v: Uint8Array) => (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength));

/** One column's values in one buffer: value r is data[offsets[r]..offsets[r+1]), null where lengths[r] = -1. */
export interface PackedColumn {
  data: Uint8Array;
  starts: Int32Array;
  lengths: Int32Array;
}

/**
 * The job with each column packed into one buffer: a structured clone to a
 * worker then copies a few contiguous buffers, not thousands of small Buffers
 * (each of which may drag its whole 8 KiB allocation slab along).
 */
export function packJob(job: ReencryptJob): ReencryptJob {
  const values = (job.values as (Uint8Array | null)[][]).map((col) => {
    let size = 0;
    for (const v of col) size += v?.length ?? 0;
    const data = new Uint8Array(size);
    const starts = new Int32Array(col.length);
    const lengths = new Int32Array(col.length);
    let pos = 0;
    col.forEach((v, r) => {
      starts[r] = pos;
      lengths[r] = v == null ? -1 : v.length;
      if (v) {
        data.set(v, pos);
        pos += v.length;
      }
    });
    return { data, starts, lengths };
  });
  return { ...job, values };
}

function unpack(c: (Uint8Array | null)[] | PackedColumn): (Uint8Array | null)[] {
  if (Array.isArray(c)) return c;
  return Array.from(c.starts, (s, r) => (c.lengths[r] < 0 ? null : c.data.subarray(s, s + c.lengths[r])));
}

export function reencryptColumns(kr: Keyring, job: ReencryptJob): ReencryptResult {
  const isContacts = job.table === 'contacts';
  const emailIdx: (number | null)[] = isContacts ? new Array(job.ids.length).fill(null) : [];
  const oneIndexKey = kr.blindIndexKeys().length === 1;
  // A contact's email index is recomputed where its layout (or a second index key) says so, from the email
  // decrypted anyway: its own value (email_enc) in an older row, else the record's (profile.ts).
  const reindex = (r: number) => isContacts && !(oneIndexKey && job.layouts?.[r] === BIDX_LAYOUT);
  const values = job.values.map(unpack);
  const ownEmails = values[job.columns.findIndex(([, name]) => name === 'email')];
  const columns = job.columns.map(([, name], c) => {
    const out = values[c].map((v, r) => {
      if (v == null) return null;
      const ctx = { table: job.table, column: name, rowId: job.ids[r] };
      const buf = asBuffer(v);
      if (reindex(r) && (name === 'email' || (name === 'profile' && !ownEmails?.[r]))) {
        const plain = decryptFieldText(kr, ctx, buf);
        const email = name === 'email' ? plain : emailInRecord(plain);
        if (email !== null) emailIdx[r] = emailBidx(kr, email);
        return encryptField(kr, ctx, plain);
      }
      return reencryptField(kr, ctx, buf) ?? buf;
    });
    return job.binary ? byteaArrayParam(out) : out;
  });
  return { columns, emailIdx };
}
