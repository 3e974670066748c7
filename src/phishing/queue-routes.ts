// The analyst queue API: reported and quarantined messages, analyst actions (each audited and
// learned from), the blocklist, per-sender/domain history and the daily trend.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { appendAudit } from '../audit/service.ts';
import { actorOf } from '../auth/request-auth.ts';
import { badRequest, conflict, fieldError, notFound, Problem } from '../http/problem.ts';
import type { ServerDeps } from '../http/server.ts';
import {
  addBlock,
  type AnalystVerdict,
  applyBlocklist,
  decide,
  enqueueCase,
  getQueueRow,
  listBlocks,
  listQueue,
  loadScanContext,
  modelSummary,
  normaliseBlockValue,
  removeBlock,
  saveWorkspaceConfig,
  scanForWorkspace,
  senderHistory,
  trend,
} from './queue.ts';
import { renderSafely } from './render.ts';
import { MAX_SCAN_BYTES } from './routes.ts';
import { phishingSources, phishingStates } from './schema.ts';
import { scanMessage } from './scan.ts';
import { releaseToNextHop } from './smtp.ts';
import type { ScanResult } from './types.ts';

/** Set by `serve` from the configuration: where released messages go. */
let runtime: { nextHop?: string; hostname: string } = { hostname: 'mailwarden' };
export function configurePhishingRuntime(r: { nextHop?: string; hostname: string }): void {
  runtime = r;
}

const idParams = z.object({ id: z.coerce.number().int().positive() });
const noteBody = z.object({ note: z.string().max(2000).optional() }).optional();
const domainRe = /^[a-z0-9.-]{1,253}$/i;

export function phishingQueueRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const { db } = deps.database;
  for (const type of ['message/rfc822', 'application/octet-stream'])
    if (!app.hasContentTypeParser(type))
      app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: MAX_SCAN_BYTES }, (_req, body, done) =>
        done(null, body),
      );

  app.get(
    '/api/phishing/queue',
    {
      config: { guard: 'phishing:read' },
      schema: {
        tags: ['phishing'],
        summary: 'Reported and quarantined messages, newest first',
        querystring: z.object({
          state: z.enum(phishingStates).optional(),
          verdict: z.enum(['phishing', 'suspicious', 'clean']).optional(),
          source: z.enum(phishingSources).optional(),
          domain: z.string().regex(domainRe).optional(),
          sender: z.string().max(500).optional(),
          since: z.coerce.date().optional(),
          until: z.coerce.date().optional(),
          before: z.coerce.number().int().positive().optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
        }),
      },
    },
    async (req) => listQueue(db, req.query),
  );

  app.post(
    '/api/phishing/queue',
    {
      config: { guard: 'phishing:scan', rateLimit: { max: 120, timeWindow: '1 minute' } },
      bodyLimit: MAX_SCAN_BYTES,
      schema: {
        tags: ['phishing'],
        summary: 'Submit a message to the analyst queue (Content-Type: message/rfc822)',
      },
    },
    async (req, reply) => {
      const body = typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
      if (!Buffer.isBuffer(body) || body.length === 0)
        throw badRequest('Send the raw message as the body with Content-Type: message/rfc822.');
      const result = await scanForWorkspace(db, body);
      const actor = actorOf(req);
      // An API caller is authenticated (key or session): its submissions count as verified reports.
      const { id, reportCount } = await enqueueCase(db, {
        raw: body,
        source: 'api',
        result,
        reporter: actor.label ?? undefined,
        reporterVerified: true,
      });
      await appendAudit(db, actor, {
        action: 'phishing.submitted',
        target: `phishing:${id}`,
        details: { score: result.score, verdict: result.verdict },
      });
      return reply.code(201).send({ id, score: result.score, verdict: result.verdict, reportCount });
    },
  );

  app.get(
    '/api/phishing/queue/:id',
    {
      config: { guard: 'phishing:read' },
      schema: {
        tags: ['phishing'],
        summary: 'One queued message: headers, reasons, links, attachments and a safe rendering',
        params: idParams,
      },
    },
    async (req) => {
      const row = await getQueueRow(db, req.params.id);
      if (!row) throw notFound('Message');
      const ctx = await loadScanContext(db);
      // Re-scanned with today's model and adjustment: links, attachments and the current score.
      const now = applyBlocklist(
        await scanMessage(row.raw, { workspace: ctx.workspace, adjustment: ctx.adjustment }),
        ctx.blocklist,
        row.envelopeFrom ?? undefined,
      );
      const rendering = await renderSafely(row.raw);
      const { raw: _raw, reportRaw, ...fields } = row;
      return {
        ...fields,
        hasReport: !!reportRaw,
        links: now.links,
        attachments: now.attachments,
        limits: now.limits,
        current: { score: now.score, verdict: now.verdict, reasons: now.reasons },
        rendering,
        canRelease:
          row.source === 'gateway' &&
          row.state !== 'released' &&
          !!row.envelopeTo?.length &&
          !!runtime.nextHop,
      };
    },
  );

  app.get(
    '/api/phishing/queue/:id/raw',
    {
      config: { guard: 'phishing:read' },
      schema: {
        tags: ['phishing'],
        summary: 'Download the stored message (evidence) as .eml',
        params: idParams,
      },
    },
    async (req, reply) => {
      const row = await getQueueRow(db, req.params.id);
      if (!row) throw notFound('Message');
      await appendAudit(db, actorOf(req), {
        action: 'phishing.raw_downloaded',
        target: `phishing:${row.id}`,
      });
      return reply
        .header('content-type', 'message/rfc822')
        .header('content-disposition', `attachment; filename="phishing-${row.id}.eml"`)
        .header('x-content-type-options', 'nosniff')
        .send(row.raw);
    },
  );

  const action = (path: string, state: AnalystVerdict, summary: string) =>
    app.post(
      `/api/phishing/queue/:id/${path}`,
      {
        config: { guard: 'phishing:manage' },
        schema: { tags: ['phishing'], summary, params: idParams, body: noteBody },
      },
      async (req) => {
        const row = await getQueueRow(db, req.params.id);
        if (!row) throw notFound('Message');
        const actor = actorOf(req);
        let relay: string | undefined;
        if (state === 'released') {
          if (row.source !== 'gateway' || !row.envelopeTo?.length)
            throw conflict('not_quarantined', 'Only messages quarantined by the gateway can be released.');
          if (row.state === 'released')
            throw conflict('already_released', 'This message was already released.');
          if (!runtime.nextHop) throw conflict('no_next_hop', 'PHISHING_GATEWAY_NEXT_HOP is not configured.');
          const scanned = {
            score: row.score,
            verdict: row.verdict,
            reasons: row.reasons,
            auth: row.auth ?? { source: 'none', spf: 'none', dkim: 'none', dmarc: 'none', arc: 'none' },
          } as ScanResult;
          try {
            relay = await releaseToNextHop(
              runtime.nextHop,
              { from: row.envelopeFrom ?? '', to: row.envelopeTo },
              row.raw,
              scanned,
              runtime.hostname,
            );
          } catch (err) {
            await appendAudit(db, actor, {
              action: 'phishing.released',
              target: `phishing:${row.id}`,
              outcome: 'failure',
              details: { error: (err as Error).message.slice(0, 300) },
            });
            throw new Problem(
              502,
              'relay_failed',
              `The next hop refused or could not be reached: ${(err as Error).message.slice(0, 200)}`,
            );
          }
        }
        const res = await decide(
          db,
          row.id,
          state,
          actor.label ?? String(actor.id ?? actor.type),
          req.body?.note,
        );
        await appendAudit(db, actor, {
          action:
            state === 'confirmed_phishing'
              ? 'phishing.confirmed'
              : state === 'legitimate'
                ? 'phishing.marked_legitimate'
                : 'phishing.released',
          target: `phishing:${row.id}`,
          details: {
            previous: row.state,
            sender: row.fromAddress,
            score: row.score,
            note: req.body?.note,
            ...(relay ? { relay: relay.slice(0, 200) } : {}),
          },
        });
        return {
          id: row.id,
          state,
          previous: res?.previous,
          learned: res?.learned ?? false,
          learnedExamples: res?.learnedExamples ?? 0,
        };
      },
    );
  action('confirm', 'confirmed_phishing', 'Confirm as phishing (the model learns from it)');
  action('legitimate', 'legitimate', 'Mark as legitimate (the model learns from it)');
  action(
    'release',
    'released',
    'Release from quarantine: relay to the next hop (and learn it as legitimate)',
  );

  const blockBody = z.object({
    kind: z.enum(['sender', 'domain']),
    value: z.string().min(1).max(500),
    reason: z.string().max(500).optional(),
  });
  const block = async (
    req: Parameters<typeof actorOf>[0],
    kind: 'sender' | 'domain',
    value: string,
    reason?: string,
    from?: number,
  ) => {
    const v = normaliseBlockValue(kind, value);
    if (!v)
      throw fieldError('value', kind === 'sender' ? 'must be an e-mail address' : 'must be a domain name');
    const row = await addBlock(db, kind, v, actorOf(req).label ?? 'unknown', reason);
    await appendAudit(db, actorOf(req), {
      action: 'phishing.blocked',
      target: `${kind}:${v}`,
      details: { reason, fromMessage: from },
    });
    return row;
  };

  app.post(
    '/api/phishing/queue/:id/block',
    {
      config: { guard: 'phishing:manage' },
      schema: {
        tags: ['phishing'],
        summary: 'Block the sender or the domain of a queued message',
        params: idParams,
        body: z.object({ kind: z.enum(['sender', 'domain']), reason: z.string().max(500).optional() }),
      },
    },
    async (req, reply) => {
      const row = await getQueueRow(db, req.params.id);
      if (!row) throw notFound('Message');
      const value = req.body.kind === 'sender' ? row.fromAddress : row.senderDomain;
      if (!value) throw conflict('no_sender', 'This message has no sender address to block.');
      return reply.code(201).send(await block(req, req.body.kind, value, req.body.reason, row.id));
    },
  );

  app.get(
    '/api/phishing/blocklist',
    {
      config: { guard: 'phishing:read' },
      schema: { tags: ['phishing'], summary: 'Blocked senders and domains' },
    },
    async () => ({
      items: await listBlocks(db),
    }),
  );
  app.post(
    '/api/phishing/blocklist',
    {
      config: { guard: 'phishing:manage' },
      schema: { tags: ['phishing'], summary: 'Block a sender address or a domain', body: blockBody },
    },
    async (req, reply) =>
      reply.code(201).send(await block(req, req.body.kind, req.body.value, req.body.reason)),
  );
  app.delete(
    '/api/phishing/blocklist/:id',
    {
      config: { guard: 'phishing:manage' },
      schema: { tags: ['phishing'], summary: 'Remove a blocklist entry', params: idParams },
    },
    async (req) => {
      const row = await removeBlock(db, req.params.id);
      if (!row) throw notFound('Blocklist entry');
      await appendAudit(db, actorOf(req), {
        action: 'phishing.unblocked',
        target: `${row.kind}:${row.value}`,
      });
      return { status: 'ok' };
    },
  );

  app.get(
    '/api/phishing/history',
    {
      config: { guard: 'phishing:read' },
      schema: {
        tags: ['phishing'],
        summary: 'Counts by verdict and decision for one sender or domain, over time',
        querystring: z.object({
          sender: z.string().max(500).optional(),
          domain: z.string().regex(domainRe).optional(),
          days: z.coerce.number().int().min(1).max(365).default(90),
        }),
      },
    },
    async (req) => {
      const { sender, domain, days } = req.query;
      if (!sender === !domain) throw badRequest('Give either sender or domain.');
      return { sender, domain, ...(await senderHistory(db, { sender, domain }, days)) };
    },
  );

  app.get(
    '/api/phishing/trend',
    {
      config: { guard: 'phishing:read' },
      schema: {
        tags: ['phishing'],
        summary: 'Per day: reported/quarantined, confirmed phishing, legitimate',
        querystring: z.object({ days: z.coerce.number().int().min(1).max(365).default(30) }),
      },
    },
    async (req) => ({ days: await trend(db, req.query.days) }),
  );

  const workspaceConfig = z
    .object({
      ownDomains: z.array(z.string().regex(domainRe).max(253)).max(100).optional(),
      staffNames: z.array(z.string().min(3).max(200)).max(1000).optional(),
      brands: z
        .array(
          z.object({
            name: z.string().min(2).max(100),
            domains: z.array(z.string().regex(domainRe)).min(1).max(50),
          }),
        )
        .max(200)
        .optional(),
      thresholds: z
        .object({
          suspicious: z.number().int().min(1).max(100).optional(),
          phishing: z.number().int().min(1).max(100).optional(),
        })
        .optional(),
    })
    .strict();
  app.get(
    '/api/phishing/config',
    {
      config: { guard: 'phishing:read' },
      schema: { tags: ['phishing'], summary: 'Workspace scanner configuration' },
    },
    async () => (await loadScanContext(db)).workspace,
  );
  app.put(
    '/api/phishing/config',
    {
      config: { guard: 'phishing:manage' },
      schema: {
        tags: ['phishing'],
        summary: 'Set own domains, staff names, extra brands and verdict thresholds',
        body: workspaceConfig,
      },
    },
    async (req) => {
      const t = req.body.thresholds;
      if (t?.suspicious !== undefined && t.phishing !== undefined && t.suspicious > t.phishing)
        throw fieldError('thresholds.suspicious', 'must not be above the phishing threshold');
      const norm = {
        ...req.body,
        ownDomains: req.body.ownDomains?.map((d) => d.toLowerCase()),
        brands: req.body.brands?.map((b) => ({
          name: b.name,
          domains: b.domains.map((d) => d.toLowerCase()),
        })),
      };
      const { before, after } = await saveWorkspaceConfig(db, norm);
      await appendAudit(db, actorOf(req), {
        action: 'phishing.config_changed',
        target: 'workspace',
        details: { before, after },
      });
      return after;
    },
  );

  app.get(
    '/api/phishing/model',
    {
      config: { guard: 'phishing:read' },
      schema: { tags: ['phishing'], summary: 'What analysts taught the model so far' },
    },
    async () => modelSummary(db),
  );
}
