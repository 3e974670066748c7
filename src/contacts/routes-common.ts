// Shared pieces of the contacts REST routes (routes*.ts).
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';

export const uuidParams = z.object({ id: z.uuid() });
export const numParams = z.object({ id: z.coerce.number().int().positive() });

export function principalId(req: FastifyRequest): string {
  const p = req.principal;
  return p?.kind === 'user'
    ? `user:${p.user.id}`
    : p?.kind === 'api_key'
      ? `api_key:${p.key.id}`
      : 'anonymous';
}
