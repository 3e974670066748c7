// The visual segment rule builder: AND / OR groups (each can be negated), and
// condition rows of kind → field → operator → value, the choices coming from
// the workspace (/api/segments/options). It edits the same JSON the server
// validates; the page keeps a JSON view of it as an advanced toggle.
import {
  ActionIcon,
  Badge,
  Button,
  Group,
  NativeSelect,
  Paper,
  SegmentedControl,
  Stack,
  TagsInput,
  Text,
  TextInput,
} from '@mantine/core';
import type { ReactNode } from 'react';
import { EngagementFields, ValueInput } from './ConditionInputs.tsx';
import {
  type BuilderOptions,
  consentStates,
  contactFields,
  isGroup,
  isNot,
  kindLabels,
  type Leaf,
  type LeafKind,
  leafKinds,
  leafType,
  newLeaf,
  opLabels,
  opsByType,
  type Rule,
  withOperator,
} from './ruleModel.ts';

type EditorProps = {
  rule: Rule;
  onChange: (r: Rule) => void;
  onRemove?: () => void;
  opts: BuilderOptions;
  path: string;
};

/** The whole tree. The root is always a group (a bare condition is wrapped by the page). */
export function RuleBuilder({
  rule,
  onChange,
  opts,
}: {
  rule: Rule;
  onChange: (r: Rule) => void;
  opts: BuilderOptions;
}) {
  return <RuleEditor rule={rule} onChange={onChange} opts={opts} path="" />;
}

function RuleEditor(p: EditorProps) {
  if (isGroup(p.rule)) return <GroupEditor {...p} />;
  if (isNot(p.rule)) {
    const inner = p.rule.rule;
    return (
      <Paper
        withBorder
        p="xs"
        style={{ borderColor: 'var(--mantine-color-red-4)' }}
        aria-label={`NOT ${p.path || 'root'}`}
      >
        <Group gap="xs" mb="xs">
          <Badge color="red" variant="light">
            NOT
          </Badge>
          <Text size="xs" c="dimmed">
            contacts that do not match:
          </Text>
          <Button size="compact-xs" variant="subtle" onClick={() => p.onChange(inner)}>
            Remove NOT
          </Button>
        </Group>
        <RuleEditor
          rule={inner}
          onChange={(r) => p.onChange({ kind: 'not', rule: r })}
          onRemove={p.onRemove}
          opts={p.opts}
          path={p.path}
        />
      </Paper>
    );
  }
  return <ConditionRow {...p} leaf={p.rule as Leaf} />;
}

function GroupEditor({ rule, onChange, onRemove, opts, path }: EditorProps) {
  const g = rule as Extract<Rule, { kind: 'and' | 'or' }>;
  const name = path || 'root';
  const set = (i: number, r: Rule) => onChange({ ...g, rules: g.rules.map((x, j) => (j === i ? r : x)) });
  const remove = (i: number) => onChange({ ...g, rules: g.rules.filter((_, j) => j !== i) });
  const add = (r: Rule) => onChange({ ...g, rules: [...g.rules, r] });
  return (
    <Paper withBorder p="sm" aria-label={`Group ${name}`}>
      <Group justify="space-between" mb="xs">
        <Group gap="xs">
          <SegmentedControl
            size="xs"
            aria-label={`Group ${name} match`}
            value={g.kind}
            onChange={(v) => onChange({ ...g, kind: v as 'and' | 'or' })}
            data={[
              { value: 'and', label: 'ALL of (AND)' },
              { value: 'or', label: 'ANY of (OR)' },
            ]}
          />
          {g.rules.length === 0 && (
            <Text size="xs" c="dimmed">
              {g.kind === 'and' ? 'no conditions: every contact' : 'add at least one condition'}
            </Text>
          )}
        </Group>
        <Group gap="xs">
          <Button size="compact-xs" variant="subtle" onClick={() => onChange({ kind: 'not', rule: g })}>
            Negate
          </Button>
          {onRemove && (
            <Button size="compact-xs" variant="subtle" color="red" onClick={onRemove}>
              Remove group
            </Button>
          )}
        </Group>
      </Group>
      <Stack gap="xs">
        {g.rules.map((r, i) => (
          <RuleEditor
            // biome-ignore lint/suspicious/noArrayIndexKey: conditions have no identity; a content key would remount (and unfocus) the row on every keystroke
            key={i}
            rule={r}
            onChange={(x) => set(i, x)}
            onRemove={() => remove(i)}
            opts={opts}
            path={path ? `${path}.${i + 1}` : `${i + 1}`}
          />
        ))}
      </Stack>
      <Group gap="xs" mt="xs">
        <Button
          size="compact-sm"
          variant="light"
          onClick={() => add(newLeaf(opts.attributes.length ? 'attribute' : 'tag', opts))}
          aria-label={`Add condition to group ${name}`}
        >
          + Condition
        </Button>
        <Button
          size="compact-sm"
          variant="default"
          onClick={() => add({ kind: g.kind === 'and' ? 'or' : 'and', rules: [] })}
          aria-label={`Add group to group ${name}`}
        >
          + Group
        </Button>
      </Group>
    </Paper>
  );
}

const select = (data: { value: string; label: string }[] | string[]) => data;

function ConditionRow({ leaf, onChange, onRemove, opts, path }: EditorProps & { leaf: Leaf }) {
  const label = (what: string) => `Condition ${path} ${what}`;
  const set = (patch: Record<string, unknown>) => onChange({ ...leaf, ...patch } as Leaf);
  const parts: ReactNode[] = [];
  const type = leafType(leaf, opts);
  const typedOps = (t: string) => (
    <NativeSelect
      key="op"
      aria-label={label('operator')}
      value={String(leaf.op ?? '')}
      onChange={(e) => onChange(withOperator(leaf, e.currentTarget.value, t))}
      data={select(opsByType[t].map((o) => ({ value: o, label: opLabels[o] ?? o })))}
    />
  );

  // Operators that do not change the shape of the condition.
  const plainOps = (ops: string[]) => (
    <NativeSelect
      key="op"
      aria-label={label('operator')}
      value={String(leaf.op)}
      onChange={(e) => set({ op: e.currentTarget.value })}
      data={select(ops.map((o) => ({ value: o, label: opLabels[o] })))}
    />
  );

  switch (leaf.kind) {
    case 'attribute': {
      const attrs = opts.attributes.map((a) => ({ value: a.key, label: a.label || a.key }));
      if (leaf.key && !attrs.some((a) => a.value === leaf.key))
        attrs.push({ value: String(leaf.key), label: `${leaf.key} (unknown)` });
      parts.push(
        <NativeSelect
          key="key"
          aria-label={label('attribute')}
          value={String(leaf.key ?? '')}
          onChange={(e) => {
            const t = opts.attributes.find((a) => a.key === e.currentTarget.value)?.type ?? 'text';
            const op = opsByType[t].includes(String(leaf.op)) ? String(leaf.op) : opsByType[t][0];
            onChange(withOperator({ ...leaf, key: e.currentTarget.value }, op, t));
          }}
          data={attrs}
        />,
        typedOps(type),
        <ValueInput
          key="v"
          leaf={leaf}
          type={type}
          onChange={onChange}
          label={label}
          options={opts.attributes.find((a) => a.key === leaf.key)?.options ?? []}
        />,
      );
      break;
    }
    case 'field':
      parts.push(
        <NativeSelect
          key="field"
          aria-label={label('field')}
          value={String(leaf.field)}
          onChange={(e) => {
            const t = contactFields.find((f) => f.value === e.currentTarget.value)?.type ?? 'text';
            onChange(
              withOperator(
                { ...leaf, field: e.currentTarget.value },
                opsByType[t].includes(String(leaf.op)) ? String(leaf.op) : opsByType[t][0],
                t,
              ),
            );
          }}
          data={contactFields.map((f) => ({ value: f.value, label: f.label }))}
        />,
        typedOps(type),
        <ValueInput key="v" leaf={leaf} type={type} onChange={onChange} label={label} options={[]} />,
      );
      break;
    case 'company': {
      const prop = String(leaf.property ?? 'name');
      const isAttr = prop.startsWith('attributes.');
      parts.push(
        <NativeSelect
          key="prop"
          aria-label={label('company property')}
          value={isAttr ? 'attributes' : prop}
          onChange={(e) =>
            set({
              property:
                e.currentTarget.value === 'attributes' ? 'attributes.industry' : e.currentTarget.value,
            })
          }
          data={[
            { value: 'name', label: 'name' },
            { value: 'domain', label: 'domain' },
            { value: 'attributes', label: 'attribute…' },
          ]}
        />,
      );
      if (isAttr)
        parts.push(
          <TextInput
            key="ck"
            aria-label={label('company attribute')}
            placeholder="key"
            value={prop.slice('attributes.'.length)}
            onChange={(e) => set({ property: `attributes.${e.currentTarget.value}` })}
            w={130}
          />,
        );
      parts.push(
        typedOps(type),
        <ValueInput key="v" leaf={leaf} type={type} onChange={onChange} label={label} options={[]} />,
      );
      break;
    }
    case 'tag':
      parts.push(
        plainOps(['has_any', 'has_all', 'has_none']),
        <TagsInput
          key="tags"
          aria-label={label('tags')}
          placeholder="tag, Enter"
          data={opts.tags}
          value={(leaf.tags as string[]) ?? []}
          onChange={(v) => set({ tags: v })}
          miw={220}
        />,
      );
      break;
    case 'list':
      parts.push(
        plainOps(['member', 'not_member']),
        <NativeSelect
          key="list"
          aria-label={label('list')}
          value={String(leaf.listId ?? '')}
          onChange={(e) => set({ listId: Number(e.currentTarget.value) })}
          data={
            opts.lists.length
              ? opts.lists.map((l) => ({ value: String(l.id), label: l.name }))
              : [{ value: '0', label: 'no lists yet' }]
          }
        />,
      );
      break;
    case 'owner': {
      const op = String(leaf.op);
      parts.push(
        <NativeSelect
          key="op"
          aria-label={label('operator')}
          value={op}
          onChange={(e) => {
            const o = e.currentTarget.value;
            onChange(
              o === 'is' || o === 'is_not'
                ? { kind: 'owner', op: o, userIds: (leaf.userIds as number[]) ?? [] }
                : { kind: 'owner', op: o },
            );
          }}
          data={select(['is_set', 'is_unset', 'is', 'is_not'].map((o) => ({ value: o, label: opLabels[o] })))}
        />,
      );
      if (op === 'is' || op === 'is_not')
        parts.push(
          <TagsInput
            key="users"
            aria-label={label('user ids')}
            placeholder="user id, Enter"
            value={((leaf.userIds as number[]) ?? []).map(String)}
            onChange={(v) => set({ userIds: v.map(Number).filter((n) => Number.isInteger(n) && n > 0) })}
          />,
        );
      break;
    }
    case 'consent':
      parts.push(
        <NativeSelect
          key="purpose"
          aria-label={label('purpose')}
          value={String(leaf.purpose ?? 'marketing_email')}
          onChange={(e) => set({ purpose: e.currentTarget.value })}
          data={[...new Set([...opts.purposes, String(leaf.purpose ?? 'marketing_email')])]}
        />,
        <NativeSelect
          key="state"
          aria-label={label('state')}
          value={String(leaf.state)}
          onChange={(e) => set({ state: e.currentTarget.value })}
          data={[...consentStates]}
        />,
      );
      break;
    case 'email_domain':
      parts.push(
        plainOps(['equals', 'not_equals']),
        <TextInput
          key="d"
          aria-label={label('domain')}
          placeholder="example.com"
          value={String(leaf.domain ?? '')}
          onChange={(e) => set({ domain: e.currentTarget.value.trim() })}
        />,
      );
      break;
    case 'engagement':
      parts.push(<EngagementFields key="eng" leaf={leaf} onChange={onChange} label={label} opts={opts} />);
      break;
  }

  return (
    <Group gap="xs" align="center" wrap="wrap" aria-label={`Condition ${path}`} role="group">
      <NativeSelect
        aria-label={label('kind')}
        value={leaf.kind}
        onChange={(e) => onChange(newLeaf(e.currentTarget.value as LeafKind, opts))}
        data={leafKinds.map((k) => ({ value: k, label: kindLabels[k] }))}
      />
      {parts}
      <Button
        size="compact-xs"
        variant="subtle"
        onClick={() => onChange({ kind: 'not', rule: leaf })}
        aria-label={`Negate condition ${path}`}
      >
        NOT
      </Button>
      {onRemove && (
        <ActionIcon variant="subtle" color="red" onClick={onRemove} aria-label={`Remove condition ${path}`}>
          ×
        </ActionIcon>
      )}
    </Group>
  );
}
