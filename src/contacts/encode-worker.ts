// Worker thread of the import's encode pool (encode-pool.ts): encrypts and
// blind-indexes validated rows off the main thread, which meanwhile parses the
// next batch and drives the database. Receives the keyring's KeyObjects once
// (in-process clone), then batches of rows; answers with the encoded values.
import { parentPort, workerData } from 'node:worker_threads';
import { keyringFromWorker, type KeyringTransfer } from '../crypto/field-cipher.ts';
import { type EncodeInit, encodeRows } from './encode-pool.ts';
import type { ValidRow } from './import-rows.ts';
import { type ReencryptJob, reencryptColumns } from './reencrypt.ts';

const init = workerData as EncodeInit & { keyring: KeyringTransfer };
const kr = keyringFromWorker(init.keyring);
parentPort!.on('message', (m: { seq: number; rows?: ValidRow[]; reencrypt?: ReencryptJob }) => {
  try {
    if (m.reencrypt) parentPort!.postMessage({ seq: m.seq, result: reencryptColumns(kr, m.reencrypt) });
    else parentPort!.postMessage({ seq: m.seq, values: encodeRows(kr, init, m.rows!) });
  } catch (err) {
    parentPort!.postMessage({ seq: m.seq, error: (err as Error).message });
  }
});
