// Binary COPY tuples of new contacts, built where the rows are encrypted (the
// import's worker thread, import-prepare.ts) with no database in sight, and sent
// by import-store.ts as they are when every row of the batch is new. Same bytes
// as BinaryCopyWriter (src/db/copy.ts) would write, but the tuple boundaries are
// kept, so the committing thread can drop rows that turned out to be duplicates
// and set the `suppressed` flag in place.
import type { EncodedValues } from './contact-encoding.ts';
import { BIDX_LAYOUT, WORKSPACE_ID } from './field-codec.ts';
import type { EncodedContact } from './import-store.ts';

// New rows seal their email in their record (profile.ts): email_enc and the per-column PII of older rows stay NULL.
export const contactColumns = `id, workspace_id, key_version, email_length, email_bidx, email_domain_bidx, bidx_layout, profile_enc,
  phone_bidx, attributes, job_title, country, time_zone, company_id, owner_user_id, tags, import_run, suppressed, import_id`;
const CONTACT_COLUMN_COUNT = 19;

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Signature, flags, header extension length. */
export const HEADER_BYTES = 19;
const TRAILER = Buffer.from([0xff, 0xff]);
const TEXT_OID = 25;
/** Every tuple ends with `import_run`, `suppressed` (int32 length 1, one byte) then `import_id` (int32 length 16, 16 bytes). */
const SUPPRESSED_FROM_END = 16 + 4 + 1;

/** A Buffer view of bytes that may have crossed threads (they arrive as a plain Uint8Array). */
export const asBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

export interface CopyTuples {
  /** Header, the tuples, trailer: a complete COPY body as long as every tuple is wanted. */
  body: Uint8Array;
  /** Tuple i spans body[ends[i], ends[i + 1]); ends[0] is the end of the header. */
  ends: Int32Array;
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

class TupleWriter {
  buf: Buffer;
  pos = 0;
  constructor(size: number) {
    // Own ArrayBuffer (not the shared pool): the body is transferred between threads.
    this.buf = Buffer.allocUnsafeSlow(size);
  }
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  i32(v: number): void {
    this.pos = this.buf.writeInt32BE(v, this.pos);
  }
  int2(v: number): void {
    this.i32(2);
    this.pos = this.buf.writeInt16BE(v, this.pos);
  }
  int4(v: number | null): void {
    if (v == null) {
      this.i32(-1);
      return;
    }
    this.i32(4);
    this.i32(v);
  }
  int8(v: number | null): void {
    if (v == null) {
      this.i32(-1);
      return;
    }
    this.i32(8);
    // Two's complement halves of a safe integer, without a BigInt per value.
    const hi = Math.floor(v / 2 ** 32);
    this.pos = this.buf.writeInt32BE(hi, this.pos);
    this.pos = this.buf.writeUInt32BE(v - hi * 2 ** 32, this.pos);
  }
  /** Canonical 8-4-4-4-12 hex text → 16 bytes, without intermediate strings. */
  uuid(v: string): void {
    if (v.length !== 36) throw new TypeError(`not a UUID: ${v}`);
    this.i32(16);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < 36; i += 2) {
      if (i === 8 || i === 13 || i === 18 || i === 23) i++;
      const hi = HEX[v.charCodeAt(i) & 127];
      const lo = HEX[v.charCodeAt(i + 1) & 127];
      if (hi < 0 || lo < 0 || v.charCodeAt(i) > 127 || v.charCodeAt(i + 1) > 127) throw new TypeError(`not a UUID: ${v}`);
      b[p++] = (hi << 4) | lo;
    }
    this.pos = p;
  }
  bytea(v: Uint8Array | null): void {
    if (v == null) {
      this.i32(-1);
      return;
    }
    this.i32(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }
  /** utf8 text (room for 3 bytes per UTF-16 unit must have been reserved). */
  text(v: string | null): void {
    if (v == null) {
      this.i32(-1);
      return;
    }
    const n = this.buf.write(v, this.pos + 4, 'utf8');
    this.buf.writeInt32BE(n, this.pos);
    this.pos += 4 + n;
  }
}

/** COPY tuples of new contacts in `contactColumns` order, added one by one (suppressed = false; see `pickCopyTuples`). */
export class CopyTupleWriter {
  #w: TupleWriter;
  #ends: number[] = [HEADER_BYTES];
  #importId: string | undefined;
  #importRun: number;

  constructor(importId?: string, importRun = 0, sizeHint = 1 << 20) {
    this.#importId = importId;
    this.#importRun = importRun;
    const w = (this.#w = new TupleWriter(Math.max(HEADER_BYTES + 2, sizeHint)));
    SIGNATURE.copy(w.buf, 0);
    w.buf.writeInt32BE(0, 11); // flags: no OIDs
    w.buf.writeInt32BE(0, 15); // header extension length
    w.pos = HEADER_BYTES;
  }

  get count(): number {
    return this.#ends.length - 1;
  }

  add(v: EncodedValues & { importId?: string | null; importRun?: number }): void {
    const w = this.#w;
    const json = JSON.stringify(v.attributes);
    let chars = json.length + (v.jobTitle?.length ?? 0) + (v.country?.length ?? 0) + (v.timeZone?.length ?? 0);
    for (const t of v.tags) chars += t.length + 4;
    // Fixed part ≤ 18 length words + 2 uuids + ints + array header; variable part: ciphertexts, 3 bytes per text unit.
    w.room(240 + 3 * chars + v.profileEnc.length);
    w.pos = w.buf.writeInt16BE(CONTACT_COLUMN_COUNT, w.pos);
    w.uuid(v.id);
    w.int4(WORKSPACE_ID);
    w.int4(v.keyVersion);
    w.int2(v.emailLength);
    w.int4(v.emailBidx);
    w.int4(v.emailDomainBidx);
    w.int2(BIDX_LAYOUT);
    w.bytea(v.profileEnc);
    w.int4(v.phoneBidx);
    // jsonb's binary form: a version byte (1) and the JSON text.
    const n = w.buf.write(json, w.pos + 5, 'utf8');
    w.i32(n + 1);
    w.buf[w.pos++] = 1;
    w.pos += n;
    w.text(v.jobTitle);
    w.text(v.country);
    w.text(v.timeZone);
    w.int8(v.companyId);
    w.int8(v.ownerUserId);
    // text[]: empty arrays have no dimensions.
    const start = w.pos;
    w.pos += 4; // total length, filled in below
    w.i32(v.tags.length ? 1 : 0);
    w.i32(0); // no NULL elements
    w.i32(TEXT_OID);
    if (v.tags.length) {
      w.i32(v.tags.length);
      w.i32(1); // lower bound
      for (const t of v.tags) w.text(t);
    }
    w.buf.writeInt32BE(w.pos - start - 4, start);
    w.int8(v.importRun ?? this.#importRun);
    w.i32(1);
    w.buf[w.pos++] = 0; // suppressed: false until the commit knows
    const im = v.importId ?? this.#importId ?? null;
    if (im === null) throw new TypeError('CopyTupleWriter: every row needs an import id');
    w.uuid(im);
    this.#ends.push(w.pos);
  }

  /** The tuples; the writer must not be used afterwards. */
  finish(): CopyTuples {
    const w = this.#w;
    w.room(2);
    TRAILER.copy(w.buf, w.pos);
    return { body: w.buf.subarray(0, w.pos + 2), ends: Int32Array.from(this.#ends) };
  }
}

/** COPY tuples of new contacts (each with its importId and importRun, or `importId`). */
export function copyTuples(
  values: readonly (EncodedValues & { importId?: string | null; importRun?: number })[],
  importId?: string,
): CopyTuples {
  const w = new CopyTupleWriter(importId, 0, HEADER_BYTES + values.length * 640 + 2);
  for (const v of values) w.add(v);
  return w.finish();
}

/**
 * The COPY body of some tuples of a batch, in the order given: tuple `i` of
 * `t`, or a replacement (a row re-encoded by the commit). Sets each picked
 * tuple's `suppressed` flag in place. Without drops or replacements the batch
 * body is used as it is.
 */
export function pickCopyTuples(
  t: CopyTuples,
  picks: readonly { i: number; suppressed: boolean; replacement?: EncodedContact }[],
): Buffer {
  const body = asBuffer(t.body);
  const n = t.ends.length - 1;
  let whole = picks.length === n;
  for (let k = 0; k < picks.length; k++) {
    const p = picks[k];
    if (p.replacement || p.i !== k) whole = false;
    if (!p.replacement) body[t.ends[p.i + 1] - SUPPRESSED_FROM_END] = p.suppressed ? 1 : 0;
  }
  if (whole) return body;
  const parts: Buffer[] = [body.subarray(0, HEADER_BYTES)];
  for (let k = 0; k < picks.length; k++) {
    const p = picks[k];
    if (p.replacement) {
      const r = copyTuples([p.replacement]);
      r.body[r.ends[1] - SUPPRESSED_FROM_END] = p.replacement.suppressed ? 1 : 0;
      parts.push(asBuffer(r.body).subarray(HEADER_BYTES, r.ends[1]));
      continue;
    }
    // Runs of consecutive tuples go as one slice.
    let j = k;
    while (j + 1 < picks.length && !picks[j + 1].replacement && picks[j + 1].i === picks[j].i + 1) j++;
    parts.push(body.subarray(t.ends[p.i], t.ends[picks[j].i + 1]));
    k = j;
  }
  parts.push(TRAILER);
  return Buffer.concat(parts);
}
