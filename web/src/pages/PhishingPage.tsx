// Phishing: the analyst queue of reported and quarantined mail. A daily trend, the queue with
// verdict/score/top reasons and report counts (repeated reports of a message are one case), and
// the selected case: reasons highlighted next to a safe rendering (sanitised by the server, links
// disarmed, remote content blocked, shown in a sandboxed frame), its reporters, analyst actions,
// and the sender's and domain's history. The parts live in ./phishing/.
import { Grid, Group, Paper, Select, Stack, Tabs, Text, Title } from '@mantine/core';
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { isStatus, request } from '../api.ts';
import { hasPermission, useMe } from '../auth.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { Forbidden } from '../components/Forbidden.tsx';
import { Blocklist } from './phishing/Blocklist.tsx';
import { MessageView } from './phishing/MessageView.tsx';
import { QueueList } from './phishing/QueueList.tsx';
import { TrendChart } from './phishing/TrendChart.tsx';
import { type DayRow, type QueueItem, stateLabel } from './phishing/types.ts';

export { TrendChart };

export function PhishingPage() {
  const { data: me } = useMe();
  const canManage = hasPermission(me, 'phishing:manage');
  const [state, setState] = useState<string | null>('new');
  const [verdict, setVerdict] = useState<string | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const trend = useQuery({ queryKey: ['phishing', 'trend'], queryFn: () => request<{ days: DayRow[] }>('GET', '/api/phishing/trend?days=30') });
  const list = useInfiniteQuery({
    queryKey: ['phishing', 'list', state, verdict],
    queryFn: ({ pageParam }) => {
      const p = new URLSearchParams({ limit: '50' });
      if (state) p.set('state', state);
      if (verdict) p.set('verdict', verdict);
      if (pageParam) p.set('before', String(pageParam));
      return request<{ items: QueueItem[]; nextBefore: number | null }>('GET', `/api/phishing/queue?${p}`);
    },
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (last) => last.nextBefore ?? undefined,
  });
  if (list.isError && isStatus(list.error, 403)) return <Forbidden title="Phishing" />;
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Phishing</Title>
        <Text size="sm" c="dimmed">
          Reported by staff and quarantined by the gateway
        </Text>
      </Group>
      <Tabs defaultValue="trend" variant="outline">
        <Tabs.List>
          <Tabs.Tab value="trend">Last 30 days</Tabs.Tab>
          <Tabs.Tab value="blocklist">Blocklist</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="trend">
          <Paper withBorder p="sm">{trend.data ? <TrendChart days={trend.data.days} /> : trend.isError ? <ErrorAlert error={trend.error} /> : null}</Paper>
        </Tabs.Panel>
        <Tabs.Panel value="blocklist">
          <Paper withBorder p="sm">
            <Blocklist canManage={canManage} />
          </Paper>
        </Tabs.Panel>
      </Tabs>
      <Group>
        <Select
          label="State"
          clearable
          value={state}
          onChange={setState}
          data={Object.entries(stateLabel).map(([value, label]) => ({ value, label }))}
          w={180}
        />
        <Select label="Verdict" clearable value={verdict} onChange={setVerdict} data={['phishing', 'suspicious', 'clean']} w={180} />
      </Group>
      {list.isError && <ErrorAlert error={list.error} />}
      <Grid>
        <Grid.Col span={{ base: 12, md: 4 }}>
          <QueueList
            items={items}
            selected={selected}
            onSelect={setSelected}
            isPending={list.isPending}
            hasNextPage={list.hasNextPage}
            isFetchingNextPage={list.isFetchingNextPage}
            fetchNextPage={() => list.fetchNextPage()}
          />
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 8 }}>
          <Paper withBorder p="md">
            {selected ? <MessageView id={selected} canManage={canManage} /> : <Text c="dimmed">Select a message.</Text>}
          </Paper>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}
