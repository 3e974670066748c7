// Workspace settings with defaults; cached briefly because every request's
// session check reads the timeouts.
import { eq } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { type WorkspaceSettings, workspaces } from './schema.ts';

export const defaultSettings: WorkspaceSettings = {
  require2fa: false,
  sessionIdleMinutes: 30,
  sessionAbsoluteHours: 12,
};

const WORKSPACE_ID = 1;
const CACHE_MS = 5_000;
let cache: { at: number; db: Tx; value: WorkspaceSettings } | undefined;

export async function getSettings(db: Tx): Promise<WorkspaceSettings> {
  if (cache && cache.db === db && Date.now() - cache.at < CACHE_MS) return cache.value;
  const [row] = await db.select().from(workspaces).where(eq(workspaces.id, WORKSPACE_ID));
  const value = { ...defaultSettings, ...(row?.settings ?? {}) };
  cache = { at: Date.now(), db, value };
  return value;
}

export async function updateSettings(db: Tx, patch: Partial<WorkspaceSettings>): Promise<{ before: WorkspaceSettings; after: WorkspaceSettings }> {
  const before = await getSettings(db);
  const after = { ...before, ...patch };
  await db
    .insert(workspaces)
    .values({ id: WORKSPACE_ID, name: 'Default workspace', settings: after })
    .onConflictDoUpdate({ target: workspaces.id, set: { settings: after } });
  cache = undefined;
  return { before, after };
}
