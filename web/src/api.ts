// Thin typed client for the mailwarden JSON API (same origin, cookie session).

export interface FieldError {
  path: string;
  message: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code?: string;
  errors?: FieldError[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly code?: string;
  readonly errors: FieldError[];

  constructor(problem: Problem) {
    super(problem.detail || problem.title || `Request failed (${problem.status})`);
    this.name = 'ApiError';
    this.status = problem.status;
    this.code = problem.code;
    this.errors = problem.errors ?? [];
  }

  /** Message for a form field; matches `email`, `body.email`, `/email`, `body/email`. */
  field(name: string): string | undefined {
    for (const e of this.errors) {
      const parts = String(e.path ?? '')
        .split(/[./,[\]]/)
        .filter(Boolean);
      // Errors on list items (`allowedIps.0`) belong to the list field.
      while (parts.length > 1 && /^\d+$/.test(parts[parts.length - 1])) parts.pop();
      if (parts.length > 0 && parts[parts.length - 1] === name) return `${e.message}${itemSuffix(e.path)}`;
    }
    return undefined;
  }
}

function itemSuffix(path: string): string {
  const m = /[./[](\d+)\]?$/.exec(String(path ?? ''));
  return m ? ` (item ${Number(m[1]) + 1})` : '';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return 'Something went wrong';
}

/** Field error helper usable with a nullable mutation error. */
export function fieldError(err: unknown, name: string): string | undefined {
  return err instanceof ApiError ? err.field(name) : undefined;
}

export function isStatus(err: unknown, status: number): boolean {
  return err instanceof ApiError && err.status === status;
}

function readCookie(name: string): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';

let unauthorizedHandler: (() => void) | undefined;
/** Called when an API call (other than auth/me probes) answers 401: the session has ended. */
export function onUnauthorized(fn: () => void): void {
  unauthorizedHandler = fn;
}

export async function request<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json, application/problem+json' };
  const init: RequestInit = { method, headers, credentials: 'same-origin' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body ?? {});
    const csrf = readCookie('mw_csrf');
    if (csrf) headers['X-CSRF-Token'] = csrf;
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError({
      status: 0,
      title: 'Network error',
      detail: 'Cannot reach the server. Check your connection.',
    });
  }
  const text = await res.text();
  let data: unknown;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!res.ok) {
    const p = (data && typeof data === 'object' ? data : {}) as Partial<Problem>;
    const err = new ApiError({ ...p, status: res.status, detail: p.detail || p.title || res.statusText });
    if (res.status === 401 && !path.startsWith('/api/auth/') && path !== '/api/me') unauthorizedHandler?.();
    throw err;
  }
  return data as T;
}

const enc = encodeURIComponent;

// ---------- types ----------

export type Role = 'owner' | 'admin' | 'security_analyst' | 'marketer' | 'sales_rep' | 'auditor';

export const ROLES: { value: Role; label: string }[] = [
  { value: 'owner', label: 'Owner' },
  { value: 'admin', label: 'Admin' },
  { value: 'security_analyst', label: 'Security analyst' },
  { value: 'marketer', label: 'Marketer' },
  { value: 'sales_rep', label: 'Sales rep' },
  { value: 'auditor', label: 'Auditor' },
];

export function roleLabel(role: string): string {
  return ROLES.find((r) => r.value === role)?.label ?? role;
}

export interface Me {
  id: string | number;
  email: string;
  name: string;
  role: Role;
  totpEnabled: boolean;
  mustEnrol2fa: boolean;
  permissions: string[];
}

export interface UserSummary {
  id: string | number;
  email: string;
  name: string;
  role: Role;
}

export type LoginStatus = 'ok' | 'totp_required' | 'enrol_required';

export interface Session {
  id: string | number;
  createdAt: string;
  lastSeenAt: string | null;
  ip: string | null;
  userAgent: string | null;
  current: boolean;
}

export interface User {
  id: string | number;
  email: string;
  name: string;
  role: Role;
  totpEnabled: boolean;
  lockedUntil: string | null;
  disabled: boolean;
  lastLoginAt: string | null;
  createdAt: string;
}

export interface Settings {
  require2fa: boolean;
  sessionIdleMinutes: number;
  sessionAbsoluteHours: number;
}

export interface ApiScope {
  scope: string;
  description: string;
}

export interface ApiKey {
  id: string | number;
  name: string;
  prefix: string;
  scopes: string[];
  expiresAt: string | null;
  allowedIps: string[] | null;
  lastUsedAt: string | null;
  lastUsedIp: string | null;
  revokedAt: string | null;
  createdAt: string;
  createdBy: string | number | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  actorType: string;
  actorId: string | number | null;
  actorLabel: string | null;
  action: string;
  target: string | null;
  outcome: string;
  ip: string | null;
  userAgent: string | null;
  details: unknown;
}

export interface AuditFilters {
  actor?: string;
  action?: string;
  from?: string;
  to?: string;
  outcome?: string;
}

export interface AuditVerify {
  ok: boolean;
  checked: number;
  brokenAt?: { id: number; reason: string };
}

function auditQuery(f: AuditFilters, extra: Record<string, string | number | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...f, ...extra })) {
    if (v !== undefined && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// ---------- endpoints ----------

export const api = {
  setupStatus: () => request<{ needsSetup: boolean }>('GET', '/api/setup/status'),
  setup: (body: { email: string; name: string; password: string }) =>
    request<{ status: 'ok'; user: UserSummary }>('POST', '/api/setup', body),

  login: (body: { email: string; password: string }) =>
    request<{ status: LoginStatus; user?: UserSummary }>('POST', '/api/auth/login', body),
  totp: (body: { code: string } | { recoveryCode: string }) =>
    request<{ status: 'ok'; user: UserSummary }>('POST', '/api/auth/totp', body),
  logout: () => request<unknown>('POST', '/api/auth/logout'),

  /** Current user, or null when not signed in. */
  me: async (): Promise<Me | null> => {
    try {
      return await request<Me>('GET', '/api/me');
    } catch (err) {
      if (isStatus(err, 401)) return null;
      throw err;
    }
  },
  enrol2fa: () =>
    request<{ secret: string; otpauthUrl: string; qrDataUrl: string }>('POST', '/api/me/2fa/enrol'),
  confirm2fa: (code: string) => request<{ recoveryCodes: string[] }>('POST', '/api/me/2fa/confirm', { code }),
  regenerateRecoveryCodes: (code: string) =>
    request<{ recoveryCodes: string[] }>('POST', '/api/me/2fa/recovery-codes', { code }),
  disable2fa: (body: { password: string; code: string }) =>
    request<unknown>('POST', '/api/me/2fa/disable', body),
  changePassword: (body: { currentPassword: string; newPassword: string }) =>
    request<unknown>('POST', '/api/me/password', body),
  sessions: () => request<Session[]>('GET', '/api/me/sessions'),
  revokeSession: (id: Session['id']) => request<unknown>('DELETE', `/api/me/sessions/${enc(String(id))}`),
  revokeOtherSessions: () => request<unknown>('POST', '/api/me/sessions/revoke-others'),

  users: () => request<User[]>('GET', '/api/users'),
  createUser: (body: { email: string; name: string; role: Role; password: string }) =>
    request<User>('POST', '/api/users', body),
  updateUser: (id: User['id'], body: { name?: string; role?: Role; disabled?: boolean }) =>
    request<User>('PATCH', `/api/users/${enc(String(id))}`, body),
  unlockUser: (id: User['id']) => request<unknown>('POST', `/api/users/${enc(String(id))}/unlock`),
  reset2fa: (id: User['id']) => request<unknown>('POST', `/api/users/${enc(String(id))}/reset-2fa`),
  revokeUserSessions: (id: User['id']) =>
    request<unknown>('POST', `/api/users/${enc(String(id))}/revoke-sessions`),

  settings: () => request<Settings>('GET', '/api/settings'),
  updateSettings: (body: Partial<Settings>) => request<Settings>('PATCH', '/api/settings', body),

  apiKeyScopes: () => request<ApiScope[]>('GET', '/api/api-keys/scopes'),
  apiKeys: () => request<ApiKey[]>('GET', '/api/api-keys'),
  createApiKey: (body: { name: string; scopes: string[]; expiresAt: string | null; allowedIps: string[] }) =>
    request<{ apiKey: ApiKey; secret: string }>('POST', '/api/api-keys', body),
  revokeApiKey: (id: ApiKey['id']) => request<unknown>('DELETE', `/api/api-keys/${enc(String(id))}`),

  audit: (f: AuditFilters, before?: number, limit = 50) =>
    request<{ items: AuditEntry[]; nextBefore: number | null }>(
      'GET',
      `/api/audit${auditQuery(f, { limit, before })}`,
    ),
  auditExportUrl: (f: AuditFilters, format: 'csv' | 'json') =>
    `/api/audit/export${auditQuery(f, { format })}`,
  auditVerify: () => request<AuditVerify>('GET', '/api/audit/verify'),
};
