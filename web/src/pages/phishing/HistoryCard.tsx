// Counts by verdict and decision for one sender or domain, shown next to a case.
import { Badge, Paper, Stack, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { request } from '../../api.ts';
import type { History } from './types.ts';

export function HistoryCard({ title, query }: { title: string; query: string }) {
  const q = useQuery({
    queryKey: ['phishing', 'history', query],
    queryFn: () => request<History>('GET', `/api/phishing/history?${query}`),
  });
  return (
    <Paper withBorder p="xs">
      <Text size="sm" fw={600} truncate>
        {title}
      </Text>
      {q.data && (
        <Stack gap={2}>
          <Text size="xs">
            {q.data.total} message(s): {q.data.byState.confirmed_phishing} phishing,{' '}
            {q.data.byState.legitimate + q.data.byState.released} legitimate, {q.data.byState.new} open
          </Text>
          <Text size="xs" c="dimmed">
            scored {q.data.byVerdict.phishing} phishing / {q.data.byVerdict.suspicious} suspicious /{' '}
            {q.data.byVerdict.clean} clean
          </Text>
          {q.data.days.slice(-5).map((d) => (
            <Text size="xs" c="dimmed" key={d.day}>
              {d.day}: {d.reported} reported, {d.confirmed} confirmed, {d.legitimate} legitimate
            </Text>
          ))}
          {q.data.blocked.length > 0 && (
            <Badge color="dark" size="xs">
              blocked
            </Badge>
          )}
        </Stack>
      )}
    </Paper>
  );
}
