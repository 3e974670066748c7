// Per-workspace monitoring settings: detectors (on/off, severity, parameters,
// opt-in automatic responses), working hours, notifications, retention.
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Tx } from '../db/client.ts';
import { detectors } from './detectors/index.ts';
import type { Params, WorkingHours } from './detectors/types.ts';
import { monitoringSettings, type ResponseAction, responseActions, type Severity, severities } from './schema.ts';

export type DetectorSettings = { enabled: boolean; severity: Severity; params: Params; responses: ResponseAction[] };
export type WebhookTarget = { url: string; secret: string; minSeverity: Severity };
export type MonitoringConfig = {
  detectors: Record<string, DetectorSettings>;
  workingHours: WorkingHours;
  notify: { email: { recipients: string[]; minSeverity: Severity }; webhooks: WebhookTarget[] };
  retentionDays: number;
  /** Detections for the same detector and entity within this long of the alert's last event join it. */
  groupWindowMinutes: number;
};

const WORKSPACE_ID = 1;

export function defaultConfig(): MonitoringConfig {
  return {
    detectors: Object.fromEntries(detectors.map((d) => [d.id, { enabled: true, severity: d.severity, params: { ...d.params }, responses: [] }])),
    workingHours: { timezone: 'UTC', start: 7, end: 20, days: [1, 2, 3, 4, 5] },
    notify: { email: { recipients: [], minSeverity: 'high' }, webhooks: [] },
    retentionDays: 180,
    groupWindowMinutes: 60,
  };
}

const severity = z.enum(severities);
export const configPatch = z
  .object({
    detectors: z.record(
      z.string(),
      z
        .object({
          enabled: z.boolean(),
          severity,
          params: z.record(z.string(), z.number().min(0)),
          responses: z.array(z.enum(responseActions)),
        })
        .partial(),
    ),
    workingHours: z
      .object({
        timezone: z.string().refine((tz) => {
          try {
            new Intl.DateTimeFormat('en', { timeZone: tz });
            return true;
          } catch {
            return false;
          }
        }, 'is not a known time zone'),
        start: z.number().min(0).max(24),
        end: z.number().min(0).max(24),
        days: z.array(z.number().int().min(1).max(7)),
      })
      .partial(),
    notify: z
      .object({
        email: z.object({ recipients: z.array(z.email()).max(50), minSeverity: severity }).partial(),
        webhooks: z.array(z.object({ url: z.url({ protocol: /^https?$/ }), secret: z.union([z.string().min(16).max(200), z.literal('••••')]), minSeverity: severity })).max(10),
      })
      .partial(),
    retentionDays: z.number().int().min(1).max(3650),
    groupWindowMinutes: z.number().int().min(1).max(7 * 24 * 60),
  })
  .partial();
export type ConfigPatch = z.infer<typeof configPatch>;

/** Stored overrides merged over the defaults (unknown detectors and params are dropped). */
export function mergeConfig(stored: Partial<MonitoringConfig> | ConfigPatch | undefined, base = defaultConfig()): MonitoringConfig {
  const out: MonitoringConfig = structuredClone(base);
  if (!stored) return out;
  for (const [id, d] of Object.entries(stored.detectors ?? {})) {
    const cur = out.detectors[id];
    if (!cur || !d) continue;
    if (d.enabled !== undefined) cur.enabled = d.enabled;
    if (d.severity) cur.severity = d.severity;
    if (d.responses) cur.responses = [...d.responses];
    for (const [k, v] of Object.entries(d.params ?? {})) if (k in cur.params && typeof v === 'number') cur.params[k] = v;
  }
  if (stored.workingHours) out.workingHours = { ...out.workingHours, ...stored.workingHours } as WorkingHours;
  if (stored.notify?.email) out.notify.email = { ...out.notify.email, ...stored.notify.email } as MonitoringConfig['notify']['email'];
  if (stored.notify?.webhooks) out.notify.webhooks = stored.notify.webhooks as WebhookTarget[];
  if (stored.retentionDays) out.retentionDays = stored.retentionDays;
  if (stored.groupWindowMinutes) out.groupWindowMinutes = stored.groupWindowMinutes;
  return out;
}

export async function loadConfig(db: Tx): Promise<MonitoringConfig> {
  const [row] = await db.select().from(monitoringSettings).where(eq(monitoringSettings.workspaceId, WORKSPACE_ID));
  return mergeConfig(row?.config as Partial<MonitoringConfig> | undefined);
}

export async function saveConfig(db: Tx, patch: ConfigPatch): Promise<MonitoringConfig> {
  const next = mergeConfig(patch, await loadConfig(db));
  await db
    .insert(monitoringSettings)
    .values({ workspaceId: WORKSPACE_ID, config: next as unknown as Record<string, unknown> })
    .onConflictDoUpdate({ target: monitoringSettings.workspaceId, set: { config: next as unknown as Record<string, unknown>, updatedAt: new Date() } });
  return next;
}

/** The config as shown to users: webhook secrets are never sent back. */
export function redactConfig(c: MonitoringConfig) {
  return { ...c, notify: { ...c.notify, webhooks: c.notify.webhooks.map((w) => ({ url: w.url, minSeverity: w.minSeverity, secret: '••••' })) } };
}
