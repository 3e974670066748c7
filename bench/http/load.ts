// Two ways to load the server, both returning the same figures:
//  - `paced`: an open-loop client at a fixed rate (one request every 1000/rate ms,
//    sent whether or not earlier ones have answered). Latency is measured from the
//    time a request was *scheduled*, so a stalled server is not hidden by a stalled
//    client (no coordinated omission). autocannon's own `overallRate` is not used for
//    this because it sends each connection's per-second quota back to back at the
//    start of every second (bursts), which is not a steady 200 req/s.
//  - `closedLoop`: autocannon with N connections, each sending its next request as
//    soon as the previous one answered: the maximum throughput.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { percentile } from '../lib/report.ts';

export type Run = {
  /** Responses received (any status). */
  responses: number;
  /** 2xx responses. */
  ok: number;
  /** Count per non-2xx status code. */
  nonOk: Record<string, number>;
  /** Connection errors and timeouts. */
  errors: number;
  elapsedSec: number;
  /** Responses per second over the run. */
  rps: number;
  /** Latencies in ms of the 2xx responses (of all responses when none was 2xx), sorted. */
  latencies: number[];
};

export type Target = {
  url: string;
  method?: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Extra headers for each request (e.g. a distinct X-Forwarded-For). */
  headersFor?: () => Record<string, string>;
};

function summarise(samples: { ms: number; status: number }[], errors: number, elapsedSec: number): Run {
  const nonOk: Record<string, number> = {};
  const okLat: number[] = [];
  const allLat: number[] = [];
  for (const s of samples) {
    allLat.push(s.ms);
    if (s.status >= 200 && s.status < 300) okLat.push(s.ms);
    else nonOk[s.status] = (nonOk[s.status] ?? 0) + 1;
  }
  const latencies = (okLat.length ? okLat : allLat).sort((a, b) => a - b);
  return { responses: samples.length, ok: okLat.length, nonOk, errors, elapsedSec, rps: samples.length / elapsedSec, latencies };
}

export const p = (run: Run, q: number) => percentile(run.latencies, q);

/** Open-loop load at `rate` requests per second for `durationSec`. */
export function paced(target: Target, rate: number, durationSec: number): Promise<Run> {
  const u = new URL(target.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
  const n = Math.max(1, Math.round(rate * durationSec));
  const interval = 1000 / rate;
  const samples: { ms: number; status: number }[] = [];
  let errors = 0;
  let sent = 0;
  let settled = 0;
  let last = 0;
  const t0 = performance.now() + 20;
  return new Promise((resolve) => {
    const settle = () => {
      last = performance.now();
      if (++settled === n) {
        agent.destroy();
        resolve(summarise(samples, errors, (last - t0) / 1000));
      }
    };
    const fire = (i: number) => {
      const scheduled = t0 + i * interval;
      const headers: Record<string, string> = { ...target.headers, ...target.headersFor?.() };
      if (target.body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(Buffer.byteLength(target.body));
      }
      let done = false;
      const req = http.request(
        { agent, host: u.hostname, port: u.port, path: target.path, method: target.method ?? 'GET', headers, timeout: 10_000 },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (done) return;
            done = true;
            samples.push({ ms: performance.now() - scheduled, status: res.statusCode ?? 0 });
            settle();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        if (done) return;
        done = true;
        errors++;
        settle();
      });
      req.end(target.body);
    };
    const tick = () => {
      const now = performance.now();
      while (sent < n && t0 + sent * interval <= now) fire(sent++);
      if (sent < n) setTimeout(tick, Math.max(0, t0 + sent * interval - performance.now()));
    };
    setTimeout(tick, Math.max(0, t0 - performance.now()));
  });
}

/** Closed-loop load (autocannon): `connections` requests always in flight, for `durationSec` (or `amount` requests). */
export function closedLoop(target: Target, connections: number, durationSec: number, amount?: number): Promise<Run> {
  const samples: { ms: number; status: number }[] = [];
  const headers: Record<string, string> = { ...target.headers };
  if (target.body !== undefined) headers['content-type'] = 'application/json';
  const headersFor = target.headersFor;
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.url,
        connections,
        ...(amount ? { amount } : { duration: durationSec }),
        timeout: 10,
        requests: [
          {
            method: target.method ?? 'GET',
            path: target.path,
            headers,
            body: target.body,
            ...(headersFor ? { setupRequest: (req) => ({ ...req, headers: { ...req.headers, ...headersFor() } }) } : {}),
          },
        ],
      },
      (err, result) => {
        if (err) return reject(err);
        resolve(summarise(samples, result.errors, (performance.now() - start) / 1000));
      },
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      samples.push({ ms, status });
    });
  });
}
