import { Button, Group, NativeSelect, SimpleGrid, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import type { AuditFilters } from '../api.ts';
import { localToIso } from '../format.ts';

const OUTCOMES = [
  { value: '', label: 'Any outcome' },
  { value: 'success', label: 'Success' },
  { value: 'failure', label: 'Failure' },
  { value: 'denied', label: 'Denied' },
];

const blank = { actor: '', action: '', from: '', to: '', outcome: '' };

export function AuditFiltersForm({ onApply }: { onApply: (f: AuditFilters) => void }) {
  const [draft, setDraft] = useState(blank);
  const set = (k: keyof typeof blank) => (e: { currentTarget: { value: string } }) => {
    const value = e.currentTarget.value;
    setDraft((d) => ({ ...d, [k]: value }));
  };
  const toFilters = (d: typeof blank): AuditFilters => ({
    actor: d.actor.trim() || undefined,
    action: d.action.trim() || undefined,
    from: localToIso(d.from),
    to: localToIso(d.to),
    outcome: d.outcome || undefined,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onApply(toFilters(draft));
  };
  const clear = () => {
    setDraft(blank);
    onApply({});
  };
  return (
    <form onSubmit={submit} aria-label="Audit log filters">
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 5 }} spacing="sm">
        <TextInput
          label="Actor"
          placeholder="Email, name or id"
          value={draft.actor}
          onChange={set('actor')}
        />
        <TextInput
          label="Action"
          placeholder="e.g. auth.login"
          value={draft.action}
          onChange={set('action')}
        />
        <TextInput label="From" type="datetime-local" value={draft.from} onChange={set('from')} />
        <TextInput label="To" type="datetime-local" value={draft.to} onChange={set('to')} />
        <NativeSelect label="Outcome" data={OUTCOMES} value={draft.outcome} onChange={set('outcome')} />
      </SimpleGrid>
      <Group mt="sm" gap="xs">
        <Button type="submit" size="xs">
          Apply filters
        </Button>
        <Button variant="default" size="xs" onClick={clear}>
          Clear filters
        </Button>
      </Group>
    </form>
  );
}
