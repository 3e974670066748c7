// Where an import's CPU side (import-prepare.ts: parse, validate, encrypt,
// COPY tuples) runs. On a machine with two or more cores it gets a worker
// thread of its own, so it overlaps the main thread's duplicate probe and
// commits instead of sharing one JavaScript thread with them (the commit's
// database backend then has the other core). The main thread only feeds the
// file's bytes to the worker, chunk by chunk as the worker asks for them, and
// takes prepared batches back in file order.
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { type Keyring, keyringForWorker, type KeyringTransfer } from '../crypto/field-cipher.ts';
import type { EncodedValues, EncodeInit } from './encode-pool.ts';
import { type PrepareOptions, type PreparedBatch, preparedBatches } from './import-prepare.ts';
import { ImportConfigError, type ImportOptions as RowOptions } from './import-rows.ts';

export interface WorkerSetup {
  keyring: KeyringTransfer;
  init: EncodeInit;
  rowOptions: RowOptions;
  prepare: PrepareOptions;
  /** Batches the worker may have sent that the main thread has not taken yet. */
  ahead: number;
}
export type FromMain = { chunk: Uint8Array | string } | { end: true } | { taken: number };
export type ToMain =
  | { need: true }
  | { batch: PreparedBatch }
  | { done: true }
  | { error: { name: string; message: string } };

/**
 * Files smaller than this are prepared on the main thread: starting a worker
 * (a thread, the TypeScript loader, the phone metadata) costs about as much
 * as preparing a few thousand rows.
 */
const WORKER_MIN_BYTES = 1 << 20;

/** Whether imports may use a worker thread: two or more cores, and not disabled by MAILWARDEN_IMPORT_WORKERS=0. */
export function importWorkerAllowed(): boolean {
  if (process.env.MAILWARDEN_IMPORT_WORKERS === '0') return false;
  return availableParallelism() >= 2;
}

export interface SourceOptions {
  /** true: always a worker thread; false: never; undefined: when allowed and the file is large enough. */
  worker?: boolean;
  ahead: number;
}

/** Prepared batches of `input`, from a worker thread or inline (see SourceOptions.worker). */
export async function* preparedSource(
  input: Readable,
  kr: Keyring,
  init: EncodeInit,
  rowOptions: RowOptions,
  prepare: PrepareOptions,
  o: SourceOptions,
): AsyncGenerator<PreparedBatch, void, void> {
  const inline = () => preparedBatches(input, kr, init, { ...rowOptions, stats: undefined }, prepare);
  if (o.worker === false || (o.worker === undefined && !importWorkerAllowed())) {
    yield* inline();
    return;
  }
  const it = (input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const head: (Buffer | string)[] = [];
  let ended = false;
  if (o.worker === undefined) {
    // Read ahead to tell a small file (inline) from a large one.
    let bytes = 0;
    while (bytes < WORKER_MIN_BYTES) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      head.push(r.value);
      bytes += r.value.length;
    }
  }
  async function* chunks() {
    yield* head.splice(0);
    if (!ended) for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  try {
    if (o.worker === undefined && ended)
      yield* preparedBatches(Readable.from(chunks()), kr, init, { ...rowOptions, stats: undefined }, prepare);
    else yield* onWorker(chunks(), kr, init, rowOptions, prepare, o.ahead);
  } finally {
    input.destroy();
  }
}

const BUFFER_KEYS = ['profileEnc'] as const;

/** Buffers arrive as plain Uint8Arrays after the structured clone (PGlite's values). */
function reviveBuffers(v: EncodedValues): void {
  for (const k of BUFFER_KEYS) {
    const b = v[k] as Uint8Array | null;
    if (b && !Buffer.isBuffer(b)) (v as Record<string, unknown>)[k] = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  }
}

/**
 * Young generation of the worker's heap (V8's default is ~48 MB for a 64-bit process). Each row leaves ~10 KB
 * of short-lived garbage (csv-parse, libphonenumber, the cipher objects), so the worker scavenged every ~800
 * rows, and a scavenge costs ~7 ms however much it frees (the live batch is copied, and the native cipher
 * objects' weak handles are processed). Twice the room halves the scavenges (measured: 122 → 69 per 100,000
 * rows) for ~20 MB more resident memory.
 */
const WORKER_YOUNG_GENERATION_MB = 96;

async function* onWorker(
  chunks: AsyncGenerator<Buffer | string>,
  kr: Keyring,
  init: EncodeInit,
  rowOptions: RowOptions,
  prepare: PrepareOptions,
  ahead: number,
): AsyncGenerator<PreparedBatch, void, void> {
  const setup: WorkerSetup = {
    keyring: keyringForWorker(kr),
    init,
    rowOptions: { ...rowOptions, stats: undefined },
    prepare,
    ahead,
  };
  const worker = new Worker(new URL('./import-worker-boot.mjs', import.meta.url), {
    workerData: setup,
    resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
  });
  const batches: PreparedBatch[] = [];
  let done = false;
  let failed: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  const fail = (err: Error) => {
    failed ??= err;
    notify();
  };
  const send = (m: FromMain, transfer: ArrayBuffer[] = []) => worker.postMessage(m, transfer);
  worker.on('message', (m: ToMain) => {
    if ('need' in m) {
      chunks.next().then((r) => {
        if (r.done) return send({ end: true });
        if (typeof r.value === 'string') return send({ chunk: r.value });
        // A copy of just this chunk (a stream's Buffer may be a slice of a larger pool), handed over without a second copy.
        const c = new Uint8Array(r.value);
        send({ chunk: c }, [c.buffer]);
      }, fail);
    } else if ('batch' in m) {
      if (m.batch.values) for (const v of m.batch.values) reviveBuffers(v);
      batches.push(m.batch);
      notify();
    } else if ('done' in m) {
      done = true;
      notify();
    } else {
      fail(m.error.name === 'ImportConfigError' ? new ImportConfigError(m.error.message) : new Error(m.error.message));
    }
  });
  worker.on('error', fail);
  worker.on('exit', (code) => {
    if (!done) fail(new Error(`import worker exited with code ${code}`));
  });
  let taken = 0;
  try {
    for (;;) {
      if (batches.length) {
        // The worker learns a batch was taken only now, so at most `ahead` wait here, prepared.
        send({ taken: ++taken });
        yield batches.shift()!;
        continue;
      }
      if (failed) throw failed;
      if (done) return;
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    await worker.terminate();
    // Not awaited: a read may be pending on a stalled upload; destroying the input (preparedSource) ends it.
    chunks.return(undefined).catch(() => {});
  }
}
