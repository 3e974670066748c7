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
import { type ImportBatch, ImportConfigError, type ImportOptions, newImportStats } from './import-types.ts';
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
