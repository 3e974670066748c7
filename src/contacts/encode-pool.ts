// How an import row becomes an encoded contact (shared by the import's worker
// thread and the inline path, import-prepare.ts), and the worker pool the
// field-key rotation re-encrypts batches on (rotation.ts).
import { Worker } from 'node:worker_threads';
import { type Keyring, keyringForWorker } from '../crypto/field-cipher.ts';
import { packJob, type ReencryptJob, type ReencryptResult } from './reencrypt.ts';
import type { EncodeInit } from './contact-encoding.ts';

export { type EncodedValues, type EncodeInit, fieldsOf } from './contact-encoding.ts';

export class EncodePool {
  #workers: Worker[] = [];
  #next = 0;
  #seq = 0;
  #waiting = new Map<number, { resolve: (m: WorkerAnswer) => void; reject: (e: Error) => void }>();
  #failed: Error | null = null;

  constructor(kr: Keyring, init: EncodeInit, size: number) {
    const workerData = { ...init, keyring: keyringForWorker(kr) };
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL('./encode-worker-boot.mjs', import.meta.url), { workerData });
      w.on('message', (m: WorkerAnswer) => {
        const p = this.#waiting.get(m.seq);
        if (!p) return;
        this.#waiting.delete(m.seq);
        if (m.error !== undefined) p.reject(new Error(`encode worker failed: ${m.error}`));
        else p.resolve(m);
      });
      w.on('error', (err) => this.#fail(err));
      w.on('exit', (code) => {
        if (code !== 0) this.#fail(new Error(`import encode worker exited with code ${code}`));
      });
      this.#workers.push(w);
    }
  }

  #fail(err: Error): void {
    this.#failed ??= err;
    for (const p of this.#waiting.values()) p.reject(err);
    this.#waiting.clear();
  }

  #send(message: { reencrypt: ReencryptJob }): Promise<WorkerAnswer> {
    if (this.#failed) return Promise.reject(this.#failed);
    const seq = this.#seq++;
    const w = this.#workers[this.#next++ % this.#workers.length];
    return new Promise((resolve, reject) => {
      this.#waiting.set(seq, { resolve, reject });
      w.postMessage({ seq, ...message });
    });
  }

  /** A rotation batch (reencrypt.ts) on a worker; binary columns come back as Buffers. */
  async reencrypt(job: ReencryptJob): Promise<ReencryptResult> {
    const { columns, emailIdx } = (await this.#send({ reencrypt: packJob(job) })).result!;
    return {
      emailIdx,
      columns: columns.map((c) =>
        Array.isArray(c) ? c.map((v) => (v ? toBuffer(v) : null)) : toBuffer(c as Uint8Array),
      ),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#workers = [];
  }
}

const toBuffer = (b: Uint8Array) => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

interface WorkerAnswer {
  seq: number;
  result?: ReencryptResult;
  error?: string;
}
