// The DATA phase of nodemailer's SMTPConnection, made cheaper per message
// without changing a byte of what goes on the wire.
//
// 1. A fast path for nodemailer's DataStream (dot-stuffing, bare CR/LF → CRLF).
//    Its transform looks at every byte in JavaScript: ~35 µs for a 5 KB
//    message on the bench machine, ~7 % of a worker's CPU per message. Our
//    composed messages never need a change (CRLF line breaks only; quoted-
//    printable and base64 lines never start with a dot — and if one did, the
//    fallback stuffs it). So a chunk is first checked with a few native
//    searches (~1.5 µs): when nodemailer's transform would insert nothing, the
//    chunk is passed on as it is — exactly what that transform itself does in
//    that case; otherwise nodemailer's own transform runs. The patch is on the
//    prototype of nodemailer's DataStream (process-wide) and only ever skips
//    work whose result is known; smtp-data.test.ts compares it with the
//    original on random chunk sequences.
//
// 2. One write for the message and its terminating dot. SMTPConnection writes
//    the message into the DataStream and then ends it, and each becomes its own
//    socket write: a system call and a TCP segment more per message, for us and
//    for the relay, which must wake up for each. `singleWriteMessage` hands
//    nodemailer a "stream" (its send() takes anything with pipe()) that writes
//    and ends with the socket corked, so both leave in one write.
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

/**
 * True when nodemailer's DataStream would pass `chunk` through unchanged after
 * a chunk ending in `lastByte` (false at the start of the message): no bare CR,
 * no bare LF, no dot at the start of a line. Conservative at the end of a chunk:
 * a final CR is judged by the next chunk's first byte, as nodemailer does.
 */
export function passesUnchanged(chunk: Buffer, lastByte: number | false): boolean {
  const first = chunk[0];
  if (lastByte === CR ? first !== LF : first === LF) return false;
  if (first === DOT && (lastByte === LF || lastByte === false)) return false;
  for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
    // (a LF at 0 was checked against lastByte above)
    if ((i > 0 && chunk[i - 1] !== CR) || chunk[i + 1] === DOT) return false;
  }
  const last = chunk.length - 1;
  for (let i = chunk.indexOf(CR); i >= 0 && i < last; i = chunk.indexOf(CR, i + 1)) {
    if (chunk[i + 1] !== LF) return false;
  }
  return true;
}

type DataStreamState = { lastByte: number | false; inByteCount: number; outByteCount: number };
type TransformFn = (chunk: unknown, encoding: BufferEncoding, done: (err?: Error | null) => void) => void;

const proto = DataStream.prototype as unknown as { _transform: TransformFn; _mwFastPath?: boolean };
/** nodemailer's own transform, kept for the fallback and for the equivalence test. */
export const nodemailerTransform: TransformFn = proto._mwFastPath ? (proto as { _mwOriginal?: TransformFn })._mwOriginal! : proto._transform;

if (!proto._mwFastPath) {
  proto._transform = function fastTransform(this: DataStream & DataStreamState, chunk, encoding, done) {
    if (Buffer.isBuffer(chunk) && chunk.length > 0 && passesUnchanged(chunk, this.lastByte)) {
      this.inByteCount += chunk.length;
      this.outByteCount += chunk.length;
      this.lastByte = chunk[chunk.length - 1];
      this.push(chunk);
      done();
      return;
    }
    nodemailerTransform.call(this, chunk, encoding, done);
  };
  Object.assign(proto, { _mwFastPath: true, _mwOriginal: nodemailerTransform });
}

/**
 * The message for `SMTPConnection.send()`: written and ended with the socket
 * corked, so the bytes and the terminating dot go out in one write.
 * `_socket` is nodemailer's private field; without it this is two writes again,
 * never a different message.
 */
export function singleWriteMessage(c: SMTPConnection, raw: Buffer): { pipe(dest: Writable): Writable } {
  return {
    pipe(dest) {
      const socket = (c as unknown as { _socket?: Socket | false })._socket;
      const cork = socket && typeof socket.cork === 'function';
      if (cork) socket.cork();
      dest.write(raw);
      dest.end();
      if (cork) socket.uncork();
      return dest;
    },
  };
}
