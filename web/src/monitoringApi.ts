// Typed client for the monitoring API (alerts, activity explorer, detectors).
import { request } from './api.ts';

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export type AlertState = 'open' | 'acknowledged' | 'resolved' | 'false_positive';
export const SEVERITIES: Severity[] = ['low', 'medium', 'high', 'critical'];
export const ALERT_STATES: { value: AlertState; label: string }[] = [
  { value: 'open', label: 'Open' },
  { value: 'acknowledged', label: 'Acknowledged' },
  { value: 'resolved', label: 'Resolved' },
  { value: 'false_positive', label: 'False positive' },
];
export const RESPONSE_ACTIONS = [
  { value: 'lock_account', label: 'Lock the account' },
  { value: 'revoke_sessions', label: 'Revoke its sessions' },
  { value: 'revoke_api_key', label: 'Revoke the API key' },
  { value: 'pause_campaigns', label: "Pause the user's campaigns" },
  { value: 'require_2fa_reenrol', label: 'Require 2FA re-enrolment' },
];

export interface SecurityEvent {
  id: number;
  at: string;
  type: string;
  source: string;
  actorType: string | null;
  actor: string | null;
  target: string | null;
  outcome: string | null;
  ip: string | null;
  userAgent: string | null;
  country: string | null;
  city: string | null;
  asn: number | null;
  size: number | null;
  count: number | null;
  details: Record<string, unknown>;
}

export interface MonitoringAlert {
  id: number;
  detector: string;
  severity: Severity;
  entityType: string;
  entity: string;
  title: string;
  state: AlertState;
  firstSeen: string;
  lastSeen: string;
  eventCount: number;
  evidence: number[];
  details: Record<string, unknown>;
  notes: { at: string; by: string; text: string }[];
}

export interface AlertResponse {
  id: number;
  action: string;
  target: string;
  automatic: number;
  state: 'applied' | 'reverted' | 'failed' | 'noop';
  result: string | null;
  appliedBy: string;
  appliedAt: string;
  revertedBy: string | null;
  revertedAt: string | null;
}

export interface DetectorInfo {
  id: string;
  title: string;
  logic: string;
  limits: string;
  types: string[];
  defaultSeverity: Severity;
  defaultParams: Record<string, number>;
  suggestedResponses: string[];
}

export interface MonitoringSettings {
  detectors: Record<string, { enabled: boolean; severity: Severity; params: Record<string, number>; responses: string[] }>;
  workingHours: { timezone: string; start: number; end: number; days: number[] };
  notify: { email: { recipients: string[]; minSeverity: Severity }; webhooks: { url: string; secret: string; minSeverity: Severity }[] };
  retentionDays: number;
  groupWindowMinutes: number;
}

export type AlertFilters = { state?: AlertState[]; severity?: Severity[]; detector?: string; entity?: string };
export type EventFilters = { user?: string; ip?: string; country?: string; type?: string; from?: string; to?: string };
type Page<T> = { items: T[]; nextBefore: number | null };

function qs(params: Record<string, string | number | string[] | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const monitoringApi = {
  alerts: (f: AlertFilters, before?: number) => request<Page<MonitoringAlert>>('GET', `/api/monitoring/alerts${qs({ ...f, before })}`),
  trend: (days = 30) => request<{ day: string; severity: Severity; n: number }[]>('GET', `/api/monitoring/alerts/trend?days=${days}`),
  alert: (id: number) => request<{ alert: MonitoringAlert; evidence: SecurityEvent[]; responses: AlertResponse[] }>('GET', `/api/monitoring/alerts/${id}`),
  updateAlert: (id: number, body: { state?: AlertState; note?: string }) => request<MonitoringAlert>('PATCH', `/api/monitoring/alerts/${id}`, body),
  respond: (id: number, action: string) => request<AlertResponse>('POST', `/api/monitoring/alerts/${id}/responses`, { action }),
  revert: (responseId: number) => request<AlertResponse>('POST', `/api/monitoring/responses/${responseId}/revert`),
  events: (f: EventFilters, before?: number) => request<Page<SecurityEvent>>('GET', `/api/monitoring/events${qs({ ...f, before })}`),
  detectors: () => request<DetectorInfo[]>('GET', '/api/monitoring/detectors'),
  settings: () => request<MonitoringSettings>('GET', '/api/monitoring/settings'),
  saveSettings: (patch: Partial<MonitoringSettings>) => request<MonitoringSettings>('PATCH', '/api/monitoring/settings', patch),
};
