// Client for the contacts vault API (contacts, companies, lists, attributes, imports, exports, privacy).
import { ApiError, request } from './api.ts';

export interface Contact {
  id: string;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  notes: string | null;
  attributes: Record<string, string | number | boolean | null>;
  maskedFields: string[];
  jobTitle: string | null;
  country: string | null;
  timeZone: string | null;
  companyId: number | null;
  ownerUserId: number | null;
  tags: string[];
  suppressed: boolean;
  createdAt: string;
}
export interface ContactDetail extends Contact {
  lists: { id: number; name: string }[];
  consents: { id: string; purpose: string; state: string; source: string; at: string }[];
}
export interface Activity {
  id: string;
  kind: string;
  body: string | null;
  details: Record<string, unknown>;
  actorLabel: string | null;
  at: string;
}
export interface Company {
  id: number;
  name: string;
  domain: string | null;
}
export interface ContactList {
  id: number;
  name: string;
  description: string | null;
  members: number;
}
export interface AttributeDef {
  key: string;
  label: string;
  type: 'text' | 'number' | 'date' | 'boolean' | 'enum';
  options: string[];
  sensitive: boolean;
}
export interface ImportRecord {
  id: string;
  state: string;
  filename: string;
  rowsDone: number;
  inserted: number;
  updated: number;
  skipped: number;
  failed: number;
  suppressed: number;
  error: string | null;
}
export interface Filters {
  email?: string;
  phone?: string;
  tag?: string;
  listId?: string;
  ownerUserId?: string;
  attribute?: string;
}

const qs = (o: object) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
};

function csrf(): string {
  const m = /(?:^|; )mw_csrf=([^;]*)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]) : '';
}

async function download(path: string, body: unknown, fallbackName: string): Promise<void> {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf() },
    body: JSON.stringify(body),
  });
  if (!res.ok) {
    const p = await res.json().catch(() => ({}));
    throw new ApiError({ ...p, status: res.status });
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  URL.revokeObjectURL(url);
}

export const contactsApi = {
  list: (f: Filters, before?: string) => request<{ items: Contact[]; nextBefore: string | null }>('GET', `/api/contacts${qs({ ...f, before })}`),
  get: (id: string) => request<ContactDetail>('GET', `/api/contacts/${id}`),
  create: (body: Partial<Contact>) => request<Contact>('POST', '/api/contacts', body),
  activities: (id: string) => request<Activity[]>('GET', `/api/contacts/${id}/activities`),
  addActivity: (id: string, kind: 'note' | 'call', body: string) => request('POST', `/api/contacts/${id}/activities`, { kind, body }),
  privacyExport: (id: string, reason: string) => download(`/api/contacts/${id}/privacy-export`, { reason }, `contact-${id}.json`),
  erase: (id: string, reason: string) => request('POST', `/api/contacts/${id}/erase`, { reason }),
  exportContacts: (body: { format: 'csv' | 'jsonl'; fields: string[]; reason: string; filter: Filters }) =>
    download('/api/contacts/exports', { ...body, filter: { ...body.filter, listId: body.filter.listId ? Number(body.filter.listId) : undefined } }, `contacts.${body.format}`),
  companies: () => request<Company[]>('GET', '/api/companies'),
  createCompany: (name: string, domain: string) => request('POST', '/api/companies', { name, domain: domain || null }),
  lists: () => request<ContactList[]>('GET', '/api/lists'),
  createList: (name: string) => request('POST', '/api/lists', { name }),
  attributes: () => request<AttributeDef[]>('GET', '/api/contact-attributes'),
  createAttribute: (a: Omit<AttributeDef, 'options'> & { options?: string[] }) => request('POST', '/api/contact-attributes', a),
  createImport: (body: { filename: string; format: 'csv' | 'jsonl'; mapping: Record<string, string>; list?: string; onDuplicate: 'update' | 'skip' }) =>
    request<ImportRecord>('POST', '/api/contacts/imports', body),
  preview: (body: { format: 'csv' | 'jsonl'; sample: string; mapping: Record<string, string> }) =>
    request<{ ok: boolean; error?: string; good: Record<string, unknown>[]; bad: { line: number; reason: string }[] }>('POST', '/api/contacts/imports/preview', body),
  importStatus: (id: string) => request<ImportRecord>('GET', `/api/contacts/imports/${id}`),
  uploadImport: async (id: string, file: File, format: 'csv' | 'jsonl') => {
    const res = await fetch(`/api/contacts/imports/${id}/file`, {
      method: 'PUT',
      credentials: 'same-origin',
      headers: { 'Content-Type': format === 'csv' ? 'text/csv' : 'application/x-ndjson', 'X-CSRF-Token': csrf() },
      body: file,
    });
    if (!res.ok) throw new ApiError({ ...(await res.json().catch(() => ({}))), status: res.status });
    return (await res.json()) as ImportRecord;
  },
  keys: () =>
    request<{ keys: { purpose: string; version: number; state: string }[]; rotation: { state: string; done: number; total: number; fromVersion: number; toVersion: number } | null }>(
      'GET',
      '/api/keys',
    ),
};
