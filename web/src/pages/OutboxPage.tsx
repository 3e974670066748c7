// The built-in outbox, shown like a mail client: message list on the left,
// the selected message on the right (HTML in a sandboxed frame with remote
// content already blocked by the server, text, headers, source, DKIM result).
import { Alert, Badge, Button, Code, Grid, Group, Paper, ScrollArea, Stack, Table, Tabs, Text, TextInput, Title, UnstyledButton } from '@mantine/core';
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { isStatus, request } from '../api.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { Forbidden } from '../components/Forbidden.tsx';
import { QueryState } from '../components/QueryState.tsx';

interface OutboxItem {
  id: number;
  messageId: string;
  from: string;
  to: string;
  subject: string;
  snippet: string;
  size: number;
  campaignId: number | null;
  createdAt: string;
}

interface OutboxDetail extends Omit<OutboxItem, 'snippet'> {
  envelope: { from: string; to: string[] };
  headers: { key: string; value: string }[];
  text: string | null;
  html: string | null;
  remoteContentBlocked: number;
  attachments: { filename: string | null; mimeType: string }[];
  source: string;
  dkim: { domain: string; selector: string; algorithm: string; result: string; comment?: string }[];
}

const when = (iso: string) => new Date(iso).toLocaleString();

function DkimBadges({ dkim }: { dkim: OutboxDetail['dkim'] }) {
  if (dkim.length === 0) return <Badge color="gray">DKIM: unsigned</Badge>;
  return (
    <Group gap={4}>
      {dkim.map((d) => (
        <Badge key={`${d.domain}-${d.selector}-${d.algorithm}`} color={d.result === 'pass' ? 'green' : 'red'} title={d.comment}>
          DKIM {d.algorithm || '?'} d={d.domain} s={d.selector}: {d.result}
        </Badge>
      ))}
    </Group>
  );
}

function MessageView({ id }: { id: number }) {
  const query = useQuery({ queryKey: ['outbox', id], queryFn: () => request<OutboxDetail>('GET', `/api/outbox/${id}`) });
  return (
    <QueryState query={query}>
      {(m) => (
        <Stack gap="xs">
          <Title order={3}>{m.subject || '(no subject)'}</Title>
          <Text size="sm">
            <b>From</b> {m.from} · <b>To</b> {m.to}
          </Text>
          <Text size="xs" c="dimmed">
            {when(m.createdAt)} · {m.messageId} · envelope {m.envelope.from || '<>'} → {m.envelope.to.join(', ')} · {(m.size / 1024).toFixed(1)} KB
          </Text>
          <DkimBadges dkim={m.dkim} />
          {m.remoteContentBlocked > 0 && (
            <Alert color="yellow" variant="light" py={4}>
              {m.remoteContentBlocked} remote image(s) blocked.
            </Alert>
          )}
          <Tabs defaultValue={m.html ? 'html' : 'text'} keepMounted={false}>
            <Tabs.List>
              <Tabs.Tab value="html" disabled={!m.html}>
                HTML
              </Tabs.Tab>
              <Tabs.Tab value="text" disabled={!m.text}>
                Text
              </Tabs.Tab>
              <Tabs.Tab value="headers">Headers</Tabs.Tab>
              <Tabs.Tab value="source">Source</Tabs.Tab>
            </Tabs.List>
            <Tabs.Panel value="html" pt="xs">
              {/* sandbox="" : no scripts, no same-origin, no forms, no top navigation */}
              <iframe title="Message HTML" sandbox="" srcDoc={m.html ?? ''} style={{ width: '100%', height: 520, border: '1px solid var(--mantine-color-gray-3)', background: 'white' }} />
            </Tabs.Panel>
            <Tabs.Panel value="text" pt="xs">
              <Code block>{m.text}</Code>
            </Tabs.Panel>
            <Tabs.Panel value="headers" pt="xs">
              <Table striped withTableBorder fz="xs">
                <Table.Tbody>
                  {m.headers.map((h, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: headers repeat; order is the identity
                    <Table.Tr key={i}>
                      <Table.Td style={{ whiteSpace: 'nowrap', verticalAlign: 'top' }}>{h.key}</Table.Td>
                      <Table.Td style={{ wordBreak: 'break-all' }}>{h.value}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Tabs.Panel>
            <Tabs.Panel value="source" pt="xs">
              <ScrollArea h={520}>
                <Code block style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>
                  {m.source}
                </Code>
              </ScrollArea>
            </Tabs.Panel>
          </Tabs>
        </Stack>
      )}
    </QueryState>
  );
}

export function OutboxPage() {
  const [q, setQ] = useState('');
  const [search, setSearch] = useState('');
  const [selected, setSelected] = useState<number | null>(null);
  const list = useInfiniteQuery({
    queryKey: ['outbox', 'list', search],
    queryFn: ({ pageParam }) => {
      const p = new URLSearchParams({ limit: '50' });
      if (search) p.set('q', search);
      if (pageParam) p.set('before', String(pageParam));
      return request<{ items: OutboxItem[]; nextBefore: number | null; searched: number }>('GET', `/api/outbox?${p}`);
    },
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (last) => last.nextBefore ?? undefined,
  });
  if (list.isError && isStatus(list.error, 403)) return <Forbidden title="Outbox" />;
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  // Captured mail is encrypted, so a search decrypts the newest messages a few thousand at a time.
  const searched = list.data?.pages.reduce((n, p) => n + p.searched, 0) ?? 0;
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Outbox</Title>
        <Text size="sm" c="dimmed">
          Mail captured instead of sent (no relay configured), stored encrypted
        </Text>
      </Group>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setSearch(q.trim());
        }}
      >
        <TextInput placeholder="Search subject, sender or recipient" value={q} onChange={(e) => setQ(e.currentTarget.value)} aria-label="Search the outbox" />
      </form>
      {list.isError && <ErrorAlert error={list.error} />}
      <Grid>
        <Grid.Col span={{ base: 12, md: 4 }}>
          <Paper withBorder>
            <ScrollArea h={720}>
              {items.length === 0 && !list.isPending && (
                <Text p="md" c="dimmed">
                  {search ? `No match in the ${searched.toLocaleString()} newest messages.` : 'The outbox is empty.'}
                </Text>
              )}
              {items.map((m) => (
                <UnstyledButton
                  key={m.id}
                  onClick={() => setSelected(m.id)}
                  p="sm"
                  w="100%"
                  aria-current={selected === m.id}
                  style={{ borderBottom: '1px solid var(--mantine-color-gray-2)', background: selected === m.id ? 'var(--mantine-color-blue-0)' : undefined }}
                >
                  <Group justify="space-between" wrap="nowrap">
                    <Text size="sm" fw={600} truncate>
                      {m.to}
                    </Text>
                    <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                      {when(m.createdAt)}
                    </Text>
                  </Group>
                  <Text size="sm" truncate>
                    {m.subject || '(no subject)'}
                  </Text>
                  <Text size="xs" c="dimmed" truncate>
                    {m.snippet}
                  </Text>
                </UnstyledButton>
              ))}
              {list.hasNextPage && (
                <Button variant="subtle" fullWidth onClick={() => list.fetchNextPage()} loading={list.isFetchingNextPage}>
                  {search ? 'Search older messages' : 'Load more'}
                </Button>
              )}
            </ScrollArea>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 8 }}>
          <Paper withBorder p="md">
            {selected ? <MessageView id={selected} /> : <Text c="dimmed">Select a message.</Text>}
          </Paper>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}
