// Errors as problem+json (RFC 9457): every 4xx/5xx has a stable `code` and a
// `type` derived from it; validation errors name the fields; 5xx never leak
// stacks or SQL.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';

export type FieldError = { path: string; message: string };

export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string>; [k: string]: unknown } = {},
  ) {
    super(detail);
  }
}

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  423: 'Locked',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export const problemType = (code: string) => `urn:mailwarden:problem:${code}`;

export const badRequest = (detail: string, errors?: FieldError[]) => new Problem(400, 'bad_request', detail, { errors });
export const fieldError = (path: string, message: string) =>
  new Problem(422, 'validation_failed', `${path} ${message}`, { errors: [{ path, message }] });
export const unauthorized = (detail = 'Sign in first.') => new Problem(401, 'unauthorized', detail);
export const forbidden = (detail = 'You do not have permission to do this.') => new Problem(403, 'forbidden', detail);
export const notFound = (what = 'Resource') => new Problem(404, 'not_found', `${what} not found.`);
export const conflict = (code: string, detail: string) => new Problem(409, code, detail);

export function sendProblem(reply: FastifyReply, status: number, code: string, detail: string, extra: Record<string, unknown> = {}) {
  const { headers, ...rest } = extra as { headers?: Record<string, string> };
  if (headers) for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: problemType(code), title: titles[status] ?? 'Error', status, detail, code, ...rest, instance: reply.request.url.split('?')[0] });
}

export function errorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (err instanceof Problem) return sendProblem(reply, err.status, err.code, err.detail, err.extra);
  if (hasZodFastifySchemaValidationErrors(err)) {
    const errors = err.validation.map((v) => ({
      path: [err.validationContext, ...(v.instancePath ? v.instancePath.split('/').filter(Boolean) : [])].join('.'),
      message: v.message ?? 'is invalid',
    }));
    const first = errors[0];
    return sendProblem(reply, 400, 'validation_failed', first ? `${first.path}: ${first.message}` : 'Invalid request.', { errors });
  }
  if (isResponseSerializationError(err)) {
    request.log.error({ err, issues: err.cause.issues }, 'response did not match its schema');
    return sendProblem(reply, 500, 'internal_error', 'The server failed to answer this request.');
  }
  const status = err.statusCode ?? 500;
  if (status >= 500) {
    request.log.error({ err }, 'request failed');
    return sendProblem(reply, 500, 'internal_error', 'The server failed to answer this request.');
  }
  // Fastify's own 4xx errors (bad JSON, body too large, wrong content type, rate limit).
  const code = (err.code ?? 'bad_request').replace(/^FST_ERR_/, '').toLowerCase();
  return sendProblem(reply, status, code, err.message);
}
