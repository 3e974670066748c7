// Contact-import sources: stream CSV (csv-parse) or JSON Lines bytes into
// SourceRows in file order, with exact line numbers and structural errors.
import type { Readable } from 'node:stream';
import { type CsvError, type Options as CsvOptions, Parser } from 'csv-parse';
import type { Plan } from './import-mapping.ts';
import { ImportConfigError, type ImportOptions, type ImportStats } from './import-types.ts';
import type { Cell } from './import-validate.ts';

export interface SourceRow {
  line: number;
  raw: string;
  values?: Record<string, Cell>;
  /** Structural problem (bad CSV quoting, column count, bad JSON): the row is not validated. */
  error?: string;
}

/**
 * Offsets of '\n' bytes seen so far, to turn parser byte offsets into line
 * numbers exactly (csv-parse's own line counter drifts on CRLF inside quoted
 * fields). Entries before the oldest row still being parsed are dropped, so
 * this holds only the newlines of the parser's buffered window.
 */
class NewlineIndex {
  #positions: number[] = [];
  #crlf: boolean[] = [];
  #head = 0;
  #dropped = 0;
  #offset = 0;
  #lastWasCR = false;

  /** Record the newlines of the next bytes of the file (call before the parser sees them). */
  note(chunk: Buffer): void {
    let i = chunk.indexOf(0x0a);
    while (i !== -1) {
      this.#positions.push(this.#offset + i);
      this.#crlf.push(i > 0 ? chunk[i - 1] === 0x0d : this.#lastWasCR);
      i = chunk.indexOf(0x0a, i + 1);
    }
    this.#offset += chunk.length;
    if (chunk.length > 0) this.#lastWasCR = chunk[chunk.length - 1] === 0x0d;
  }

  #dropBefore(pos: number): void {
    while (this.#head < this.#positions.length && this.#positions[this.#head] < pos) {
      this.#head++;
      this.#dropped++;
    }
    if (this.#head > 4096 && this.#head * 2 > this.#positions.length) {
      this.#positions = this.#positions.slice(this.#head);
      this.#crlf = this.#crlf.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Line number (1-based) of the first non-empty line starting at byte offset `start`. */
  lineAt(start: number): number {
    let s = start;
    for (;;) {
      this.#dropBefore(s);
      const next = this.#positions[this.#head];
      if (next === s)
        s += 1; // empty LF line
      else if (next === s + 1 && this.#crlf[this.#head])
        s += 2; // empty CRLF line
      else break;
    }
    return this.#dropped + 1;
  }

  /**
   * Line number of the last line of a record ending at byte offset `end`
   * (exclusive, after its line break if any): one more than the newlines
   * before its terminating one.
   */
  lastLineOfRecordEndingAt(end: number): number {
    this.#dropBefore(end - 1);
    return this.#dropped + 1;
  }
}

function countNewlines(fields: readonly string[]): number {
  let n = 0;
  for (const f of fields) {
    for (let i = f.indexOf('\n'); i !== -1; i = f.indexOf('\n', i + 1)) n++;
  }
  return n;
}

function cleanRaw(raw: string): string {
  return raw.replace(/^[\r\n]+/, '').replace(/[\r\n]+$/, '');
}

const CSV_ERRORS: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED:
    'malformed CSV: a quoted field is never closed; the rest of the file could not be read',
  CSV_INVALID_CLOSING_QUOTE: 'malformed CSV: unexpected character after a closing quote',
  CSV_MAX_RECORD_SIZE: 'malformed CSV: row larger than the maximum row size (unbalanced quote?)',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'malformed CSV: unexpected character after a closing quote',
};
const MAX_PENDING_ERRORS = 10_000;

interface CsvRecord {
  /** Byte offset where the previous record ended (orders records and parse errors). */
  start: number;
  line: number;
  header?: string[];
  fields?: string[];
  raw?: string;
}

/**
 * Bytes handed to the parser at a time. The parser is driven directly (no
 * stream between it and us) and the rows of each slice are handed over as one
 * array: one await per slice instead of three per row (measured: the stream and
 * generator hops per record were a few µs of the parse cost). A large input
 * chunk (a whole file as one string) is still parsed a slice at a time, so the
 * rows held at once stay bounded.
 */
const SLICE_BYTES = 64 * 1024;

/** CSV rows in file order, in arrays (one per slice of input). */
export async function* csvSource(
  input: Readable,
  options: ImportOptions,
  plan: Plan,
  stats: ImportStats,
): AsyncGenerator<SourceRow[], void, void> {
  const index = new NewlineIndex();
  let header: string[] | null = null;
  let headerParsed = false;
  let prevEnd = 0;
  // Parse errors are reported by csv-parse out of band ('skip' events); they
  // are queued with their start offset and merged back into file order.
  const pending: { start: number; row: SourceRow }[] = [];
  let records: CsvRecord[] = [];

  const csvOptions: CsvOptions = {
    bom: true,
    raw: true,
    delimiter: options.delimiter ?? ',',
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    max_record_size: options.maxRowBytes ?? 64 * 1024,
  };
  // Each record with its raw text; `info.bytes` is where it ended. (csv-parse's on_record hook would also
  // build an info object and decode the raw text a second time per record: ~2 µs of the parse.)
  const onRecord = (rec: { record: string[]; raw: string }) => {
    const start = prevEnd;
    const end = parser.info.bytes;
    prevEnd = end;
    // Start line = last line − line breaks inside quoted fields. Counting from
    // the end also skips blank lines before the row and rows csv-parse dropped.
    const line = index.lastLineOfRecordEndingAt(end) - countNewlines(rec.record);
    if (!headerParsed) {
      headerParsed = true;
      records.push({ start, line, header: rec.record });
      return;
    }
    stats.rowsRead++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.rowsRead - stats.rowsYielded);
    records.push({ start, line, fields: rec.record, raw: cleanRaw(rec.raw) });
  };
  const parser = new Parser(csvOptions);
  parser.on('skip', (err: CsvError & { raw?: string }) => {
    const start = prevEnd;
    const raw = cleanRaw(err.raw ?? '');
    const last = pending[pending.length - 1];
    // csv-parse may report one broken row several times; keep one entry, the longest raw.
    if (last && last.start === start) {
      if (raw.length > last.row.raw.length) last.row.raw = raw;
      return;
    }
    // Thrown from inside the parser, which hands it back as the error of the slice being parsed.
    if (pending.length >= MAX_PENDING_ERRORS)
      throw new ImportConfigError('too many malformed CSV rows; is this a CSV file?');
    stats.rowsRead++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.rowsRead - stats.rowsYielded);
    const reason = CSV_ERRORS[err.code] ?? `malformed CSV (${err.code})`;
    pending.push({ start, row: { line: index.lineAt(start), raw, error: reason } });
  });
  // The parser's engine (what its Transform calls; csv-parse is pinned, see package.json), called synchronously:
  // it parses the whole slice, handing each record to onRecord, before returning. Skipped rows still
  // arrive as 'skip' events on the parser.
  const engine = (
    parser as unknown as {
      api: {
        parse(
          buf: Buffer | undefined,
          end: boolean,
          push: (rec: { record: string[]; raw: string }) => void,
          close: () => void,
        ): Error | undefined;
      };
    }
  ).api;
  const feed = (buf: Buffer | undefined) => {
    const err = engine.parse(buf, buf === undefined, onRecord, () => {});
    if (err) throw err;
  };

  const drain = (): SourceRow[] => {
    const out: SourceRow[] = [];
    for (const rec of records) {
      while (pending.length && pending[0].start <= rec.start) out.push(pending.shift()!.row);
      if (rec.header) {
        header = rec.header.map((h) => h.trim());
        const seen = new Set<string>();
        for (const h of header) {
          if (seen.has(h) && plan.columns.has(h))
            throw new ImportConfigError(`column ${JSON.stringify(h)} appears twice`);
          seen.add(h);
        }
        for (const column of plan.columns.keys()) {
          if (!seen.has(column))
            throw new ImportConfigError(`mapped column ${JSON.stringify(column)} is not in the file`);
        }
        continue;
      }
      const fields = rec.fields!;
      const h = header!;
      if (fields.length !== h.length) {
        out.push({
          line: rec.line,
          raw: rec.raw!,
          error: `wrong number of columns: expected ${h.length}, got ${fields.length}`,
        });
        continue;
      }
      const values: Record<string, Cell> = {};
      for (let i = 0; i < h.length; i++) {
        if (plan.columns.has(h[i])) values[h[i]] = fields[i];
      }
      out.push({ line: rec.line, raw: rec.raw!, values });
    }
    records = [];
    return out;
  };

  try {
    for await (const chunk of input as AsyncIterable<Buffer | string>) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      for (let at = 0; at < buf.length; at += SLICE_BYTES) {
        const slice = buf.length <= SLICE_BYTES ? buf : buf.subarray(at, at + SLICE_BYTES);
        index.note(slice);
        feed(slice);
        const rows = drain();
        if (rows.length) yield rows;
      }
    }
    feed(undefined);
    const rows = drain();
    if (header === null && pending.length === 0) throw new ImportConfigError('the file is empty (no header row)');
    rows.push(...pending.splice(0).map((p) => p.row));
    if (rows.length) yield rows;
  } finally {
    input.destroy();
  }
}

/** Rows handed over at once by the JSON Lines source (its input chunks may be a whole file). */
const JSONL_ROWS_AT_ONCE = 512;

/** JSON Lines rows in file order, in arrays. */
export async function* jsonlSource(
  input: Readable,
  options: ImportOptions,
  plan: Plan,
  stats: ImportStats,
): AsyncGenerator<SourceRow[], void, void> {
  const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });
  const maxChars = options.maxRowBytes ?? 64 * 1024;
  let partial = '';
  let oversized = false;
  let lineNo = 0;

  function toRow(text: string, tooLong: boolean): SourceRow | null {
    lineNo++;
    const line = text.endsWith('\r') ? text.slice(0, -1) : text;
    if (!tooLong && line.trim() === '') return null;
    stats.rowsRead++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.rowsRead - stats.rowsYielded);
    if (tooLong)
      return { line: lineNo, raw: line.slice(0, 200), error: `line longer than ${maxChars} characters` };
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return { line: lineNo, raw: line, error: 'malformed JSON' };
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { line: lineNo, raw: line, error: 'expected a JSON object per line' };
    }
    const values: Record<string, Cell> = {};
    for (const column of plan.columns.keys()) {
      if (Object.hasOwn(parsed, column)) values[column] = (parsed as Record<string, Cell>)[column];
    }
    return { line: lineNo, raw: line, values };
  }

  let out: SourceRow[] = [];
  try {
    for await (const chunk of input) {
      const text = decoder.decode(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, { stream: true });
      let from = 0;
      for (;;) {
        const nl = text.indexOf('\n', from);
        if (nl === -1) {
          if (!oversized) {
            partial += text.slice(from);
            if (partial.length > maxChars) {
              // Keep a prefix for the error file; drop the rest of the line as it streams in.
              partial = partial.slice(0, 200);
              oversized = true;
            }
          }
          break;
        }
        if (!oversized) partial += text.slice(from, nl);
        const row = toRow(partial, oversized || partial.length > maxChars);
        partial = '';
        oversized = false;
        from = nl + 1;
        if (row) out.push(row);
        if (out.length >= JSONL_ROWS_AT_ONCE) {
          yield out;
          out = [];
        }
      }
      if (out.length) {
        yield out;
        out = [];
      }
    }
    if (!oversized) partial += decoder.decode();
    if (oversized || partial !== '') {
      const row = toRow(partial, oversized || partial.length > maxChars);
      if (row) yield [row];
    }
  } finally {
    input.destroy();
  }
}
