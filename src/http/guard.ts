// Every route declares who may call it in `config.guard`:
//   'public'     — no authentication, by design (health, setup, sign-in, tracking, unsubscribe…)
//   'pending'    — a signed-in user whose sign-in is not complete (must enrol 2FA) or complete
//   'signed-in'  — any fully signed-in user (their own account pages)
//   a Permission — a fully signed-in user whose role has it, or an API key with that scope
// A route without a guard is refused at start-up (see assertEveryRouteGuarded).
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { Permission } from '../auth/permissions.ts';

export type Guard = 'public' | 'pending' | 'signed-in' | Permission;

declare module 'fastify' {
  interface FastifyContextConfig {
    guard?: Guard;
  }
}

export type RouteRecord = { method: string; url: string; guard: Guard | undefined };

/** Collect every route as it is registered (for the start-up check and the route test). */
export function trackRoutes(app: FastifyInstance): { routes: RouteRecord[]; publicWhile: (fn: () => Promise<unknown>) => Promise<void> } {
  const routes: RouteRecord[] = [];
  let markPublic = false;
  app.addHook('onRoute', (route: RouteOptions) => {
    // Routes added by third-party plugins that are public by design (the console's
    // static files, the API docs) are marked while those plugins register.
    if (markPublic && !(route.config as { guard?: Guard } | undefined)?.guard)
      route.config = { ...(route.config as object), guard: 'public' } as RouteOptions['config'];
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      routes.push({ method, url: route.url, guard: (route.config as { guard?: Guard } | undefined)?.guard });
    }
  });
  const publicWhile = async (fn: () => Promise<unknown>) => {
    markPublic = true;
    try {
      await fn();
    } finally {
      markPublic = false;
    }
  };
  return { routes, publicWhile };
}

export function unguardedRoutes(routes: RouteRecord[]): RouteRecord[] {
  return routes.filter((r) => r.guard === undefined);
}
