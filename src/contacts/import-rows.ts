// Streaming contact-import row pipeline (no database): bytes in, validated
// batches out. Memory stays bounded by the batch size plus stream buffers,
// whatever the file size: rows are parsed as the consumer pulls batches.
//
//   for await (const { good, bad } of importRows(stream, { format: 'csv', mapping, attributes })) {
//     await saveGood(good);  await appendErrors(bad);
//   }
import { Transform, type TransformCallback, type Readable, pipeline } from 'node:stream';
import { type CsvError, type Options as CsvOptions, parse } from 'csv-parse';
import {
  emailDomain,
  normaliseCountry,
  normaliseEmail,
  normalisePhone,
  normaliseTimeZone,
  type PhoneOptions,
} from './normalize.ts';

export type AttributeType = 'text' | 'number' | 'date' | 'boolean' | 'enum';

export interface AttributeDefinition {
  key: string;
  type: AttributeType;
  /** Allowed values for 'enum'. */
  options?: readonly string[];
  sensitive: boolean;
  required?: boolean;
}

export const CORE_FIELDS = [
  'email',
  'firstName',
  'lastName',
  'phone',
  'country',
  'timeZone',
  'notes',
] as const;
export type CoreField = (typeof CORE_FIELDS)[number];

/** Source column (CSV header / JSON key) → core field name or custom attribute key. */
export type ColumnMapping = Readonly<Record<string, string>>;

export type AttributeValue = string | number | boolean;

export interface ValidRow {
  /** Line of the source file where the row starts (CSV: the header is line 1). */
  line: number;
  /** Normalised (see normalize.ts); use it for the blind index. */
  email: string;
  /** ASCII (punycode) domain of `email`. */
  emailDomain: string;
  firstName: string | null;
  lastName: string | null;
  /** E.164. */
  phone: string | null;
  /** ISO 3166-1 alpha-2. */
  country: string | null;
  /** IANA zone. */
  timeZone: string | null;
  notes: string | null;
  /** Present values only; dates as YYYY-MM-DD or an ISO-8601 UTC timestamp. */
  attributes: Record<string, AttributeValue>;
}

export interface BadRow {
  line: number;
  reason: string;
  /** The source text of the row (may contain PII: treat the error file like the import itself). */
  raw: string;
}

export interface ImportBatch {
  good: ValidRow[];
  bad: BadRow[];
}

/** Live counters, updated while importing (progress reporting; memory-bound tests). */
export interface ImportStats {
  /** Rows taken out of the source by the parser. */
  rowsRead: number;
  /** Rows handed to the consumer in yielded batches. */
  rowsYielded: number;
  /** Peak of rowsRead − rowsYielded: rows held in memory at once. */
  maxInFlight: number;
  good: number;
  bad: number;
}

export interface ImportOptions {
  format: 'csv' | 'jsonl';
  mapping: ColumnMapping;
  attributes: readonly AttributeDefinition[];
  /** Rows (good + bad) per yielded batch. Default 500. */
  batchSize?: number;
  /** Country for phone numbers written without +country code, when the row has no country column. */
  defaultCountry?: string;
  /** Core fields that must be present. Default ['email']. */
  requiredFields?: readonly CoreField[];
  /** Upper bound on one row's size in bytes (a runaway quote cannot swallow the file into memory). Default 64 KiB. */
  maxRowBytes?: number;
  /** Maximum characters of a text value. Default 10,000 (notes, text attributes); names: 200. */
  maxTextLength?: number;
  phoneValidity?: PhoneOptions['validity'];
  /** CSV delimiter. Default ','. */
  delimiter?: string;
  stats?: ImportStats;
}

/** Mapping/definition problems: thrown before the first batch, nothing is imported. */
export class ImportConfigError extends Error {
  readonly code = 'IMPORT_CONFIG' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ImportConfigError';
  }
}

export function newImportStats(): ImportStats {
  return { rowsRead: 0, rowsYielded: 0, maxInFlight: 0, good: 0, bad: 0 };
}

// ---------------------------------------------------------------------------
// Configuration

type Target = { kind: 'core'; field: CoreField } | { kind: 'attr'; def: AttributeDefinition };

interface Plan {
  /** source column → target */
  columns: Map<string, Target>;
  requiredCore: Set<CoreField>;
  attributes: readonly AttributeDefinition[];
}

const CORE = new Set<string>(CORE_FIELDS);

function buildPlan(options: ImportOptions): Plan {
  const defs = new Map<string, AttributeDefinition>();
  for (const def of options.attributes) {
    if (!def.key || CORE.has(def.key))
      throw new ImportConfigError(`invalid attribute key ${JSON.stringify(def.key)}`);
    if (defs.has(def.key)) throw new ImportConfigError(`attribute ${def.key} is defined twice`);
    if (!['text', 'number', 'date', 'boolean', 'enum'].includes(def.type)) {
      throw new ImportConfigError(`attribute ${def.key} has unknown type ${String(def.type)}`);
    }
    if (def.type === 'enum' && !def.options?.length) {
      throw new ImportConfigError(`enum attribute ${def.key} has no options`);
    }
    defs.set(def.key, def);
  }
  const columns = new Map<string, Target>();
  const targets = new Set<string>();
  for (const [column, target] of Object.entries(options.mapping)) {
    if (targets.has(target)) throw new ImportConfigError(`more than one column is mapped to ${target}`);
    targets.add(target);
    if (CORE.has(target)) columns.set(column, { kind: 'core', field: target as CoreField });
    else if (defs.has(target)) columns.set(column, { kind: 'attr', def: defs.get(target)! });
    else
      throw new ImportConfigError(
        `column ${JSON.stringify(column)} is mapped to unknown field ${JSON.stringify(target)}`,
      );
  }
  const requiredCore = new Set<CoreField>(options.requiredFields ?? ['email']);
  requiredCore.add('email'); // a contact is keyed by its email address
  for (const f of requiredCore) {
    if (!targets.has(f)) throw new ImportConfigError(`required field ${f} is not mapped to any column`);
  }
  for (const def of defs.values()) {
    if (def.required && !targets.has(def.key)) {
      throw new ImportConfigError(`required attribute ${def.key} is not mapped to any column`);
    }
  }
  return { columns, requiredCore, attributes: options.attributes };
}

// ---------------------------------------------------------------------------
// Row validation (shared by CSV and JSON Lines)

const NAME_MAX = 200;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;
const TRUE = new Set(['true', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'no', 'n', '0']);

type Cell = string | number | boolean | null | undefined | object;

/** A parsed value, or a human-readable error (never containing the value itself). */
type Parsed<T> = { value: T } | { error: string };

function asText(cell: Cell, max: number): Parsed<string | null> {
  if (cell === null || cell === undefined) return { value: null };
  if (typeof cell === 'object') return { error: 'expected a text value, got an object or array' };
  const s = String(cell).trim();
  if (s === '') return { value: null };
  if (s.includes('\uFFFD')) return { error: 'invalid UTF-8 (save the file as UTF-8)' };
  if (s.includes('\u0000')) return { error: 'contains a NUL character' };
  if (s.length > max) return { error: `longer than ${max} characters` };
  return { value: s };
}

function parseDate(s: string): string | null {
  const m = DATE.exec(s);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const t = new Date(Date.UTC(y, mo - 1, d));
    return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d ? s : null;
  }
  if (DATETIME.test(s)) {
    const t = Date.parse(s);
    if (Number.isFinite(t)) {
      // Reject rolled-over components like 2025-02-30T… that Date.parse would accept.
      const datePart = s.slice(0, 10);
      if (parseDate(datePart) === null) return null;
      return new Date(t).toISOString();
    }
  }
  return null;
}

function attributeValue(
  def: AttributeDefinition,
  cell: Cell,
  maxText: number,
): Parsed<AttributeValue | null> {
  if (def.type === 'number' && typeof cell === 'number') {
    return Number.isFinite(cell) ? { value: cell } : { error: 'expected a number' };
  }
  if (def.type === 'boolean' && typeof cell === 'boolean') return { value: cell };
  const text = asText(cell, maxText);
  if ('error' in text || text.value === null) return text;
  const s = text.value;
  switch (def.type) {
    case 'text':
      return text;
    case 'number': {
      const n = Number(s);
      return NUMBER.test(s) && Number.isFinite(n) ? { value: n } : { error: 'expected a number like 1234.5' };
    }
    case 'boolean': {
      const v = s.toLowerCase();
      if (TRUE.has(v)) return { value: true };
      if (FALSE.has(v)) return { value: false };
      return { error: 'expected true/false, yes/no or 1/0' };
    }
    case 'date': {
      const d = parseDate(s);
      return d ? { value: d } : { error: 'expected a date as YYYY-MM-DD (or an ISO 8601 timestamp)' };
    }
    case 'enum': {
      const options = def.options ?? [];
      if (options.includes(s)) return { value: s };
      const folded = options.filter((o) => o.toLowerCase() === s.toLowerCase());
      if (folded.length === 1) return { value: folded[0] };
      // The value itself is not echoed: reasons may end up in logs, values are PII.
      return { error: `unknown value (allowed: ${options.join(', ')})` };
    }
  }
}

function validateRow(
  plan: Plan,
  options: ImportOptions,
  line: number,
  values: Record<string, Cell>,
): ValidRow | string {
  const errors: string[] = [];
  const attributeErrors: string[] = [];
  const core: Partial<Record<CoreField, string | null>> = {};
  const rawCore: Partial<Record<CoreField, Cell>> = {};
  const attributes: Record<string, AttributeValue> = {};
  const maxText = options.maxTextLength ?? 10_000;

  for (const [column, target] of plan.columns) {
    const cell = values[column];
    if (target.kind === 'core') {
      rawCore[target.field] = cell;
      continue;
    }
    const r = attributeValue(target.def, cell, maxText);
    if ('error' in r) attributeErrors.push(`${target.def.key}: ${r.error}`);
    else if (r.value === null) {
      if (target.def.required) attributeErrors.push(`${target.def.key}: required value missing`);
    } else attributes[target.def.key] = r.value;
  }

  // Text-level checks first (encoding, length), then field semantics.
  for (const field of CORE_FIELDS) {
    if (!(field in rawCore)) {
      core[field] = null;
      continue;
    }
    const max = field === 'notes' ? maxText : NAME_MAX;
    const t = asText(rawCore[field], max);
    if ('error' in t) {
      errors.push(`${field}: ${t.error}`);
      core[field] = null;
      continue;
    }
    // Names are single-line: collapse internal whitespace (including line breaks).
    core[field] =
      field === 'firstName' || field === 'lastName' ? (t.value?.replace(/\s+/g, ' ') ?? null) : t.value;
    if (t.value === null && plan.requiredCore.has(field)) errors.push(`${field}: required value missing`);
  }

  let email: string | null = null;
  if (core.email) {
    const e = normaliseEmail(core.email);
    if (e.ok) email = e.value;
    else errors.push(`email: invalid email address (${e.reason})`);
  }
  let country: string | null = null;
  if (core.country) {
    const c = normaliseCountry(core.country);
    if (c.ok) country = c.value;
    else errors.push('country: not an ISO 3166-1 alpha-2 country code');
  }
  let phone: string | null = null;
  if (core.phone) {
    const p = normalisePhone(core.phone, country ?? options.defaultCountry, {
      validity: options.phoneValidity,
    });
    if (p.ok) phone = p.value;
    else errors.push(`phone: unparseable phone number (${p.reason})`);
  }
  let timeZone: string | null = null;
  if (core.timeZone) {
    const z = normaliseTimeZone(core.timeZone);
    if (z.ok) timeZone = z.value;
    else errors.push('timeZone: not an IANA time zone (e.g. Europe/Paris)');
  }

  errors.push(...attributeErrors);
  if (errors.length > 0 || email === null) return errors.join('; ') || 'email: required value missing';
  return {
    line,
    email,
    emailDomain: emailDomain(email),
    firstName: core.firstName ?? null,
    lastName: core.lastName ?? null,
    phone,
    country,
    timeZone,
    notes: core.notes ?? null,
    attributes,
  };
}

// ---------------------------------------------------------------------------
// Sources: each yields SourceRows in file order.

interface SourceRow {
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
class NewlineIndex extends Transform {
  #positions: number[] = [];
  #crlf: boolean[] = [];
  #head = 0;
  #dropped = 0;
  #offset = 0;
  #lastWasCR = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let i = chunk.indexOf(0x0a);
    while (i !== -1) {
      this.#positions.push(this.#offset + i);
      this.#crlf.push(i > 0 ? chunk[i - 1] === 0x0d : this.#lastWasCR);
      i = chunk.indexOf(0x0a, i + 1);
    }
    this.#offset += chunk.length;
    if (chunk.length > 0) this.#lastWasCR = chunk[chunk.length - 1] === 0x0d;
    done(null, chunk);
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

async function* csvSource(input: Readable, options: ImportOptions, plan: Plan, stats: ImportStats) {
  const index = new NewlineIndex();
  let header: string[] | null = null;
  let headerParsed = false;
  let prevEnd = 0;
  // Parse errors are reported by csv-parse out of band ('skip' events); they
  // are queued with their start offset and merged back into file order.
  const pending: { start: number; row: SourceRow }[] = [];

  const csvOptions: CsvOptions<CsvRecord, { record: string[]; raw: string }> = {
    bom: true,
    raw: true,
    delimiter: options.delimiter ?? ',',
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    max_record_size: options.maxRowBytes ?? 64 * 1024,
    on_record: (rec, ctx) => {
      const start = prevEnd;
      prevEnd = ctx.bytes;
      // Start line = last line − line breaks inside quoted fields. Counting from
      // the end also skips blank lines before the row and rows csv-parse dropped.
      const line = index.lastLineOfRecordEndingAt(ctx.bytes) - countNewlines(rec.record);
      if (!headerParsed) {
        headerParsed = true;
        return { start, line, header: rec.record };
      }
      stats.rowsRead++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.rowsRead - stats.rowsYielded);
      return { start, line, fields: rec.record, raw: cleanRaw(rec.raw) };
    },
  };
  const parser = parse(csvOptions as unknown as CsvOptions);
  parser.on('skip', (err: CsvError & { raw?: string }) => {
    const start = prevEnd;
    const raw = cleanRaw(err.raw ?? '');
    const last = pending[pending.length - 1];
    // csv-parse may report one broken row several times; keep one entry, the longest raw.
    if (last && last.start === start) {
      if (raw.length > last.row.raw.length) last.row.raw = raw;
      return;
    }
    if (pending.length >= MAX_PENDING_ERRORS) {
      parser.destroy(new ImportConfigError('too many malformed CSV rows; is this a CSV file?'));
      return;
    }
    stats.rowsRead++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.rowsRead - stats.rowsYielded);
    const reason = CSV_ERRORS[err.code] ?? `malformed CSV (${err.code})`;
    pending.push({ start, row: { line: index.lineAt(start), raw, error: reason } });
  });

  const out = pipeline(input, index, parser, () => {});
  try {
    for await (const rec of out as AsyncIterable<CsvRecord>) {
      while (pending.length && pending[0].start <= rec.start) yield pending.shift()!.row;
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
      if (fields.length !== header!.length) {
        yield {
          line: rec.line,
          raw: rec.raw!,
          error: `wrong number of columns: expected ${header!.length}, got ${fields.length}`,
        };
        continue;
      }
      const values: Record<string, Cell> = {};
      for (let i = 0; i < header!.length; i++) {
        if (plan.columns.has(header![i])) values[header![i]] = fields[i];
      }
      yield { line: rec.line, raw: rec.raw!, values };
    }
    if (header === null && pending.length === 0)
      throw new ImportConfigError('the file is empty (no header row)');
    while (pending.length) yield pending.shift()!.row;
  } finally {
    out.destroy();
    input.destroy();
  }
}

async function* jsonlSource(input: Readable, options: ImportOptions, plan: Plan, stats: ImportStats) {
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
        if (row) yield row;
      }
    }
    if (!oversized) partial += decoder.decode();
    if (oversized || partial !== '') {
      const row = toRow(partial, oversized || partial.length > maxChars);
      if (row) yield row;
    }
  } finally {
    input.destroy();
  }
}

// ---------------------------------------------------------------------------
// Pipeline

/**
 * Parse, validate and batch contact rows from a CSV (header row required) or
 * JSON Lines stream. Throws ImportConfigError before yielding anything when
 * the mapping does not fit the definitions or the file header.
 */
export async function* importRows(
  input: Readable,
  options: ImportOptions,
): AsyncGenerator<ImportBatch, void, void> {
  const plan = buildPlan(options);
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ImportConfigError('batchSize must be a positive integer');
  const stats = options.stats ?? newImportStats();
  const source =
    options.format === 'csv'
      ? csvSource(input, options, plan, stats)
      : options.format === 'jsonl'
        ? jsonlSource(input, options, plan, stats)
        : null;
  if (!source) throw new ImportConfigError(`unknown format ${String(options.format)}`);

  let batch: ImportBatch = { good: [], bad: [] };
  const flush = () => {
    const out = batch;
    stats.rowsYielded += out.good.length + out.bad.length;
    batch = { good: [], bad: [] };
    return out;
  };
  for await (const row of source) {
    if (row.error !== undefined || !row.values) {
      batch.bad.push({ line: row.line, reason: row.error ?? 'unreadable row', raw: row.raw });
      stats.bad++;
    } else {
      const result = validateRow(plan, options, row.line, row.values);
      if (typeof result === 'string') {
        batch.bad.push({ line: row.line, reason: result, raw: row.raw });
        stats.bad++;
      } else {
        batch.good.push(result);
        stats.good++;
      }
    }
    if (batch.good.length + batch.bad.length >= batchSize) yield flush();
  }
  if (batch.good.length + batch.bad.length > 0) yield flush();
}

// ---------------------------------------------------------------------------
// Error file

export const ERROR_FILE_HEADER = 'line,reason,raw\r\n';

function csvCell(value: string): string {
  // Neutralise spreadsheet formulas (CSV injection): the file is meant to be
  // opened in Excel/Sheets by the person who uploaded it.
  const v = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(v) || v !== v.trim() ? `"${v.replace(/"/g, '""')}"` : v;
}

/** One CSV record (CRLF-terminated) of the error file, for streaming appends. */
export function errorFileCsvRow(bad: BadRow): string {
  return `${bad.line},${csvCell(bad.reason)},${csvCell(bad.raw)}\r\n`;
}

/** The downloadable error file: `line,reason,raw`, RFC 4180 quoting, formula-injection safe. */
export function errorFileCsv(bad: Iterable<BadRow>): string {
  let out = ERROR_FILE_HEADER;
  for (const b of bad) out += errorFileCsvRow(b);
  return out;
}
