import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  describeRule,
  MAX_DEPTH,
  normaliseDomain,
  parseRule,
  type Rule,
  ruleDomains,
  segmentRuleSchema,
} from './rules.ts';

describe('segment rule schema', () => {
  test('accepts a tree using every kind of condition', () => {
    const rule = parseRule({
      kind: 'and',
      rules: [
        { kind: 'attribute', key: 'plan', op: 'in', values: ['pro', 'team'] },
        { kind: 'attribute', key: 'seats', op: 'between', min: 5, max: 50 },
        { kind: 'attribute', key: 'renewal', op: 'within_last_days', days: 30 },
        { kind: 'field', field: 'country', op: 'equals', value: 'GB' },
        { kind: 'company', property: 'attributes.industry', op: 'starts_with', value: 'Fin' },
        { kind: 'tag', op: 'has_any', tags: ['vip'] },
        { kind: 'list', op: 'member', listId: 3 },
        { kind: 'owner', op: 'is_unset' },
        { kind: 'consent', state: 'subscribed' },
        { kind: 'email_domain', op: 'equals', domain: 'example.com' },
        {
          kind: 'or',
          rules: [
            { kind: 'engagement', event: 'opened', lastCampaigns: 5, count: { op: 'at_least', n: 2 } },
            { kind: 'not', rule: { kind: 'tag', op: 'has_all', tags: ['x', 'y'] } },
          ],
        },
        { kind: 'engagement', event: 'clicked', withinDays: 90, count: { op: 'at_most', n: 0 } },
      ],
    });
    assert.equal(rule.kind, 'and');
    const consent = (rule as { rules: Rule[] }).rules[8] as { purpose: string };
    assert.equal(consent.purpose, 'marketing_email', 'purpose defaults');
    assert.match(describeRule(rule), /opened at least 2 of the last 5 campaigns/);
    assert.match(describeRule(rule), /clicked at most 0 any campaign in the last 90 days/);
  });

  test('rejects wrong operator values, unknown kinds and injection-shaped keys', () => {
    const bad = [
      { kind: 'attribute', key: 'plan', op: 'gt', value: 'abc' },
      { kind: 'attribute', key: 'plan', op: 'between', min: 10, max: 1 },
      { kind: 'attribute', key: "x'); DROP TABLE contacts;--", op: 'equals', value: 1 },
      { kind: 'attribute', key: 'd', op: 'before', value: 'yesterday' },
      { kind: 'field', field: 'email_enc', op: 'equals', value: 'x' },
      { kind: 'email_domain', op: 'contains', domain: 'example.com' },
      { kind: 'engagement', event: 'opened', campaignId: 1, lastCampaigns: 5 },
      { kind: 'engagement', event: 'opened', lastCampaigns: 2, count: { op: 'at_least', n: 3 } },
      { kind: 'sql', text: 'true' },
      { kind: 'or', rules: [] },
    ];
    for (const b of bad) assert.equal(segmentRuleSchema.safeParse(b).success, false, JSON.stringify(b));
  });

  test('limits depth', () => {
    let r: Rule = { kind: 'tag', op: 'has_any', tags: ['a'] };
    for (let i = 0; i < MAX_DEPTH; i++) r = { kind: 'not', rule: r };
    assert.equal(segmentRuleSchema.safeParse(r).success, false);
    assert.equal(
      segmentRuleSchema.safeParse({ kind: 'and', rules: [] }).success,
      true,
      'empty AND = everyone',
    );
  });

  test('collects the email domains of a tree, normalised as the blind index was computed', () => {
    const rule = parseRule({
      kind: 'or',
      rules: [
        { kind: 'email_domain', op: 'equals', domain: 'Example.COM' },
        { kind: 'not', rule: { kind: 'email_domain', op: 'not_equals', domain: 'example.com' } },
        { kind: 'and', rules: [{ kind: 'email_domain', op: 'equals', domain: 'xn--bcher-kva.example' }] },
      ],
    });
    assert.deepEqual(ruleDomains(rule), ['example.com', 'xn--bcher-kva.example']);
    assert.equal(normaliseDomain('MAIL.Example.org'), 'mail.example.org');
    assert.deepEqual(ruleDomains({ kind: 'and', rules: [] }), []);
  });
});
