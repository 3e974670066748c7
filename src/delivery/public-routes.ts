// Public endpoints behind the links in every campaign message (tokens.ts
// `trackingUrls`): open pixel, click redirect, unsubscribe (page + RFC 8058
// one-click POST) and the preference page. No authentication: the HMAC-signed
// token is the credential, bound to (campaign, contact) and its kind. Anything
// not a genuine token of the right kind is a 404 — in particular a click only
// ever redirects to the URL signed into its token (never an open redirect).
//
// Recording never breaks the recipient's experience: if the database write
// fails the pixel is still served and the redirect still happens (logged).
// These routes log at 'warn' only: request lines would carry the tokens and
// add a line per pixel hit.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Actor } from '../audit/service.ts';
import { requestMeta } from '../auth/request-auth.ts';
import type { Config } from '../config/index.ts';
import { maskEmail } from '../contacts/masking.ts';
import {
  currentConsents,
  decodeContact,
  getContactRow,
  isSuppressed,
  setConsent,
} from '../contacts/service.ts';
import type { ConsentState } from '../contacts/schema.ts';
import type { ServerDeps } from '../http/server.ts';
import { Problem, sendProblem } from '../http/problem.ts';
import { MARKETING_PURPOSE } from '../segments/compile.ts';
import { isContactId, ledgerKey, optOut, recordEngagement } from './feedback.ts';
import {
  notFoundPage,
  type PurposeChoice,
  preferencesPage,
  unsubscribedPage,
  unsubscribePage,
} from './public-pages.ts';
import { signToken, trackingKey, verifyToken } from './tokens.ts';

/** The smallest transparent GIF (43 bytes). */
export const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

const NO_CACHE = {
  'cache-control': 'no-store, no-cache, must-revalidate, private, max-age=0',
  pragma: 'no-cache',
  expires: '0',
};

/** ServerDeps carries the whole Config at run time (app.ts serverDeps); the type only names what every route needs. */
export function masterKeyOf(deps: ServerDeps): Buffer {
  const key = (deps.config as Partial<Config>).masterKey;
  if (!Buffer.isBuffer(key)) throw new Error('public delivery routes need config.masterKey');
  return key;
}

// Wildcards, not `:token`: click tokens carry their URL and exceed Fastify's 100-character parameter limit.
const tokenParams = z.object({ '*': z.string().max(4096) });
const routeOpts = {
  config: { guard: 'public' as const },
  logLevel: 'warn' as const,
  schema: { hide: true, params: tokenParams },
};

function notFound(req: FastifyRequest, reply: FastifyReply, html = false) {
  reply.headers(NO_CACHE);
  if (html && req.method === 'GET' && (req.headers.accept ?? '').includes('text/html'))
    return reply.code(404).type('text/html; charset=utf-8').send(notFoundPage());
  return sendProblem(reply, 404, 'not_found', 'Link not found.');
}

function html(reply: FastifyReply, body: string, status = 200) {
  return reply
    .code(status)
    .headers({ ...NO_CACHE, 'x-robots-tag': 'noindex' })
    .type('text/html; charset=utf-8')
    .send(body);
}

/** Form bodies arrive as urlencoded (browsers, most mailbox providers) or multipart (RFC 8058 allows both). */
function parseForm(body: string, contentType: string): Record<string, string> {
  if (contentType.startsWith('multipart/form-data')) {
    const out: Record<string, string> = {};
    for (const m of body.matchAll(/name="([^"\r\n]{1,200})"\r?\n(?:[^\r\n]+\r?\n)*\r?\n([^\r\n]{0,500})/g))
      out[m[1]] = m[2];
    return out;
  }
  return Object.fromEntries(new URLSearchParams(body));
}

export async function publicDeliveryRoutes(base: FastifyInstance, deps: ServerDeps) {
  const key = deps.delivery?.keys.trackingKey ?? trackingKey(masterKeyOf(deps));
  const db = deps.database.db;
  const vault = deps.vault;
  const log = deps.logger;
  const publicActor = (req: FastifyRequest, label: string): Actor => ({
    type: 'anonymous',
    label,
    ...requestMeta(req),
  });

  // Own scope: the form-body parsers must not leak into the JSON API.
  await base.register(async (scope) => {
    scope.addContentTypeParser(
      ['application/x-www-form-urlencoded', 'multipart/form-data'],
      { parseAs: 'string', bodyLimit: 16 * 1024 },
      (req, body, done) => done(null, parseForm(String(body), req.headers['content-type'] ?? '')),
    );
    // Some senders of one-click POSTs use other content types; the body is not needed to act.
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, _body, done) =>
      done(null, {}),
    );
    const app = scope.withTypeProvider<ZodTypeProvider>();

    // Open pixel. HEAD (link checkers) is answered too and recorded as automated.
    app.get('/t/o/*', routeOpts, async (req, reply) => {
      const p = verifyToken(key, req.params['*'], 'open');
      if (!p) return notFound(req, reply);
      try {
        await recordEngagement(db, await vault.keyring(), {
          ...p,
          kind: 'open',
          method: req.method,
          headers: req.headers,
        });
      } catch (err) {
        log.error({ err }, 'open not recorded');
      }
      return reply.code(200).headers(NO_CACHE).type('image/gif').send(PIXEL);
    });

    // Click: 302 to the URL inside the signed token, and only that.
    app.get('/t/c/*', routeOpts, async (req, reply) => {
      const p = verifyToken(key, req.params['*'], 'click');
      if (!p) return notFound(req, reply);
      try {
        await recordEngagement(db, await vault.keyring(), {
          ...p,
          kind: 'click',
          method: req.method,
          headers: req.headers,
        });
      } catch (err) {
        log.error({ err }, 'click not recorded');
      }
      return reply.headers(NO_CACHE).redirect(p.url, 302);
    });

    const preferencesPath = (campaignId: string, contactId: string) =>
      `/t/p/${signToken(key, { kind: 'preferences', campaignId, contactId })}`;
    const maskedEmailOf = async (contactId: string) => {
      const row = isContactId(contactId) ? await getContactRow(db, contactId.toLowerCase()) : null;
      return row ? { email: decodeContact(await vault.keyring(), row).email, id: row.id } : null;
    };

    // Unsubscribe, step 1: a page (a GET must never unsubscribe: scanners fetch every link).
    app.get('/t/u/*', routeOpts, async (req, reply) => {
      const p = verifyToken(key, req.params['*'], 'unsubscribe');
      if (!p) return notFound(req, reply, true);
      const contact = await maskedEmailOf(p.contactId);
      return html(
        reply,
        unsubscribePage({
          email: contact ? maskEmail(contact.email) : null,
          preferencesPath: preferencesPath(p.campaignId, p.contactId),
        }),
      );
    });

    // Unsubscribe, step 2: the RFC 8058 one-click POST (`List-Unsubscribe=One-Click`) or the page's form.
    app.post('/t/u/*', routeOpts, async (req, reply) => {
      const p = verifyToken(key, req.params['*'], 'unsubscribe');
      if (!p) return notFound(req, reply);
      const k = ledgerKey(p.campaignId, p.contactId);
      if (!k) return notFound(req, reply);
      const form = (req.body ?? {}) as Record<string, string>;
      // A mailbox provider's one-click POST comes without our page's Origin; the page's form carries it.
      const source =
        req.headers.origin || req.headers.referer
          ? 'unsubscribe_page'
          : form['List-Unsubscribe'] === 'One-Click'
            ? 'one_click'
            : 'unsubscribe_post';
      const kr = await vault.keyring();
      await optOut(
        db,
        kr,
        publicActor(req, source === 'one_click' ? 'one-click unsubscribe' : 'unsubscribe link'),
        {
          campaignId: k.campaignId,
          contactId: k.contactId,
          reason: 'unsubscribed',
          source,
        },
      );
      const contact = await maskedEmailOf(p.contactId);
      return html(
        reply,
        unsubscribedPage({
          email: contact ? maskEmail(contact.email) : null,
          preferencesPath: preferencesPath(p.campaignId, p.contactId),
        }),
      );
    });

    /** The purposes shown: every purpose the contact has a consent for, and marketing email always. */
    const choices = async (
      contactId: string,
    ): Promise<{ email: string | null; purposes: PurposeChoice[]; suppressed: boolean }> => {
      const contact = await maskedEmailOf(contactId);
      if (!contact)
        return {
          email: null,
          purposes: [{ purpose: MARKETING_PURPOSE, state: 'unsubscribed' }],
          suppressed: true,
        };
      const kr = await vault.keyring();
      const current = await currentConsents(db, kr, contact.id);
      const purposes: PurposeChoice[] = current.map((c) => ({ purpose: c.purpose, state: c.state }));
      if (!purposes.some((p) => p.purpose === MARKETING_PURPOSE))
        purposes.unshift({ purpose: MARKETING_PURPOSE, state: null });
      purposes.sort((a, b) =>
        a.purpose === MARKETING_PURPOSE
          ? -1
          : b.purpose === MARKETING_PURPOSE
            ? 1
            : a.purpose.localeCompare(b.purpose),
      );
      return {
        email: maskEmail(contact.email),
        purposes,
        suppressed: (await isSuppressed(db, kr, contact.email)) !== null,
      };
    };

    app.get('/t/p/*', routeOpts, async (req, reply) => {
      const p = verifyToken(key, req.params['*'], 'preferences');
      if (!p || !ledgerKey(p.campaignId, p.contactId)) return notFound(req, reply, true);
      return html(reply, preferencesPage(await choices(p.contactId)));
    });

    // Consent per purpose. Unsubscribing marketing is the full opt-out (suppression + queued mail);
    // subscribing works only for an address that is not suppressed (the contacts service refuses otherwise).
    app.post('/t/p/*', routeOpts, async (req, reply) => {
      const p = verifyToken(key, req.params['*'], 'preferences');
      const k = p ? ledgerKey(p.campaignId, p.contactId) : null;
      if (!p || !k) return notFound(req, reply);
      const before = await choices(k.contactId);
      if (before.email === null)
        return html(
          reply,
          preferencesPage({ ...before, notice: 'Nothing to change: this address is not on our lists.' }),
        );
      const form = (req.body ?? {}) as Record<string, string>;
      const kr = await vault.keyring();
      const actor = publicActor(req, 'preference page');
      let changed = 0;
      let refused = false;
      for (const choice of before.purposes) {
        const wanted = form[`purpose:${choice.purpose}`] as ConsentState | undefined;
        if (wanted !== 'subscribed' && wanted !== 'unsubscribed') continue;
        const now = choice.state === 'pending' ? 'subscribed' : (choice.state ?? 'unsubscribed');
        if (wanted === now) continue;
        if (wanted === 'unsubscribed' && choice.purpose === MARKETING_PURPOSE) {
          await optOut(db, kr, actor, {
            campaignId: k.campaignId,
            contactId: k.contactId,
            reason: 'unsubscribed',
            source: 'preference_page',
          });
        } else if (wanted === 'subscribed' && before.suppressed) {
          refused = true;
          continue;
        } else {
          try {
            await setConsent(db, kr, actor, k.contactId, {
              purpose: choice.purpose,
              state: wanted,
              source: 'preference_page',
              evidence: { ...requestMeta(req), campaignId: k.campaignId },
            });
          } catch (err) {
            // the contacts service refuses to subscribe a suppressed address (409)
            if (!(err instanceof Problem)) throw err;
            refused = true;
            continue;
          }
        }
        changed++;
      }
      const notice = refused
        ? 'This address is on our do-not-mail list and cannot be subscribed from here.'
        : changed
          ? 'Your preferences are saved.'
          : 'Nothing changed.';
      return html(reply, preferencesPage({ ...(await choices(k.contactId)), notice }));
    });
  });
}
