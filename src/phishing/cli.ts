// scanPaths: the engine behind `mailwarden scan [--format text|jsonl] PATH...`.
// Walks files and folders (recursively), splits mbox files on `From ` separator lines, scans each
// message with bounded concurrency, and writes JSONL or a text table plus a summary. A file that
// cannot be read or parsed produces one error line; the run never aborts because of one input.
import { open, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Writable } from 'node:stream';
import { LIMITS } from './parse.ts';
import { scanMessage } from './scan.ts';
import type { ScanOptions, ScanResult, Verdict } from './types.ts';

export interface ScanPathsOptions {
  format: 'text' | 'jsonl';
  out: Writable;
  /** Progress bar on `progressStream` (default stderr) when it is a TTY; default true. */
  progress?: boolean;
  progressStream?: NodeJS.WriteStream | Writable;
  /** Messages scanned in parallel (I/O overlap; scoring is CPU-bound). Default 8. */
  concurrency?: number;
  /** Options passed to scanMessage for every message. */
  scan?: ScanOptions;
  /** File name filter for folders; default: .eml, .txt, .msg-less raw files, mbox. */
  extensions?: string[];
  /** Include the full reason list in text output (default: top 3). */
  verbose?: boolean;
}

export interface ScanSummary {
  files: number;
  messages: number;
  errors: number;
  verdicts: Record<Verdict, number>;
  /** Signals that fired, with how often. */
  signals: Record<string, number>;
  elapsedMs: number;
}

export interface ScanRecord {
  file: string;
  /** Index of the message within an mbox file (0 for single-message files). */
  index: number;
  result?: ScanResult;
  error?: string;
}

const DEFAULT_EXT = ['.eml', '.txt', '.mbox', '.mbx', '.msg', '.mail', ''];
/** Files larger than this are only read as mbox (streamed in bounded chunks). */
const MAX_FILE_BYTES = 512 * 1024 * 1024;

async function* walk(path: string, exts: string[], errors: ScanRecord[], seen = new Set<string>()): AsyncGenerator<string> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (err) {
    errors.push({ file: path, index: 0, error: (err as NodeJS.ErrnoException).code ?? String(err) });
    return;
  }
  if (st.isFile()) {
    yield path;
    return;
  }
  if (!st.isDirectory()) return;
  // Symlinked directories may form loops: visit each directory once.
  const id = `${st.dev}:${st.ino}`;
  if (seen.has(id)) return;
  seen.add(id);
  let names: string[];
  try {
    names = (await readdir(path)).sort();
  } catch (err) {
    errors.push({ file: path, index: 0, error: (err as NodeJS.ErrnoException).code ?? String(err) });
    return;
  }
  for (const n of names) {
    if (n.startsWith('.')) continue;
    const p = join(path, n);
    const s = await stat(p).catch(() => null);
    if (s?.isDirectory()) yield* walk(p, exts, errors, seen);
    else if (s?.isFile()) {
      const dot = n.lastIndexOf('.');
      const ext = dot > 0 ? n.slice(dot).toLowerCase() : '';
      if (exts.includes(ext)) yield p;
    }
  }
}

const FROM_LINE = /^From \S+ +\S.*\d{1,2}:\d{2}/;

/** Is the buffer an mbox (first line a `From ` separator)? */
export function isMbox(buf: Buffer): boolean {
  return buf.length > 5 && buf.subarray(0, 5).toString('latin1') === 'From ' && FROM_LINE.test(buf.subarray(0, 200).toString('latin1'));
}

/**
 * Splits an mbox into messages on `From ` lines that follow an empty line (mboxrd `>From ` quoting
 * is undone). A single-message file with a leading `From ` line yields one message.
 */
export function splitMbox(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = -1;
  let pos = 0;
  let prevBlank = true;
  while (pos < buf.length) {
    let end = buf.indexOf(10, pos);
    if (end < 0) end = buf.length;
    const isFrom = buf[pos] === 0x46 && prevBlank && FROM_LINE.test(buf.subarray(pos, Math.min(end, pos + 200)).toString('latin1'));
    if (isFrom) {
      if (start >= 0) out.push(unquote(buf.subarray(start, pos)));
      start = end + 1; // message starts after the separator line
    }
    const len = end - pos - (buf[end - 1] === 13 ? 1 : 0);
    prevBlank = len <= 0;
    pos = end + 1;
  }
  if (start >= 0 && start < buf.length) out.push(unquote(buf.subarray(start)));
  return out;
}

function unquote(b: Buffer): Buffer {
  if (b.indexOf('\n>From ') < 0) return b;
  return Buffer.from(b.toString('latin1').replace(/\n>(>*From )/g, '\n$1'), 'latin1');
}

async function readMessages(path: string): Promise<Buffer[]> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(Math.min(size, 256));
    await fh.read(head, 0, head.length, 0);
    const mbox = isMbox(head);
    // A single message is read up to the parser cap only; an mbox up to MAX_FILE_BYTES.
    const cap = mbox ? MAX_FILE_BYTES : LIMITS.maxRawBytes;
    const buf = Buffer.alloc(Math.min(size, cap));
    await fh.read(buf, 0, buf.length, 0);
    if (!mbox) return [buf];
    const msgs = splitMbox(buf);
    return msgs.length ? msgs : [buf];
  } finally {
    await fh.close();
  }
}

function pad(s: string, n: number): string {
  const t = s.length > n ? `${s.slice(0, n - 1)}…` : s;
  return t + ' '.repeat(Math.max(0, n - t.length));
}

function textLine(r: ScanRecord, base: string, verbose: boolean): string {
  const name = (relative(base, r.file) || r.file) + (r.index ? `#${r.index}` : '');
  if (r.error) return `${pad('ERROR', 10)} ${pad('', 5)} ${pad(name, 48)} ${r.error}\n`;
  const res = r.result!;
  const top = res.reasons.filter((x) => x.weight > 0).slice(0, verbose ? 50 : 3);
  return `${pad(res.verdict.toUpperCase(), 10)} ${String(res.score).padStart(5)} ${pad(name, 48)} ${top
    .map((x) => `${x.signal} (+${x.weight})`)
    .join(', ')}\n`;
}

function jsonLine(r: ScanRecord): string {
  if (r.error) return `${JSON.stringify({ file: r.file, index: r.index, error: r.error })}\n`;
  const res = r.result!;
  return `${JSON.stringify({
    file: r.file,
    index: r.index,
    score: res.score,
    verdict: res.verdict,
    reasons: res.reasons,
    subject: res.subject,
    from: res.from?.address,
    auth: { spf: res.auth.spf, dkim: res.auth.dkim, dmarc: res.auth.dmarc, arc: res.auth.arc, source: res.auth.source },
    limits: res.limits.length ? res.limits : undefined,
  })}\n`;
}

async function write(out: Writable, s: string): Promise<void> {
  if (!out.write(s)) await new Promise<void>((r) => out.once('drain', r));
}

export async function scanPaths(paths: string[], opts: ScanPathsOptions): Promise<ScanSummary> {
  const started = performance.now();
  const summary: ScanSummary = {
    files: 0,
    messages: 0,
    errors: 0,
    verdicts: { phishing: 0, suspicious: 0, clean: 0 },
    signals: {},
    elapsedMs: 0,
  };
  const exts = opts.extensions ?? DEFAULT_EXT;
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  const pstream = (opts.progressStream ?? process.stderr) as NodeJS.WriteStream;
  const showProgress = opts.progress !== false && !!pstream.isTTY;
  const base = process.cwd();
  const walkErrors: ScanRecord[] = [];

  // Collect the file list first so the progress bar knows the total.
  const fileList: string[] = [];
  for (const p of paths) for await (const f of walk(p, exts, walkErrors)) fileList.push(f);

  if (opts.format === 'text') await write(opts.out, `${pad('VERDICT', 10)} ${'SCORE'.padStart(5)} ${pad('FILE', 48)} TOP REASONS\n`);
  const emit = async (r: ScanRecord) => {
    if (r.error) summary.errors++;
    else {
      summary.messages++;
      summary.verdicts[r.result!.verdict]++;
      for (const x of r.result!.reasons) if (x.weight > 0) summary.signals[x.signal] = (summary.signals[x.signal] ?? 0) + 1;
    }
    await write(opts.out, opts.format === 'jsonl' ? jsonLine(r) : textLine(r, base, !!opts.verbose));
  };
  for (const e of walkErrors) await emit(e);

  let done = 0;
  let lastDraw = 0;
  const draw = (force = false) => {
    if (!showProgress) return;
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const total = fileList.length || 1;
    const w = 30;
    const filled = Math.round((done / total) * w);
    pstream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(w - filled)}] ${done}/${total} files, ${summary.messages} messages`);
  };

  // Results are written in input order: a small reorder buffer keeps output deterministic.
  const pending = new Map<number, ScanRecord[]>();
  let nextOut = 0;
  let nextIn = 0;
  const flush = async () => {
    while (pending.has(nextOut)) {
      const recs = pending.get(nextOut)!;
      pending.delete(nextOut);
      nextOut++;
      for (const r of recs) await emit(r);
    }
  };
  const worker = async () => {
    for (;;) {
      const i = nextIn++;
      if (i >= fileList.length) return;
      const file = fileList[i];
      const recs: ScanRecord[] = [];
      try {
        const msgs = await readMessages(file);
        for (let k = 0; k < msgs.length; k++) {
          try {
            recs.push({ file, index: k, result: await scanMessage(msgs[k], opts.scan) });
          } catch (err) {
            recs.push({ file, index: k, error: `scan failed: ${(err as Error).message}` });
          }
        }
      } catch (err) {
        recs.push({ file, index: 0, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
      }
      summary.files++;
      pending.set(i, recs);
      done++;
      await flush();
      draw();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await flush();
  if (showProgress) {
    draw(true);
    pstream.write('\n');
  }
  summary.elapsedMs = Math.round(performance.now() - started);
  if (opts.format === 'text') {
    const top = Object.entries(summary.signals)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([k, v]) => `  ${pad(k, 40)} ${v}`)
      .join('\n');
    await write(
      opts.out,
      `\n${summary.messages} messages in ${summary.files} files (${summary.errors} errors) in ${(summary.elapsedMs / 1000).toFixed(1)} s: ` +
        `${summary.verdicts.phishing} phishing, ${summary.verdicts.suspicious} suspicious, ${summary.verdicts.clean} clean\n` +
        (top ? `Most frequent signals:\n${top}\n` : ''),
    );
  }
  return summary;
}
