// The small part of autocannon 9's API that the HTTP bench uses (the package ships no types).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  type Headers = Record<string, string>;
  type AutocannonRequest = {
    method?: string;
    path?: string;
    headers?: Headers;
    body?: string | Buffer;
    /** Called before each request is (re)built; return the request to send. */
    setupRequest?: (req: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest | null | undefined;
  };
  type AutocannonOptions = {
    url: string;
    connections?: number;
    duration?: number;
    amount?: number;
    pipelining?: number;
    timeout?: number;
    method?: string;
    headers?: Headers;
    body?: string;
    requests?: AutocannonRequest[];
    overallRate?: number;
  };
  type AutocannonResult = {
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    statusCodeStats: Record<string, { count: number }>;
    requests: { total: number; average: number };
  };
  /** Emits 'response' (client, statusCode, resBytes, responseTimeMs) for every response. */
  type AutocannonInstance = EventEmitter & { stop(): void };

  function autocannon(opts: AutocannonOptions, cb: (err: Error | null, result: AutocannonResult) => void): AutocannonInstance;
  export = autocannon;
}
