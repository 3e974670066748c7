// The segment rule tree: validated JSON (zod) that compile.ts turns into ONE
// parameterised SQL statement. Every leaf names what it reads explicitly, so
// the compiler never has to guess a type or interpolate a name.
//
//   group      { kind: 'and' | 'or', rules: [...] } / { kind: 'not', rule }
//   attribute  plaintext custom attribute (contacts.attributes JSONB) with a typed operator
//   field      a plaintext contact column (job title, country, time zone, created at)
//   tag        tags: has any / has all / has none
//   list       list membership
//   owner      owning user (or none)
//   company    company name / domain / plaintext company attribute
//   consent    current consent state for a purpose
//   email_domain  the address's domain, through its blind index (equality only)
//   engagement received / opened / clicked / bounced one campaign or any, with counts and windows
import { domainToASCII } from 'node:url';
import { z } from 'zod';

export const MAX_DEPTH = 6;
export const MAX_LEAVES = 100;

const key = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, 'must be an attribute key (letters, digits, _ . -)');
const scalar = z.union([z.string().max(1000), z.number().finite(), z.boolean()]);
const isoDate = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/,
    'must be an ISO date (YYYY-MM-DD)',
  )
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be a valid date');
const days = z.number().int().min(1).max(3650);

/** Typed operators shared by attributes, fields and company attributes. */
export const operator = z.discriminatedUnion('op', [
  z.object({ op: z.literal('equals'), value: scalar }),
  z.object({ op: z.literal('not_equals'), value: scalar }),
  z.object({
    op: z.literal('in'),
    values: z
      .array(z.union([z.string().max(1000), z.number().finite()]))
      .min(1)
      .max(1000),
  }),
  z.object({
    op: z.literal('not_in'),
    values: z
      .array(z.union([z.string().max(1000), z.number().finite()]))
      .min(1)
      .max(1000),
  }),
  z.object({ op: z.literal('contains'), value: z.string().min(1).max(1000) }),
  z.object({ op: z.literal('starts_with'), value: z.string().min(1).max(1000) }),
  z.object({ op: z.literal('gt'), value: z.number().finite() }),
  z.object({ op: z.literal('gte'), value: z.number().finite() }),
  z.object({ op: z.literal('lt'), value: z.number().finite() }),
  z.object({ op: z.literal('lte'), value: z.number().finite() }),
  z
    .object({ op: z.literal('between'), min: z.number().finite(), max: z.number().finite() })
    .refine((o) => o.min <= o.max, { message: 'min must not exceed max', path: ['max'] }),
  z.object({ op: z.literal('before'), value: isoDate }),
  z.object({ op: z.literal('after'), value: isoDate }),
  z.object({ op: z.literal('within_last_days'), days }),
  z.object({ op: z.literal('is_set') }),
  z.object({ op: z.literal('is_unset') }),
]);
export type Operator = z.infer<typeof operator>;
export type OperatorName = Operator['op'];

/** Plain contact columns a rule may read (never an encrypted one). */
export const contactFields = ['job_title', 'country', 'time_zone', 'created_at'] as const;
export type ContactField = (typeof contactFields)[number];

export const engagementTypes = ['received', 'opened', 'clicked', 'bounced'] as const;
export type EngagementType = (typeof engagementTypes)[number];

const attributeRule = z.object({ kind: z.literal('attribute'), key }).and(operator);
const fieldRule = z.object({ kind: z.literal('field'), field: z.enum(contactFields) }).and(operator);
const companyRule = z
  .object({
    kind: z.literal('company'),
    /** 'name', 'domain' or `attributes.<key>` (plaintext company attribute). */
    property: z.union([
      z.literal('name'),
      z.literal('domain'),
      z.string().regex(/^attributes\.[A-Za-z][A-Za-z0-9_.-]{0,63}$/),
    ]),
  })
  .and(operator);
const tagRule = z.object({
  kind: z.literal('tag'),
  op: z.enum(['has_any', 'has_all', 'has_none']),
  tags: z.array(z.string().min(1).max(64)).min(1).max(100),
});
const listRule = z.object({
  kind: z.literal('list'),
  op: z.enum(['member', 'not_member']),
  listId: z.number().int().positive(),
});
const ownerRule = z.union([
  z.object({
    kind: z.literal('owner'),
    op: z.enum(['is', 'is_not']),
    userIds: z.array(z.number().int().positive()).min(1).max(1000),
  }),
  z.object({ kind: z.literal('owner'), op: z.enum(['is_set', 'is_unset']) }),
]);
const consentRule = z.object({
  kind: z.literal('consent'),
  purpose: z.string().min(1).max(64).default('marketing_email'),
  /** 'none' = no consent record for the purpose. */
  state: z.enum(['subscribed', 'pending', 'unsubscribed', 'none']),
});
const emailDomainRule = z.object({
  kind: z.literal('email_domain'),
  op: z.enum(['equals', 'not_equals']),
  domain: z
    .string()
    .min(3)
    .max(253)
    .regex(
      /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/,
      'must be a domain name',
    ),
});
const engagementRule = z
  .object({
    kind: z.literal('engagement'),
    event: z.enum(engagementTypes),
    /** One campaign; absent = any campaign. */
    campaignId: z.number().int().positive().optional(),
    /** Among the N most recently launched campaigns only ("2 of the last 5"). */
    lastCampaigns: z.number().int().min(1).max(100).optional(),
    /** Only events in the last N days. */
    withinDays: days.optional(),
    /**
     * How many: distinct campaigns (any campaign) or events (one campaign).
     * Default: at least 1. `at_most 0` = "nothing" ("clicked nothing in 90 days").
     */
    count: z
      .object({ op: z.enum(['at_least', 'at_most', 'exactly']), n: z.number().int().min(0).max(1000) })
      .default({ op: 'at_least', n: 1 }),
  })
  .refine((r) => !(r.campaignId && r.lastCampaigns), {
    message: 'choose one campaign or the last N campaigns, not both',
    path: ['lastCampaigns'],
  })
  .refine((r) => !(r.lastCampaigns && r.count.n > r.lastCampaigns && r.count.op !== 'at_most'), {
    message: 'cannot engage with more campaigns than the last N',
    path: ['count', 'n'],
  });

export type Rule =
  | { kind: 'and'; rules: Rule[] }
  | { kind: 'or'; rules: Rule[] }
  | { kind: 'not'; rule: Rule }
  | z.infer<typeof attributeRule>
  | z.infer<typeof fieldRule>
  | z.infer<typeof companyRule>
  | z.infer<typeof tagRule>
  | z.infer<typeof listRule>
  | z.infer<typeof ownerRule>
  | z.infer<typeof consentRule>
  | z.infer<typeof emailDomainRule>
  | z.infer<typeof engagementRule>;

export type LeafRule = Exclude<Rule, { kind: 'and' | 'or' | 'not' }>;

const leaf = z.union([
  attributeRule,
  fieldRule,
  companyRule,
  tagRule,
  listRule,
  ownerRule,
  consentRule,
  emailDomainRule,
  engagementRule,
]);

export const ruleSchema: z.ZodType<Rule> = z.lazy(() =>
  z.union([
    z.object({ kind: z.literal('and'), rules: z.array(ruleSchema).max(MAX_LEAVES) }),
    z.object({ kind: z.literal('or'), rules: z.array(ruleSchema).min(1).max(MAX_LEAVES) }),
    z.object({ kind: z.literal('not'), rule: ruleSchema }),
    leaf,
  ]),
) as z.ZodType<Rule>;

/** The stored form: the tree, checked for size and depth. An empty AND matches every contact. */
export const segmentRuleSchema = ruleSchema.superRefine((rule, ctx) => {
  let leaves = 0;
  let tooDeep = false;
  walk(rule, (r, depth) => {
    if (depth > MAX_DEPTH) tooDeep = true;
    if (r.kind !== 'and' && r.kind !== 'or' && r.kind !== 'not') leaves++;
  });
  if (tooDeep) ctx.addIssue({ code: 'custom', message: `rules nest deeper than ${MAX_DEPTH} levels` });
  if (leaves > MAX_LEAVES) ctx.addIssue({ code: 'custom', message: `more than ${MAX_LEAVES} conditions` });
});

export function walk(rule: Rule, visit: (r: Rule, depth: number) => void, depth = 1): void {
  visit(rule, depth);
  if (rule.kind === 'and' || rule.kind === 'or') for (const r of rule.rules) walk(r, visit, depth + 1);
  else if (rule.kind === 'not') walk(rule.rule, visit, depth + 1);
}

/** Normalised (lower-case, ASCII) form of a rule's domain, as the blind index was computed. */
export function normaliseDomain(domain: string): string {
  return domainToASCII(domain.toLowerCase()) || domain.toLowerCase();
}

/** Distinct normalised domains named by email_domain conditions anywhere in the tree. */
export function ruleDomains(rule: Rule): string[] {
  const out = new Set<string>();
  walk(rule, (r) => {
    if (r.kind === 'email_domain') out.add(normaliseDomain(r.domain));
  });
  return [...out];
}

/** Parse stored/posted JSON; throws a ZodError naming the path of the first problem. */
export function parseRule(input: unknown): Rule {
  return segmentRuleSchema.parse(input);
}

/** A short human description of a rule tree (lists, review pages, audit details). */
export function describeRule(rule: Rule): string {
  switch (rule.kind) {
    case 'and':
      return rule.rules.length === 0 ? 'every contact' : rule.rules.map((r) => paren(r)).join(' AND ');
    case 'or':
      return rule.rules.map((r) => paren(r)).join(' OR ');
    case 'not':
      return `NOT ${paren(rule.rule)}`;
    case 'attribute':
      return `${rule.key} ${describeOp(rule)}`;
    case 'field':
      return `${rule.field} ${describeOp(rule)}`;
    case 'company':
      return `company.${rule.property} ${describeOp(rule)}`;
    case 'tag':
      return `tags ${rule.op.replace('_', ' ')} [${rule.tags.join(', ')}]`;
    case 'list':
      return `${rule.op === 'member' ? 'in' : 'not in'} list #${rule.listId}`;
    case 'owner':
      return 'userIds' in rule
        ? `owner ${rule.op.replace('_', ' ')} [${rule.userIds.join(', ')}]`
        : `owner ${rule.op.replace('_', ' ')}`;
    case 'consent':
      return `consent ${rule.purpose} is ${rule.state}`;
    case 'email_domain':
      return `email domain ${rule.op === 'equals' ? '=' : '≠'} ${rule.domain}`;
    case 'engagement': {
      const what = rule.campaignId
        ? `campaign #${rule.campaignId}`
        : rule.lastCampaigns
          ? `of the last ${rule.lastCampaigns} campaigns`
          : 'any campaign';
      const win = rule.withinDays ? ` in the last ${rule.withinDays} days` : '';
      return `${rule.event} ${rule.count.op.replace('_', ' ')} ${rule.count.n} ${what}${win}`;
    }
  }
}

function paren(r: Rule): string {
  const s = describeRule(r);
  return r.kind === 'and' || r.kind === 'or' ? `(${s})` : s;
}

function describeOp(o: Operator): string {
  switch (o.op) {
    case 'in':
    case 'not_in':
      return `${o.op.replace('_', ' ')} [${o.values.join(', ')}]`;
    case 'between':
      return `between ${o.min} and ${o.max}`;
    case 'within_last_days':
      return `within the last ${o.days} days`;
    case 'is_set':
    case 'is_unset':
      return o.op.replace('_', ' ');
    default:
      return `${o.op.replace('_', ' ')} ${JSON.stringify(o.value)}`;
  }
}
