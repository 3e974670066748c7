// Contact-import public types: column mapping, attribute definitions, the
// rows and batches the pipeline yields, options, counters and the config error.
import type { PhoneOptions } from './normalize.ts';

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
