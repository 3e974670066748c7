// Segment builder: the rule tree as JSON (validated by the server), a live
// count (debounced) with exclusion reasons, a masked sample, EXPLAIN for admins.
import { Badge, Button, Code, Group, Paper, Stack, Table, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { request } from '../../api.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { QueryState } from '../../components/QueryState.tsx';

type Counts = { matched: number; eligible: number; excluded: { suppressed: number; unsubscribed: number; pending: number; noConsent: number } };
type Segment = { id: number; name: string; summary: string; rule: unknown };
type Sample = { items: { id: string; email: string | null; firstName: string | null; lastName: string | null; tags: string[] }[] };

const example = JSON.stringify(
  {
    kind: 'and',
    rules: [
      { kind: 'attribute', key: 'plan', op: 'equals', value: 'pro' },
      { kind: 'tag', op: 'has_any', tags: ['beta'] },
      { kind: 'engagement', event: 'opened', withinDays: 30 },
    ],
  },
  null,
  2,
);

function parse(text: string): unknown | undefined {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function SegmentsPage() {
  const qc = useQueryClient();
  const list = useQuery({ queryKey: ['segments'], queryFn: () => request<{ items: Segment[] }>('GET', '/api/segments') });
  const [name, setName] = useState('');
  const [text, setText] = useState(example);
  const [debounced] = useDebouncedValue(text, 400);
  const rule = parse(debounced);
  const count = useQuery({
    queryKey: ['segment-count', debounced],
    queryFn: () => request<Counts>('POST', '/api/segments/count', { rule }),
    enabled: rule !== undefined,
    retry: false,
  });
  const sample = useMutation({ mutationFn: () => request<Sample>('POST', '/api/segments/sample', { rule: parse(text) }) });
  const explain = useMutation({ mutationFn: () => request<{ plan: string }>('POST', '/api/segments/explain', { rule: parse(text) }) });
  const save = useMutation({
    mutationFn: () => request<Segment>('POST', '/api/segments', { name, rule: parse(text) }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['segments'] }),
  });
  const freeze = useMutation({
    mutationFn: (s: Segment) => request<{ members: number }>('POST', `/api/segments/${s.id}/freeze`, { listName: `${s.name} ${new Date().toISOString().slice(0, 16)}` }),
  });

  return (
    <Stack>
      <Paper withBorder p="md">
        <Stack>
          <Title order={3}>Rule builder</Title>
          <Text size="sm" c="dimmed">
            AND / OR / NOT groups over attributes, fields, tags, lists, owner, company, consent, email domain and engagement. Consent and suppression are
            always applied for marketing.
          </Text>
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <Textarea label="Rules (JSON)" autosize minRows={8} value={text} onChange={(e) => setText(e.currentTarget.value)} ff="monospace" error={rule === undefined ? 'Not valid JSON' : undefined} />
          <ErrorAlert error={count.error} />
          {count.data && (
            <Group aria-live="polite">
              <Badge size="lg">{count.data.eligible} eligible</Badge>
              <Text size="sm">
                of {count.data.matched} matching — excluded: {count.data.excluded.suppressed} suppressed, {count.data.excluded.unsubscribed} unsubscribed,{' '}
                {count.data.excluded.pending} pending opt-in, {count.data.excluded.noConsent} without consent
              </Text>
            </Group>
          )}
          <Group>
            <Button onClick={() => save.mutate()} disabled={!name || rule === undefined} loading={save.isPending}>
              Save segment
            </Button>
            <Button variant="default" onClick={() => sample.mutate()}>
              Sample 20
            </Button>
            <Button variant="subtle" onClick={() => explain.mutate()}>
              Explain (admins)
            </Button>
          </Group>
          <ErrorAlert error={save.error ?? sample.error ?? explain.error} />
          {sample.data && (
            <Table>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Email</Table.Th>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>Tags</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {sample.data.items.map((c) => (
                  <Table.Tr key={c.id}>
                    <Table.Td>{c.email}</Table.Td>
                    <Table.Td>{[c.firstName, c.lastName].filter(Boolean).join(' ')}</Table.Td>
                    <Table.Td>{c.tags.join(', ')}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
          {explain.data && <Code block>{explain.data.plan}</Code>}
        </Stack>
      </Paper>
      <QueryState query={list}>
        {(data) => (
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Segment</Table.Th>
                <Table.Th>Rules</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((s) => (
                <Table.Tr key={s.id}>
                  <Table.Td>{s.name}</Table.Td>
                  <Table.Td>{s.summary}</Table.Td>
                  <Table.Td>
                    <Group gap="xs">
                      <Button size="xs" variant="default" onClick={() => setText(JSON.stringify(s.rule, null, 2))}>
                        Edit rules
                      </Button>
                      <Button size="xs" variant="default" onClick={() => freeze.mutate(s)}>
                        Freeze as list
                      </Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </QueryState>
      {freeze.data && <Text size="sm">Frozen: {freeze.data.members} members copied to a new list.</Text>}
    </Stack>
  );
}
