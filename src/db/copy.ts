// COPY … FROM STDIN for the bulk writers (monitoring events, contact imports)
// on PostgreSQL. COPY skips what makes a large INSERT … SELECT FROM unnest(…)
// expensive on both sides: the client serialising every value into array
// literals (bytea as hex text) and the server parsing them back. PGlite has no
// client-side COPY stream here, so callers keep their INSERT path for it.
import type pg from 'pg';
import type { Tx } from './client.ts';

type PgConnection = {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
};

/**
 * A node-postgres "submittable" (client.query(obj) hands the connection to
 * obj.submit) that sends one COPY … FROM STDIN with the whole body in one
 * CopyData message. The same protocol hooks pg-copy-streams uses, without its
 * stream machinery (and without a dependency) since our body is one buffer.
 */
class CopyIn {
  private resolve!: () => void;
  private reject!: (err: Error) => void;
  /** Settles when the server has accepted (or refused) the COPY. */
  readonly done = new Promise<void>((res, rej) => {
    this.resolve = res;
    this.reject = rej;
  });
  constructor(
    readonly text: string,
    private readonly body: Buffer,
  ) {}
  submit(connection: PgConnection) {
    connection.query(this.text);
  }
  handleCopyInResponse(connection: PgConnection) {
    connection.sendCopyFromChunk(this.body);
    connection.endCopyFrom();
  }
  handleCommandComplete() {}
  handleReadyForQuery() {
    this.resolve();
  }
  // After an ErrorResponse node-postgres drops the active query: ReadyForQuery will not reach us.
  handleError(err: Error) {
    this.reject(err);
  }
  handleRowDescription() {}
  handleDataRow() {}
  handleEmptyQuery() {}
  handleCopyData() {}
}

/** Run one `COPY … FROM STDIN` statement with `body` as its whole input, on `client`. */
export async function copyFrom(client: pg.ClientBase, statement: string, body: Buffer): Promise<void> {
  const copy = new CopyIn(statement, body);
  client.query(copy as unknown as pg.QueryConfig);
  await copy.done;
}

/**
 * The node-postgres client under a Drizzle transaction, so a COPY can run
 * inside it; null on PGlite (or outside a node-postgres transaction).
 */
export function pgClientOf(tx: Tx): pg.ClientBase | null {
  const client = (tx as unknown as { session?: { client?: unknown } }).session?.client as
    | (pg.ClientBase & { release?: unknown })
    | undefined;
  // A transaction's session holds a checked-out PoolClient; the top-level Db holds the Pool itself.
  return client && typeof client.release === 'function' && typeof client.query === 'function' ? client : null;
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const TEXT_OID = 25;

/**
 * Builder for PostgreSQL's binary COPY format (header, tuples of
 * length-prefixed fields, trailer; see the COPY reference page). Values are
 * written in the server's binary send/recv layout, so the server does no text
 * parsing at all. The caller writes `row(n)` then exactly n fields, in the
 * column order of its COPY statement.
 */
export class BinaryCopyWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(sizeHint = 1 << 16) {
    this.buf = Buffer.allocUnsafe(Math.max(64, sizeHint));
    SIGNATURE.copy(this.buf, 0);
    this.buf.writeInt32BE(0, 11); // flags: no OIDs
    this.buf.writeInt32BE(0, 15); // header extension length
    this.pos = 19;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  row(fields: number): this {
    this.room(2);
    this.pos = this.buf.writeInt16BE(fields, this.pos);
    return this;
  }

  null(): this {
    this.room(4);
    this.pos = this.buf.writeInt32BE(-1, this.pos);
    return this;
  }

  int2(v: number): this {
    this.room(6);
    this.pos = this.buf.writeInt32BE(2, this.pos);
    this.pos = this.buf.writeInt16BE(v, this.pos);
    return this;
  }

  int4(v: number | null): this {
    if (v == null) return this.null();
    this.room(8);
    this.pos = this.buf.writeInt32BE(4, this.pos);
    this.pos = this.buf.writeInt32BE(v, this.pos);
    return this;
  }

  int8(v: number | null): this {
    if (v == null) return this.null();
    this.room(12);
    this.pos = this.buf.writeInt32BE(8, this.pos);
    this.pos = this.buf.writeBigInt64BE(BigInt(v), this.pos);
    return this;
  }

  bool(v: boolean | null): this {
    if (v == null) return this.null();
    this.room(5);
    this.pos = this.buf.writeInt32BE(1, this.pos);
    this.buf[this.pos++] = v ? 1 : 0;
    return this;
  }

  /** A UUID in its canonical text form (8-4-4-4-12 hex digits). */
  uuid(v: string | null): this {
    if (v == null) return this.null();
    if (v.length !== 36) throw new TypeError(`not a UUID: ${v}`);
    this.room(20);
    this.pos = this.buf.writeInt32BE(16, this.pos);
    // Five hex groups written straight into the buffer: no intermediate string without dashes.
    for (const [from, to] of UUID_GROUPS) {
      if (this.buf.write(v.slice(from, to), this.pos, 'hex') !== (to - from) / 2)
        throw new TypeError(`not a UUID: ${v}`);
      this.pos += (to - from) / 2;
    }
    return this;
  }

  bytea(v: Uint8Array | null | undefined): this {
    if (v == null) return this.null();
    this.room(4 + v.length);
    this.pos = this.buf.writeInt32BE(v.length, this.pos);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }

  text(v: string | null | undefined): this {
    if (v == null) return this.null();
    const max = v.length * 3;
    this.room(4 + max);
    const n = this.buf.write(v, this.pos + 4, 'utf8');
    this.buf.writeInt32BE(n, this.pos);
    this.pos += 4 + n;
    return this;
  }

  /** jsonb's binary form: a version byte (1) and the JSON text. */
  jsonb(json: string): this {
    const max = json.length * 3;
    this.room(5 + max);
    const n = this.buf.write(json, this.pos + 5, 'utf8');
    this.buf.writeInt32BE(n + 1, this.pos);
    this.buf[this.pos + 4] = 1;
    this.pos += 5 + n;
    return this;
  }

  /** A one-dimensional text[] without NULL elements. */
  textArray(values: readonly string[]): this {
    if (values.length === 0) {
      this.room(16);
      this.pos = this.buf.writeInt32BE(12, this.pos);
      this.pos = this.buf.writeInt32BE(0, this.pos); // dimensions
      this.pos = this.buf.writeInt32BE(0, this.pos); // has nulls
      this.pos = this.buf.writeInt32BE(TEXT_OID, this.pos);
      return this;
    }
    const start = this.pos;
    this.room(24);
    this.pos += 4; // total length, filled in below
    this.pos = this.buf.writeInt32BE(1, this.pos);
    this.pos = this.buf.writeInt32BE(0, this.pos);
    this.pos = this.buf.writeInt32BE(TEXT_OID, this.pos);
    this.pos = this.buf.writeInt32BE(values.length, this.pos);
    this.pos = this.buf.writeInt32BE(1, this.pos); // lower bound
    for (const v of values) this.text(v);
    this.buf.writeInt32BE(this.pos - start - 4, start);
    return this;
  }

  /** The finished COPY body (with the trailer); the writer must not be used afterwards. */
  finish(): Buffer {
    this.room(2);
    this.pos = this.buf.writeInt16BE(-1, this.pos);
    return this.buf.subarray(0, this.pos);
  }
}

const UUID_GROUPS: [number, number][] = [
  [0, 8],
  [9, 13],
  [14, 18],
  [19, 23],
  [24, 36],
];

const BYTEA_OID = 17;

/**
 * A bytea[] query parameter in PostgreSQL's binary array format. node-postgres
 * sends Buffer parameters in binary, so `$n::bytea[]` receives the values
 * without the hex text a plain array of Buffers becomes (twice the bytes,
 * encoded here and decoded by the server). PostgreSQL only: PGlite would take
 * the Buffer for one bytea value.
 */
export function byteaArrayParam(values: readonly (Uint8Array | null | undefined)[]): Buffer {
  let size = 20;
  let nulls = 0;
  for (const v of values) {
    size += 4 + (v?.length ?? 0);
    if (v == null) nulls = 1;
  }
  const out = Buffer.allocUnsafe(size);
  let pos = out.writeInt32BE(1, 0); // dimensions
  pos = out.writeInt32BE(nulls, pos);
  pos = out.writeInt32BE(BYTEA_OID, pos);
  pos = out.writeInt32BE(values.length, pos);
  pos = out.writeInt32BE(1, pos); // lower bound
  for (const v of values) {
    if (v == null) {
      pos = out.writeInt32BE(-1, pos);
      continue;
    }
    pos = out.writeInt32BE(v.length, pos);
    out.set(v, pos);
    pos += v.length;
  }
  return out;
}
