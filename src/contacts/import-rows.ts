// Streaming contact-import row pipeline (no database): bytes in, validated
// batches out. Memory stays bounded by the batch size plus stream buffers,
// whatever the file size: rows are parsed as the consumer pulls batches.
//
//   for await (const { good, bad } of importRows(stream, { format: 'csv', mapping, attributes })) {
//     await saveGood(good);  await appendErrors(bad);
//   }
//
// The stages live in their own modules and are re-exported here:
// import-types.ts (public types), import-mapping.ts (column mapping),
// import-sources.ts (CSV / JSON Lines streaming), import-validate.ts (row
// validation and normalisation), import-error-file.ts (error reporting).
import type { Readable } from 'node:stream';
import { buildPlan } from './import-mapping.ts';
import { csvSource, jsonlSource } from './import-sources.ts';
import {
  type BadRow,
  type ImportBatch,
  ImportConfigError,
  type ImportOptions,
  type ImportStats,
  newImportStats,
  type ValidRow,
} from './import-types.ts';
import { validateRow } from './import-validate.ts';

export { ERROR_FILE_HEADER, errorFileCsv, errorFileCsvRow } from './import-error-file.ts';
export type {
  AttributeDefinition,
  AttributeType,
  AttributeValue,
  BadRow,
  ColumnMapping,
  CoreField,
  ImportBatch,
  ImportOptions,
  ImportStats,
  ValidRow,
} from './import-types.ts';
export { CORE_FIELDS, ImportConfigError, newImportStats } from './import-types.ts';

/**
 * Parse and validate contact rows from a CSV (header row required) or JSON
 * Lines stream: every row in file order, a ValidRow or a BadRow (it has a
 * `reason`), in arrays as the source hands them over. No batching (see
 * importRows); the caller counts `stats.rowsYielded` as it takes rows.
 * Throws ImportConfigError before yielding anything when the mapping does not
 * fit the definitions or the file header.
 */
export async function* validatedRows(
  input: Readable,
  options: ImportOptions,
  stats: ImportStats,
): AsyncGenerator<(ValidRow | BadRow)[], void, void> {
  const plan = buildPlan(options);
  const source =
    options.format === 'csv'
      ? csvSource(input, options, plan, stats)
      : options.format === 'jsonl'
        ? jsonlSource(input, options, plan, stats)
        : null;
  if (!source) throw new ImportConfigError(`unknown format ${String(options.format)}`);
  // The sources hand rows over in arrays (one await per slice of input, not per row).
  for await (const rows of source) {
    const out = new Array<ValidRow | BadRow>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (row.error !== undefined || !row.values) {
        out[i] = { line: row.line, reason: row.error ?? 'unreadable row', raw: row.raw };
        stats.bad++;
        continue;
      }
      const result = validateRow(plan, options, row.line, row.values);
      if (typeof result === 'string') {
        out[i] = { line: row.line, reason: result, raw: row.raw };
        stats.bad++;
      } else {
        out[i] = result;
        stats.good++;
      }
    }
    yield out;
  }
}

/** The batch size importRows uses by default, checked. */
export function batchSizeOf(options: ImportOptions): number {
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ImportConfigError('batchSize must be a positive integer');
  return batchSize;
}

/**
 * Parse, validate and batch contact rows from a CSV (header row required) or
 * JSON Lines stream. Throws ImportConfigError before yielding anything when
 * the mapping does not fit the definitions or the file header.
 */
export async function* importRows(
  input: Readable,
  options: ImportOptions,
): AsyncGenerator<ImportBatch, void, void> {
  const batchSize = batchSizeOf(options);
  const stats = options.stats ?? newImportStats();
  let batch: ImportBatch = { good: [], bad: [] };
  const flush = () => {
    const out = batch;
    stats.rowsYielded += out.good.length + out.bad.length;
    batch = { good: [], bad: [] };
    return out;
  };
  for await (const rows of validatedRows(input, options, stats)) {
    for (const row of rows) {
      if ('reason' in row) batch.bad.push(row);
      else batch.good.push(row);
      if (batch.good.length + batch.bad.length >= batchSize) yield flush();
    }
  }
  if (batch.good.length + batch.bad.length > 0) yield flush();
}
