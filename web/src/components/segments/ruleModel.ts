// The segment rule tree on the client (mirrors src/segments/rules.ts; the
// server validates every rule, so this file only has to build well-formed
// ones): the choices each condition offers and a sensible new condition per kind.

export type Group = { kind: 'and' | 'or'; rules: Rule[] };
export type Not = { kind: 'not'; rule: Rule };
// Leaves are kept loose (records) so that a rule pasted into the JSON view with
// fields this builder does not know survives a round trip untouched.
export type Leaf = { kind: LeafKind; [k: string]: unknown };
export type Rule = Group | Not | Leaf;

export type BuilderOptions = {
  attributes: { key: string; label: string; type: string; options: string[] }[];
  tags: string[];
  lists: { id: number; name: string }[];
  campaigns: { id: number; name: string }[];
  purposes: string[];
};

export const leafKinds = [
  'attribute',
  'field',
  'company',
  'tag',
  'list',
  'owner',
  'consent',
  'email_domain',
  'engagement',
] as const;
export type LeafKind = (typeof leafKinds)[number];

export const kindLabels: Record<LeafKind, string> = {
  attribute: 'Attribute',
  field: 'Contact field',
  company: 'Company',
  tag: 'Tags',
  list: 'List',
  owner: 'Owner',
  consent: 'Consent',
  email_domain: 'Email domain',
  engagement: 'Engagement',
};

export const opLabels: Record<string, string> = {
  equals: 'equals',
  not_equals: 'does not equal',
  in: 'is one of',
  not_in: 'is none of',
  contains: 'contains',
  starts_with: 'starts with',
  gt: '>',
  gte: '≥',
  lt: '<',
  lte: '≤',
  between: 'between',
  before: 'before',
  after: 'after',
  within_last_days: 'within the last … days',
  is_set: 'is set',
  is_unset: 'is not set',
  has_any: 'has any of',
  has_all: 'has all of',
  has_none: 'has none of',
  member: 'is a member of',
  not_member: 'is not a member of',
  is: 'is one of (user ids)',
  is_not: 'is none of (user ids)',
};

/** Operators by value type (the server enforces the same table). */
export const opsByType: Record<string, string[]> = {
  text: ['equals', 'not_equals', 'in', 'not_in', 'contains', 'starts_with', 'is_set', 'is_unset'],
  enum: ['equals', 'not_equals', 'in', 'not_in', 'is_set', 'is_unset'],
  number: ['equals', 'not_equals', 'in', 'not_in', 'gt', 'gte', 'lt', 'lte', 'between', 'is_set', 'is_unset'],
  date: ['before', 'after', 'within_last_days', 'is_set', 'is_unset'],
  boolean: ['equals', 'not_equals', 'is_set', 'is_unset'],
  timestamp: ['before', 'after', 'within_last_days', 'is_set', 'is_unset'],
  // Company attributes have no definitions: text and number operators.
  any: [
    'equals',
    'not_equals',
    'in',
    'not_in',
    'contains',
    'starts_with',
    'gt',
    'gte',
    'lt',
    'lte',
    'between',
    'is_set',
    'is_unset',
  ],
};

export const contactFields: { value: string; label: string; type: string }[] = [
  { value: 'job_title', label: 'Job title', type: 'text' },
  { value: 'country', label: 'Country', type: 'text' },
  { value: 'time_zone', label: 'Time zone', type: 'text' },
  { value: 'created_at', label: 'Created', type: 'timestamp' },
];

export const engagementEvents = ['received', 'opened', 'clicked', 'bounced'] as const;
export const consentStates = ['subscribed', 'pending', 'unsubscribed', 'none'] as const;

export const isGroup = (r: Rule): r is Group => r.kind === 'and' || r.kind === 'or';
export const isNot = (r: Rule): r is Not => r.kind === 'not';

/** The value type a typed-operator leaf compares against. */
export function leafType(leaf: Leaf, opts: BuilderOptions): string {
  if (leaf.kind === 'attribute') return opts.attributes.find((a) => a.key === leaf.key)?.type ?? 'text';
  if (leaf.kind === 'field') return contactFields.find((f) => f.value === leaf.field)?.type ?? 'text';
  if (leaf.kind === 'company') return String(leaf.property ?? '').startsWith('attributes.') ? 'any' : 'text';
  return 'text';
}

const today = () => new Date().toISOString().slice(0, 10);

/** Operator fields for `op` on a value of `type`, keeping what still fits from the previous leaf. */
export function withOperator(leaf: Leaf, op: string, type: string): Leaf {
  const { value, values, min, max, days, ...rest } = leaf;
  const base = { ...rest, op } as Leaf;
  const numeric = type === 'number';
  const scalar = numeric
    ? typeof value === 'number'
      ? value
      : 0
    : type === 'boolean'
      ? typeof value === 'boolean'
        ? value
        : true
      : typeof value === 'string'
        ? value
        : '';
  switch (op) {
    case 'in':
    case 'not_in':
      return {
        ...base,
        values: Array.isArray(values) && values.length ? values : scalar !== '' ? [scalar] : [],
      };
    case 'between':
      return { ...base, min: typeof min === 'number' ? min : 0, max: typeof max === 'number' ? max : 100 };
    case 'within_last_days':
      return { ...base, days: typeof days === 'number' ? days : 30 };
    case 'before':
    case 'after':
      return {
        ...base,
        value: typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? value : today(),
      };
    case 'is_set':
    case 'is_unset':
      return base;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return { ...base, value: typeof value === 'number' ? value : 0 };
    default:
      return { ...base, value: scalar };
  }
}

/** A new condition of a kind, valid as it stands where the workspace allows. */
export function newLeaf(kind: LeafKind, opts: BuilderOptions): Leaf {
  switch (kind) {
    case 'attribute': {
      const a = opts.attributes[0];
      const type = a?.type ?? 'text';
      return withOperator({ kind, key: a?.key ?? '' }, opsByType[type][0], type);
    }
    case 'field':
      return { kind, field: 'country', op: 'equals', value: '' };
    case 'company':
      return { kind, property: 'name', op: 'equals', value: '' };
    case 'tag':
      return { kind, op: 'has_any', tags: opts.tags.slice(0, 1) };
    case 'list':
      return { kind, op: 'member', listId: opts.lists[0]?.id ?? 0 };
    case 'owner':
      return { kind, op: 'is_set' };
    case 'consent':
      return { kind, purpose: 'marketing_email', state: 'subscribed' };
    case 'email_domain':
      return { kind, op: 'equals', domain: '' };
    case 'engagement':
      return { kind, event: 'opened', withinDays: 30, count: { op: 'at_least', n: 1 } };
  }
}

/** Number of conditions (leaves) in a tree. */
export function countLeaves(r: Rule): number {
  if (isGroup(r)) return r.rules.reduce((n, x) => n + countLeaves(x), 0);
  if (isNot(r)) return countLeaves(r.rule);
  return 1;
}

/** A parsed JSON value the builder can show (an object with a known kind); anything else stays in the JSON view. */
export function asRule(v: unknown): Rule | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const r = v as { kind?: unknown; rules?: unknown; rule?: unknown };
  if (r.kind === 'and' || r.kind === 'or')
    return Array.isArray(r.rules) && r.rules.every((x) => asRule(x)) ? (v as Rule) : undefined;
  if (r.kind === 'not') return asRule(r.rule) ? (v as Rule) : undefined;
  return leafKinds.includes(r.kind as LeafKind) ? (v as Rule) : undefined;
}
