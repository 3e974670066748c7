// "Why this score": the reasons of a case, coloured by weight, and the history of its sender
// and domain.
import { Code, Group, Paper, Stack, Text } from '@mantine/core';
import { HistoryCard } from './HistoryCard.tsx';
import type { Detail } from './types.ts';

export function ReasonsPanel({ m }: { m: Pick<Detail, 'reasons' | 'fromAddress' | 'senderDomain'> }) {
  return (
    <Stack gap={6}>
      <Text fw={600} size="sm">
        Why this score
      </Text>
      {m.reasons.map((r) => (
        <Paper
          key={r.signal}
          withBorder
          p={6}
          style={{
            borderLeft: `4px solid var(--mantine-color-${r.weight > 5 ? 'red' : r.weight > 0 ? 'orange' : r.weight < 0 ? 'green' : 'gray'}-6)`,
          }}
        >
          <Group justify="space-between" wrap="nowrap">
            <Code>{r.signal}</Code>
            <Text size="xs" fw={700}>
              {r.weight > 0 ? '+' : ''}
              {r.weight}
            </Text>
          </Group>
          <Text size="xs">{r.detail}</Text>
        </Paper>
      ))}
      {m.fromAddress && (
        <HistoryCard
          title={`Sender ${m.fromAddress}`}
          query={`sender=${encodeURIComponent(m.fromAddress)}`}
        />
      )}
      {m.senderDomain && (
        <HistoryCard
          title={`Domain ${m.senderDomain}`}
          query={`domain=${encodeURIComponent(m.senderDomain)}`}
        />
      )}
    </Stack>
  );
}
