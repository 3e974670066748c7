// The analyst queue: one row per case (repeated reports of a message are merged), with sender,
// verdict and score, state, report count, an unverified-reporter warning and the top reasons.
import { Badge, Button, Group, Paper, ScrollArea, Text, Tooltip, UnstyledButton } from '@mantine/core';
import { fmtDate } from '../../format.ts';
import { ReportBadges, VerdictBadge } from './badges.tsx';
import { type QueueItem, stateColor, stateLabel } from './types.ts';

export function QueueList({
  items,
  selected,
  onSelect,
  isPending,
  hasNextPage,
  isFetchingNextPage,
  fetchNextPage,
}: {
  items: QueueItem[];
  selected: number | null;
  onSelect: (id: number) => void;
  isPending: boolean;
  hasNextPage: boolean;
  isFetchingNextPage: boolean;
  fetchNextPage: () => void;
}) {
  return (
    <Paper withBorder>
      <ScrollArea h={760}>
        {items.length === 0 && !isPending && (
          <Text p="md" c="dimmed">
            Nothing here.
          </Text>
        )}
        {items.map((m) => (
          <UnstyledButton
            key={m.id}
            onClick={() => onSelect(m.id)}
            p="sm"
            w="100%"
            aria-current={selected === m.id}
            style={{
              borderBottom: '1px solid var(--mantine-color-gray-2)',
              background: selected === m.id ? 'var(--mantine-color-blue-0)' : undefined,
            }}
          >
            <Group justify="space-between" wrap="nowrap">
              <Text size="sm" fw={600} truncate>
                {m.fromAddress || '(no sender)'}
              </Text>
              <VerdictBadge verdict={m.verdict} score={m.score} />
            </Group>
            <Text size="sm" truncate>
              {m.subject || '(no subject)'}
            </Text>
            <Group gap={4} wrap="nowrap">
              <Badge size="xs" color={stateColor[m.state]} variant="light">
                {stateLabel[m.state]}
              </Badge>
              <Text size="xs" c="dimmed" truncate>
                {m.source} · {fmtDate(m.createdAt)}
              </Text>
            </Group>
            {(m.source !== 'gateway' || m.reporterVerified === false) && (
              <Group gap={4} wrap="nowrap" mt={2}>
                <ReportBadges item={m} />
              </Group>
            )}
            <Tooltip
              label={m.reasons.map((r) => r.detail).join(' · ')}
              multiline
              w={320}
              disabled={m.reasons.length === 0}
            >
              <Text size="xs" c="dimmed" truncate>
                {m.reasons
                  .filter((r) => r.weight > 0)
                  .slice(0, 3)
                  .map((r) => r.signal)
                  .join(', ')}
              </Text>
            </Tooltip>
          </UnstyledButton>
        ))}
        {hasNextPage && (
          <Button variant="subtle" fullWidth onClick={() => fetchNextPage()} loading={isFetchingNextPage}>
            Load more
          </Button>
        )}
      </ScrollArea>
    </Paper>
  );
}
