// The CPU side of an import, run on a worker thread (import-thread.ts) or
// inline: parse and validate (importRows), encrypt and blind-index the good
// rows, and lay new contacts out as binary COPY tuples. What it hands to the
// committing thread is columnar (typed arrays, string arrays, one buffer): a
// batch crosses threads as a handful of objects instead of 40 properties and
// 6 buffers per row, which is what made the earlier per-row worker protocol
// cost as much as it saved.
import type { Readable } from 'node:stream';
import type { Keyring } from '../crypto/field-cipher.ts';
import { type EncodedValues, type EncodeInit, encodeContact, fieldsOf } from './contact-encoding.ts';
import { type CopyTuples, CopyTupleWriter } from './copy-tuples.ts';
import { uuidv7 } from './field-codec.ts';
import {
  type BadRow,
  batchSizeOf,
  type ImportOptions as RowOptions,
  type ImportStats,
  newImportStats,
  type ValidRow,
  validatedRows,
} from './import-rows.ts';

export interface PrepareOptions {
  /** Source rows committed by an earlier run of the import: parsed (to find the place) but not prepared. */
  skip: number;
  /** Lay new contacts out as COPY tuples (PostgreSQL); otherwise keep the encoded values (PGlite's INSERT). */
  copy: boolean;
  /** Keep the validated rows (an `update` import merges them into existing contacts; otherwise they are not needed). */
  rows: boolean;
  /** contacts.import_id of the new contacts. */
  importId: string;
  /** contacts.import_run of the new contacts: this run's number. */
  importRun: number;
}

export interface PreparedBatch {
  /** Source rows of the batch (good + bad): what `rows_done` advances by. */
  count: number;
  bad: BadRow[];
  /** Good rows, by index: source line, normalised email, new contact id, email and domain blind indexes. */
  lines: Int32Array;
  emails: string[];
  ids: string[];
  emailBidx: Int32Array;
  domainBidx: Int32Array;
  /** Validated rows (PrepareOptions.rows). */
  rows: ValidRow[] | null;
  /** Encoded rows (without PrepareOptions.copy). Where absent, the commit re-encodes the few it needs (merges). */
  values: EncodedValues[] | null;
  /** New-contact COPY tuples (PrepareOptions.copy). */
  copy: CopyTuples | null;
  /** Parser counters when the batch was cut. */
  stats: ImportStats;
}

/**
 * One batch being prepared, row by row: each good row is encrypted and laid
 * out as soon as it is validated, so what stays in memory until the batch is
 * handed over is compact (the COPY bytes, an email and an id string per row)
 * rather than the row objects and their ~6 encryption buffers. Those die young:
 * measured, keeping whole batches of them alive made the garbage collector
 * promote most rows to the old generation and spend ~20 µs per row.
 */
class BatchBuilder {
  readonly lines: number[] = [];
  readonly emails: string[] = [];
  readonly ids: string[] = [];
  readonly emailBidx: number[] = [];
  readonly domainBidx: number[] = [];
  readonly bad: BadRow[] = [];
  readonly rows: ValidRow[] | null;
  readonly values: EncodedValues[] | null;
  readonly copy: CopyTupleWriter | null;
  count = 0;

  constructor(
    private readonly kr: Keyring,
    private readonly init: EncodeInit,
    o: PrepareOptions,
  ) {
    this.rows = o.rows ? [] : null;
    this.values = o.copy ? null : [];
    this.copy = o.copy ? new CopyTupleWriter(o.importId, o.importRun) : null;
  }

  good(row: ValidRow): void {
    const v = encodeContact(this.kr, uuidv7(), fieldsOf(row, this.init), this.init.defs);
    this.lines.push(row.line);
    this.emails.push(row.email);
    this.ids.push(v.id);
    this.emailBidx.push(v.emailBidx);
    this.domainBidx.push(v.emailDomainBidx);
    this.rows?.push(row);
    this.values?.push(v);
    this.copy?.add(v);
    this.count++;
  }

  addBad(row: BadRow): void {
    this.bad.push(row);
    this.count++;
  }

  finish(stats: ImportStats): PreparedBatch {
    return {
      count: this.count,
      bad: this.bad,
      lines: Int32Array.from(this.lines),
      emails: this.emails,
      ids: this.ids,
      emailBidx: Int32Array.from(this.emailBidx),
      domainBidx: Int32Array.from(this.domainBidx),
      rows: this.rows,
      values: this.values,
      copy: this.copy?.finish() ?? null,
      stats: { ...stats },
    };
  }
}

/**
 * Validated rows → prepared batches, in file order. Batches are cut every
 * `batchSize` source rows counted from the start of the file; the first
 * `o.skip` rows (committed by an earlier run) are parsed to find the place but
 * not prepared, so a resumed run commits the rest of the batch a crash cut.
 */
export async function* preparedBatches(
  input: Readable,
  kr: Keyring,
  init: EncodeInit,
  rowOptions: RowOptions,
  o: PrepareOptions,
): AsyncGenerator<PreparedBatch, void, void> {
  const batchSize = batchSizeOf(rowOptions);
  const stats = rowOptions.stats ?? newImportStats();
  let seen = 0;
  let batch = new BatchBuilder(kr, init, o);
  for await (const rows of validatedRows(input, rowOptions, stats)) {
    for (const row of rows) {
      if (seen++ >= o.skip) {
        if ('reason' in row) batch.addBad(row);
        else batch.good(row);
      }
      if (seen % batchSize === 0) {
        stats.rowsYielded = seen;
        if (batch.count > 0) yield batch.finish(stats);
        batch = new BatchBuilder(kr, init, o);
      }
    }
  }
  stats.rowsYielded = seen;
  if (batch.count > 0) yield batch.finish(stats);
}
