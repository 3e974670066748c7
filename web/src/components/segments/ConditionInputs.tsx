// Value inputs of the segment rule builder: the value part of a typed
// operator (text, number, date, boolean, enum, lists of values, ranges) and
// the engagement condition's fields (event, how many, which campaigns, window).
import { Group, NativeSelect, NumberInput, TagsInput, Text, TextInput } from '@mantine/core';
import { type BuilderOptions, engagementEvents, type Leaf, type Rule } from './ruleModel.ts';

/** The value part of a typed operator (attribute, field, company). */
export function ValueInput({
  leaf,
  type,
  onChange,
  label,
  options,
}: {
  leaf: Leaf;
  type: string;
  onChange: (r: Rule) => void;
  label: (w: string) => string;
  options: string[];
}) {
  const op = String(leaf.op);
  const set = (patch: Record<string, unknown>) => onChange({ ...leaf, ...patch } as Leaf);
  const numeric = type === 'number';
  if (op === 'is_set' || op === 'is_unset') return null;
  if (op === 'between')
    return (
      <Group gap={4}>
        <NumberInput
          aria-label={label('minimum')}
          value={Number(leaf.min ?? 0)}
          onChange={(v) => set({ min: Number(v) })}
          w={90}
        />
        <Text size="sm">and</Text>
        <NumberInput
          aria-label={label('maximum')}
          value={Number(leaf.max ?? 0)}
          onChange={(v) => set({ max: Number(v) })}
          w={90}
        />
      </Group>
    );
  if (op === 'within_last_days')
    return (
      <NumberInput
        aria-label={label('days')}
        min={1}
        max={3650}
        value={Number(leaf.days ?? 30)}
        onChange={(v) => set({ days: Number(v) })}
        w={90}
      />
    );
  if (op === 'before' || op === 'after')
    return (
      <TextInput
        type="date"
        aria-label={label('date')}
        value={String(leaf.value ?? '').slice(0, 10)}
        onChange={(e) => set({ value: e.currentTarget.value })}
      />
    );
  if (op === 'in' || op === 'not_in')
    return (
      <TagsInput
        aria-label={label('values')}
        placeholder="value, Enter"
        data={options}
        value={((leaf.values as unknown[]) ?? []).map(String)}
        onChange={(v) => set({ values: numeric ? v.map(Number).filter((n) => Number.isFinite(n)) : v })}
        miw={200}
      />
    );
  if (numeric || ['gt', 'gte', 'lt', 'lte'].includes(op))
    return (
      <NumberInput
        aria-label={label('value')}
        value={Number(leaf.value ?? 0)}
        onChange={(v) => set({ value: Number(v) })}
        w={110}
      />
    );
  if (type === 'boolean')
    return (
      <NativeSelect
        aria-label={label('value')}
        value={String(leaf.value ?? true)}
        onChange={(e) => set({ value: e.currentTarget.value === 'true' })}
        data={['true', 'false']}
      />
    );
  if (type === 'enum' && options.length)
    return (
      <NativeSelect
        aria-label={label('value')}
        value={String(leaf.value ?? '')}
        onChange={(e) => set({ value: e.currentTarget.value })}
        data={['', ...options]}
      />
    );
  return (
    <TextInput
      aria-label={label('value')}
      value={String(leaf.value ?? '')}
      onChange={(e) => set({ value: e.currentTarget.value })}
    />
  );
}

export function EngagementFields({
  leaf,
  onChange,
  label,
  opts,
}: {
  leaf: Leaf;
  onChange: (r: Rule) => void;
  label: (w: string) => string;
  opts: BuilderOptions;
}) {
  const count = (leaf.count as { op: string; n: number } | undefined) ?? { op: 'at_least', n: 1 };
  const scope = leaf.campaignId ? 'one' : leaf.lastCampaigns ? 'last' : 'any';
  const { campaignId, lastCampaigns, ...rest } = leaf;
  const set = (patch: Record<string, unknown>) => onChange({ ...leaf, ...patch } as Leaf);
  return (
    <Group gap="xs" align="flex-end">
      <NativeSelect
        aria-label={label('event')}
        value={String(leaf.event)}
        onChange={(e) => set({ event: e.currentTarget.value })}
        data={[...engagementEvents]}
      />
      <NativeSelect
        aria-label={label('count operator')}
        value={count.op}
        onChange={(e) => set({ count: { ...count, op: e.currentTarget.value } })}
        data={[
          { value: 'at_least', label: 'at least' },
          { value: 'at_most', label: 'at most' },
          { value: 'exactly', label: 'exactly' },
        ]}
      />
      <NumberInput
        aria-label={label('count')}
        min={0}
        max={1000}
        value={count.n}
        onChange={(v) => set({ count: { ...count, n: Number(v) } })}
        w={70}
      />
      <NativeSelect
        aria-label={label('campaigns')}
        value={scope}
        onChange={(e) => {
          const s = e.currentTarget.value;
          if (s === 'any') onChange(rest as Leaf);
          else if (s === 'last') onChange({ ...rest, lastCampaigns: 5 } as Leaf);
          else onChange({ ...rest, campaignId: opts.campaigns[0]?.id ?? 1 } as Leaf);
        }}
        data={[
          { value: 'any', label: 'of any campaign' },
          { value: 'last', label: 'of the last N campaigns' },
          { value: 'one', label: 'of one campaign' },
        ]}
      />
      {scope === 'last' && (
        <NumberInput
          aria-label={label('last N campaigns')}
          min={1}
          max={100}
          value={Number(lastCampaigns)}
          onChange={(v) => set({ lastCampaigns: Number(v) })}
          w={70}
        />
      )}
      {scope === 'one' && (
        <NativeSelect
          aria-label={label('campaign')}
          value={String(campaignId)}
          onChange={(e) => set({ campaignId: Number(e.currentTarget.value) })}
          data={[
            ...opts.campaigns.map((c) => ({ value: String(c.id), label: c.name })),
            ...(opts.campaigns.some((c) => c.id === campaignId)
              ? []
              : [{ value: String(campaignId), label: `#${campaignId}` }]),
          ]}
        />
      )}
      <NumberInput
        aria-label={label('within days')}
        placeholder="any time"
        min={1}
        max={3650}
        value={leaf.withinDays === undefined ? '' : Number(leaf.withinDays)}
        onChange={(v) => {
          if (v === '' || v === undefined) {
            const { withinDays: _drop, ...noWindow } = leaf;
            onChange(noWindow as Leaf);
          } else set({ withinDays: Number(v) });
        }}
        w={110}
        rightSection={<Text size="xs">days</Text>}
        rightSectionWidth={40}
      />
    </Group>
  );
}
