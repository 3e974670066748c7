// Development aid: CPU per row of the import's in-process stages on one thread,
// without a database, cumulative: parse (CSV source) → validate (importRows) →
// prepare (encryption, blind indexes and COPY tuples: what the import's worker
// thread does).
//   node --import tsx bench/contacts/profile-pipeline.ts [ROWS] [--stage parse|validate|prepare]
import { createReadStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { EncodeInit } from '../../src/contacts/encode-pool.ts';
import { buildPlan } from '../../src/contacts/import-mapping.ts';
import { importRows, type ImportOptions, newImportStats } from '../../src/contacts/import-rows.ts';
import { csvSource } from '../../src/contacts/import-sources.ts';
import { preparedBatches } from '../../src/contacts/import-prepare.ts';
import type { AttributeDef } from '../../src/contacts/service.ts';
import { loadKeyring, newWorkspaceKeyRecords } from '../../src/crypto/field-cipher.ts';
import { LocalKeyProvider } from '../../src/crypto/key-provider.ts';
import { generateContactsCsv, MAPPING } from './data.ts';

const args = process.argv.slice(2);
const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 200_000);
const stage = args.includes('--stage') ? args[args.indexOf('--stage') + 1] : 'prepare';
const file = await generateContactsCsv(n);
const attributes: ImportOptions['attributes'] = [
  { key: 'plan', type: 'enum', options: ['free', 'pro'], sensitive: false },
  { key: 'score', type: 'number', sensitive: false },
  { key: 'city', type: 'text', sensitive: false },
  { key: 'active', type: 'boolean', sensitive: false },
  { key: 'signup', type: 'date', sensitive: false },
];
const options: ImportOptions = { format: 'csv', mapping: MAPPING, attributes, batchSize: 2000 };
const provider = new LocalKeyProvider(randomBytes(32));
const kr = await loadKeyring(provider, await newWorkspaceKeyRecords(provider, '1'));
const defs = attributes.map((a) => ({ ...a, label: a.key, options: a.options ?? null })) as unknown as AttributeDef[];
const init: EncodeInit = { defs, ownerUserId: null, tags: [] };

const c0 = process.cpuUsage();
const t0 = performance.now();
let rows = 0;
if (stage === 'parse') {
  for await (const chunk of csvSource(createReadStream(file), options, buildPlan(options), newImportStats()))
    rows += chunk.length;
} else if (stage === 'validate') {
  for await (const batch of importRows(createReadStream(file), options)) rows += batch.good.length + batch.bad.length;
} else {
  const prepare = { skip: 0, copy: true, rows: false, importId: '0190a5b2-0000-7000-8000-000000000000', importRun: 1 };
  for await (const batch of preparedBatches(createReadStream(file), kr, init, options, prepare)) rows += batch.count;
}
const secs = (performance.now() - t0) / 1000;
const c = process.cpuUsage(c0);
console.log(
  `${stage}: ${rows} rows in ${secs.toFixed(2)} s; CPU per row ${((c.user + c.system) / rows).toFixed(1)} µs`,
);
