// Segments: a visual rule builder (AND / OR / NOT groups, conditions chosen
// from the workspace's attributes, tags, lists, consent and engagement) with
// the JSON as an advanced view, a live count (debounced) with exclusion
// reasons, a masked sample, EXPLAIN for admins, and freeze as list.
import {
  Alert,
  Badge,
  Button,
  Code,
  Group,
  Paper,
  Stack,
  Switch,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { request } from '../../api.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { QueryState } from '../../components/QueryState.tsx';
import { RuleBuilder } from '../../components/segments/RuleBuilder.tsx';
import {
  asRule,
  type BuilderOptions,
  countLeaves,
  isGroup,
  type Rule,
} from '../../components/segments/ruleModel.ts';

type Counts = {
  matched: number;
  eligible: number;
  excluded: { suppressed: number; unsubscribed: number; pending: number; noConsent: number };
  approximateDomains: string[];
};
type Segment = { id: number; name: string; summary: string; rule: unknown };
type Sample = {
  items: {
    id: string;
    email: string | null;
    firstName: string | null;
    lastName: string | null;
    tags: string[];
  }[];
};

const starter: Rule = { kind: 'and', rules: [] };

/** The builder edits groups; a stored bare condition is shown inside an AND (same meaning). */
const rooted = (r: Rule): Rule => (isGroup(r) ? r : { kind: 'and', rules: [r] });

function parseJson(text: string): Rule | undefined {
  try {
    return asRule(JSON.parse(text));
  } catch {
    return undefined;
  }
}

export function SegmentsPage() {
  const qc = useQueryClient();
  const list = useQuery({
    queryKey: ['segments'],
    queryFn: () => request<{ items: Segment[] }>('GET', '/api/segments'),
  });
  const options = useQuery({
    queryKey: ['segment-options'],
    queryFn: () => request<BuilderOptions>('GET', '/api/segments/options'),
  });
  const [name, setName] = useState('');
  const [editing, setEditing] = useState<Segment | null>(null);
  const [rule, setRuleState] = useState<Rule>(starter);
  const [advanced, setAdvanced] = useState(false);
  const [jsonText, setJsonText] = useState(JSON.stringify(starter, null, 2));
  const jsonRule = advanced ? parseJson(jsonText) : rule;
  const setRule = (r: Rule) => {
    setRuleState(r);
    setJsonText(JSON.stringify(r, null, 2));
  };
  const current = jsonRule ?? rule;
  const [debounced] = useDebouncedValue(JSON.stringify(current), 400);
  const count = useQuery({
    queryKey: ['segment-count', debounced],
    queryFn: () => request<Counts>('POST', '/api/segments/count', { rule: JSON.parse(debounced) }),
    enabled: jsonRule !== undefined,
    retry: false,
  });
  const sample = useMutation({
    mutationFn: () => request<Sample>('POST', '/api/segments/sample', { rule: current }),
  });
  const explain = useMutation({
    mutationFn: () => request<{ plan: string }>('POST', '/api/segments/explain', { rule: current }),
  });
  const save = useMutation({
    mutationFn: (asNew: boolean) =>
      editing && !asNew
        ? request<Segment>('PATCH', `/api/segments/${editing.id}`, { name, rule: current })
        : request<Segment>('POST', '/api/segments', { name, rule: current }),
    onSuccess: (s) => {
      setEditing(s);
      qc.invalidateQueries({ queryKey: ['segments'] });
    },
  });
  const freeze = useMutation({
    mutationFn: (s: Segment) =>
      request<{ members: number }>('POST', `/api/segments/${s.id}/freeze`, {
        listName: `${s.name} ${new Date().toISOString().slice(0, 16)}`,
      }),
  });

  const toggleAdvanced = (on: boolean) => {
    // Leaving the JSON view keeps the last JSON that parsed into a rule tree.
    if (!on && jsonRule) setRuleState(rooted(jsonRule));
    if (on) setJsonText(JSON.stringify(rule, null, 2));
    setAdvanced(on);
  };
  const load = (s: Segment) => {
    const r = asRule(s.rule);
    setEditing(s);
    setName(s.name);
    if (r) setRule(rooted(r));
    else {
      setJsonText(JSON.stringify(s.rule, null, 2));
      setAdvanced(true);
    }
  };

  return (
    <Stack>
      <Paper withBorder p="md">
        <Stack>
          <Group justify="space-between">
            <Title order={3}>{editing ? `Edit segment: ${editing.name}` : 'Rule builder'}</Title>
            <Switch
              label="JSON (advanced)"
              checked={advanced}
              onChange={(e) => toggleAdvanced(e.currentTarget.checked)}
            />
          </Group>
          <Text size="sm" c="dimmed">
            Combine conditions with ALL (AND) / ANY (OR) groups; NOT negates a condition or a group. Consent
            and suppression are always applied for marketing and cannot be removed by a rule.
          </Text>
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} />
          {advanced ? (
            <Textarea
              label="Rules (JSON)"
              autosize
              minRows={8}
              value={jsonText}
              onChange={(e) => setJsonText(e.currentTarget.value)}
              ff="monospace"
              error={jsonRule === undefined ? 'Not a rule tree (valid JSON with a known "kind")' : undefined}
            />
          ) : (
            <QueryState query={options}>
              {(opts) => <RuleBuilder rule={rule} onChange={setRule} opts={opts} />}
            </QueryState>
          )}
          <ErrorAlert error={count.error} />
          {count.data && (
            <Stack gap={4} aria-live="polite">
              <Group>
                <Badge size="lg" data-testid="segment-eligible">
                  {count.data.eligible} eligible
                </Badge>
                <Text size="sm">
                  of {count.data.matched} matching — excluded: {count.data.excluded.suppressed} suppressed,{' '}
                  {count.data.excluded.unsubscribed} unsubscribed, {count.data.excluded.pending} pending
                  opt-in, {count.data.excluded.noConsent} without consent
                </Text>
                <Text size="xs" c="dimmed">
                  {countLeaves(current)} condition(s)
                </Text>
              </Group>
              {count.data.approximateDomains.length > 0 && (
                <Alert color="yellow" variant="light">
                  Email domain {count.data.approximateDomains.join(', ')}: too many addresses to check live,
                  so this count is an upper bound. The sample, freezing and the campaign launch check every
                  address exactly.
                </Alert>
              )}
            </Stack>
          )}
          <Group>
            <Button
              onClick={() => save.mutate(false)}
              disabled={!name || jsonRule === undefined}
              loading={save.isPending}
            >
              {editing ? 'Save changes' : 'Save segment'}
            </Button>
            {editing && (
              <Button
                variant="default"
                onClick={() => save.mutate(true)}
                disabled={!name || jsonRule === undefined}
              >
                Save as new
              </Button>
            )}
            {editing && (
              <Button
                variant="subtle"
                onClick={() => {
                  setEditing(null);
                  setName('');
                  setRule(starter);
                }}
              >
                New segment
              </Button>
            )}
            <Button variant="default" onClick={() => sample.mutate()} disabled={jsonRule === undefined}>
              Sample 20
            </Button>
            <Button variant="subtle" onClick={() => explain.mutate()} disabled={jsonRule === undefined}>
              Explain (admins)
            </Button>
          </Group>
          <ErrorAlert error={save.error ?? sample.error ?? explain.error} />
          {save.isSuccess && <Text size="sm">Saved.</Text>}
          {sample.data && (
            <Table aria-label="Sample members">
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
                      <Button size="xs" variant="default" onClick={() => load(s)}>
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
