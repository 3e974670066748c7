// Worker thread of an import (import-thread.ts): pulls the file's bytes from
// the main thread chunk by chunk, parses, validates and encrypts them, and
// sends prepared batches back in file order. At most AHEAD batches wait for
// the main thread to take them, so memory stays bounded whatever the file.
import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { keyringFromWorker } from '../crypto/field-cipher.ts';
import { preparedBatches } from './import-prepare.ts';
import type { FromMain, ToMain, WorkerSetup } from './import-thread.ts';

const setup = workerData as WorkerSetup;
const kr = keyringFromWorker(setup.keyring);
const port = parentPort!;
const post = (m: ToMain, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

let taken = 0;
let wake: (() => void) | null = null;
const input = new Readable({
  // One request at a time: read() is called again only after a push.
  read: () => post({ need: true }),
});
port.on('message', (m: FromMain) => {
  if ('chunk' in m) input.push(m.chunk);
  else if ('end' in m) input.push(null);
  else if ('taken' in m) {
    taken = m.taken;
    wake?.();
  }
});

try {
  let sent = 0;
  for await (const b of preparedBatches(input, kr, setup.init, setup.rowOptions, setup.prepare)) {
    const transfer = [b.lines.buffer, b.emailBidx.buffer, b.domainBidx.buffer] as ArrayBuffer[];
    if (b.copy) transfer.push(b.copy.body.buffer as ArrayBuffer, b.copy.ends.buffer as ArrayBuffer);
    post({ batch: b }, transfer);
    sent++;
    while (sent - taken > setup.ahead) await new Promise<void>((r) => (wake = r));
    wake = null;
  }
  post({ done: true });
} catch (err) {
  const e = err as Error;
  post({ error: { name: e.name, message: e.message } });
}
