// REST routes of contact imports: create, preview, progress, the streamed file
// upload, and the error file.
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { desc } from 'drizzle-orm';
import { z } from 'zod';
import { actorOf } from '../auth/request-auth.ts';
import type { ServerDeps } from '../http/server.ts';
import { forbidden } from '../http/problem.ts';
import { createImport, getImport, importErrors, type ImportOptions, runImport } from './import.ts';
import { errorFileCsv, ImportConfigError, importRows } from './import-rows.ts';
import { consentStates, contactImports } from './schema.ts';
import * as svc from './service.ts';
import { principalId, uuidParams } from './routes-common.ts';

export function importRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const db = deps.database.db;
  const vault = deps.vault;

  // --- imports ---------------------------------------------------------------
  const importOut = z.object({
    id: z.string(),
    state: z.string(),
    filename: z.string(),
    format: z.string(),
    options: z.record(z.string(), z.unknown()),
    rowsDone: z.number(),
    inserted: z.number(),
    updated: z.number(),
    skipped: z.number(),
    failed: z.number(),
    suppressed: z.number(),
    error: z.string().nullable(),
    createdAt: z.date(),
    finishedAt: z.date().nullable(),
  });
  const importOptions = z.object({
    mapping: z.record(z.string().max(200), z.string().max(100)),
    list: z.string().trim().min(1).max(200).nullable().optional(),
    onDuplicate: z.enum(['update', 'skip']).default('skip'),
    defaultCountry: z.string().length(2).nullable().optional(),
    consent: z
      .object({ purpose: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/), state: z.enum(consentStates) })
      .nullable()
      .optional(),
    tags: z.array(z.string().max(64)).max(20).optional(),
  });

  app.post(
    '/api/contacts/imports',
    {
      config: { guard: 'contacts:write' },
      schema: {
        tags: ['imports'],
        body: importOptions.extend({
          filename: z.string().min(1).max(255),
          format: z.enum(['csv', 'jsonl']),
        }),
        response: { 201: importOut },
      },
    },
    async (req, reply) => {
      const { filename, format, ...options } = req.body;
      const imp = await createImport(db, {
        filename,
        format,
        options: options as ImportOptions,
        createdBy: principalId(req),
      });
      return reply.code(201).send(imp);
    },
  );

  app.get(
    '/api/contacts/imports',
    {
      config: { guard: 'contacts:write' },
      schema: { tags: ['imports'], response: { 200: z.array(importOut) } },
    },
    async () => db.select().from(contactImports).orderBy(desc(contactImports.createdAt)).limit(50),
  );

  app.get(
    '/api/contacts/imports/:id',
    {
      config: { guard: 'contacts:write' },
      schema: { tags: ['imports'], params: uuidParams, response: { 200: importOut } },
    },
    async (req) => getImport(db, req.params.id),
  );

  app.post(
    '/api/contacts/imports/preview',
    {
      config: { guard: 'contacts:write' },
      schema: {
        tags: ['imports'],
        body: z.object({
          format: z.enum(['csv', 'jsonl']),
          sample: z.string().max(256 * 1024),
          mapping: z.record(z.string(), z.string()),
          defaultCountry: z.string().length(2).optional(),
        }),
      },
    },
    async (req) => {
      const defs = await svc.listAttributeDefs(db);
      // Only complete lines: the browser sends the beginning of the file.
      const sample = req.body.sample.slice(0, req.body.sample.lastIndexOf('\n') + 1) || req.body.sample;
      try {
        for await (const batch of importRows(Readable.from([Buffer.from(sample)]), {
          format: req.body.format,
          mapping: req.body.mapping,
          attributes: defs.map((d) => ({
            key: d.key,
            type: d.type,
            options: d.options,
            sensitive: d.sensitive,
          })),
          batchSize: 20,
          defaultCountry: req.body.defaultCountry,
        })) {
          return { ok: true, good: batch.good, bad: batch.bad.map(({ line, reason }) => ({ line, reason })) };
        }
        return { ok: true, good: [], bad: [] };
      } catch (err) {
        if (err instanceof ImportConfigError) return { ok: false, error: err.message, good: [], bad: [] };
        throw err;
      }
    },
  );

  app.get(
    '/api/contacts/imports/:id/errors.csv',
    { config: { guard: 'contacts:write' }, schema: { tags: ['imports'], params: uuidParams } },
    async (req, reply) => {
      const imp = await getImport(db, req.params.id);
      // The error file holds raw rows (PII): only for whoever ran the import, or owners/admins.
      const p = req.principal;
      const privileged = p?.kind === 'user' && (p.user.role === 'owner' || p.user.role === 'admin');
      if (imp.createdBy !== principalId(req) && !privileged)
        throw forbidden('Only the person who ran this import can download its error file.');
      const bad = await importErrors(db, await vault.keyring(), imp.id);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="import-${imp.id}-errors.csv"`)
        .send(errorFileCsv(bad));
    },
  );

  // The file itself: a raw streamed body (never buffered), parsed as it arrives.
  // Re-sending the same file to an interrupted import resumes it.
  app.register(async (scope) => {
    scope.addContentTypeParser(
      ['text/csv', 'application/x-ndjson', 'application/jsonl'],
      (_req, payload, done) => done(null, payload),
    );
    scope.withTypeProvider<ZodTypeProvider>().put(
      '/api/contacts/imports/:id/file',
      {
        config: { guard: 'contacts:write' },
        bodyLimit: 4 * 1024 ** 3,
        schema: { tags: ['imports'], params: uuidParams, response: { 200: importOut } },
      },
      async (req) => {
        const imp = await getImport(db, req.params.id);
        if (imp.createdBy !== principalId(req))
          throw forbidden('Only the person who created this import can upload its file.');
        return runImport(db, vault, actorOf(req), imp.id, req.body as Readable);
      },
    );
  });
}
