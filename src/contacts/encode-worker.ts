// Worker thread of the rotation's encode pool (encode-pool.ts): re-encrypts
// batches off the main thread, which meanwhile drives the database. Receives
// the keyring's KeyObjects once (in-process clone), then batches.
import { parentPort, workerData } from 'node:worker_threads';
import { keyringFromWorker, type KeyringTransfer } from '../crypto/field-cipher.ts';
import type { EncodeInit } from './encode-pool.ts';
import { type ReencryptJob, reencryptColumns } from './reencrypt.ts';

const init = workerData as EncodeInit & { keyring: KeyringTransfer };
const kr = keyringFromWorker(init.keyring);
parentPort!.on('message', (m: { seq: number; reencrypt: ReencryptJob }) => {
  try {
    parentPort!.postMessage({ seq: m.seq, result: reencryptColumns(kr, m.reencrypt) });
  } catch (err) {
    parentPort!.postMessage({ seq: m.seq, error: (err as Error).message });
  }
});
