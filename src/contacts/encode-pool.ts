// Import encoding (AES-GCM of 5 fields + 3 HMACs per row, ~35 µs) in a worker
// thread, so the main thread's parsing and database round trips overlap it.
// Falls back to encoding inline when workers are not wanted (small imports,
// `MAILWARDEN_IMPORT_WORKERS=0`) or cannot start.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { keyringForWorker, type Keyring } from '../crypto/field-cipher.ts';
import type { ValidRow } from './import-rows.ts';
import { packJob, type ReencryptJob, type ReencryptResult } from './reencrypt.ts';
import { type AttributeDef, type ContactFields, encodeContact } from './service.ts';
import { uuidv7 } from './vault.ts';

export interface EncodeInit {
  defs: readonly AttributeDef[];
  ownerUserId: number | null;
  tags: string[];
}

export type EncodedValues = ReturnType<typeof encodeContact>;

export function fieldsOf(row: ValidRow, init: EncodeInit): ContactFields {
  return {
    email: row.email,
    firstName: row.firstName,
    lastName: row.lastName,
    phone: row.phone,
    notes: row.notes,
    attributes: row.attributes,
    jobTitle: null,
    country: row.country,
    timeZone: row.timeZone,
    companyId: null,
    ownerUserId: init.ownerUserId,
    tags: init.tags,
  };
}

/** Encode new contacts (fresh UUIDv7 ids) from validated rows. */
export function encodeRows(kr: Keyring, init: EncodeInit, rows: readonly ValidRow[]): EncodedValues[] {
  return rows.map((row) => encodeContact(kr, uuidv7(), fieldsOf(row, init), init.defs));
}

/**
 * Worker threads to use. None on a 2-core machine: the main thread and the
 * database backend already keep both cores busy, and measured there (50,000
 * rows into PostgreSQL) a worker gave the same rate for 28 % more CPU (the
 * rows are copied to and from it). With more cores it takes the encryption
 * off the critical path.
 */
export function defaultEncodeWorkers(): number {
  const env = process.env.MAILWARDEN_IMPORT_WORKERS;
  if (env !== undefined && /^\d+$/.test(env)) return Number(env);
  return Math.max(0, Math.min(2, availableParallelism() - 2));
}

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

  #send(message: { rows: ValidRow[] } | { reencrypt: ReencryptJob }): Promise<WorkerAnswer> {
    if (this.#failed) return Promise.reject(this.#failed);
    const seq = this.#seq++;
    const w = this.#workers[this.#next++ % this.#workers.length];
    return new Promise((resolve, reject) => {
      this.#waiting.set(seq, { resolve, reject });
      w.postMessage({ seq, ...message });
    });
  }

  async encode(rows: ValidRow[]): Promise<EncodedValues[]> {
    if (rows.length === 0) return [];
    // Buffers arrive as plain Uint8Arrays after the structured clone.
    return (await this.#send({ rows })).values!.map(reviveBuffers);
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

const BUFFER_KEYS = [
  'emailEnc',
  'firstNameEnc',
  'lastNameEnc',
  'phoneEnc',
  'notesEnc',
  'sensitiveEnc',
] as const;

const toBuffer = (b: Uint8Array) => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function reviveBuffers(v: EncodedValues): EncodedValues {
  for (const k of BUFFER_KEYS) {
    const b = v[k] as Uint8Array | null;
    if (b) (v as Record<string, unknown>)[k] = toBuffer(b);
  }
  return v;
}

interface WorkerAnswer {
  seq: number;
  values?: EncodedValues[];
  result?: ReencryptResult;
  error?: string;
}
