// Who reported a case: the distinct reporters (the server keeps at most 50), each marked when the
// address is not a known staff member or workspace domain, and the total number of reports.
import { Badge, Group, Paper, ScrollArea, Stack, Text } from '@mantine/core';
import { fmtDate } from '../../format.ts';
import { reportsLabel } from './badges.tsx';
import { type Detail, MAX_REPORTERS } from './types.ts';

export function Reporters({
  m,
}: {
  m: Pick<Detail, 'reporters' | 'reporter' | 'reporterVerified' | 'reportCount' | 'lastReportedAt'>;
}) {
  // Rows stored before cases were merged have no list: fall back to the single reporter.
  const list = (
    m.reporters?.length
      ? m.reporters
      : m.reporter
        ? [{ address: m.reporter, verified: m.reporterVerified !== false }]
        : []
  ).slice(0, MAX_REPORTERS);
  const unverified = list.filter((r) => !r.verified).length;
  return (
    <Paper withBorder p="xs">
      <Stack gap={4}>
        <Group gap="xs">
          <Text size="sm" fw={600}>
            Reporters ({list.length})
          </Text>
          <Text size="xs" c="dimmed">
            {reportsLabel(m.reportCount)}
            {m.lastReportedAt ? ` · last reported ${fmtDate(m.lastReportedAt)}` : ''}
            {unverified > 0 ? ` · ${unverified} unverified` : ''}
          </Text>
        </Group>
        {list.length === 0 ? (
          <Text size="xs" c="dimmed">
            No reporter address recorded.
          </Text>
        ) : (
          <ScrollArea.Autosize mah={160}>
            <ul aria-label="Reporters" style={{ listStyle: 'none', margin: 0, padding: 0 }}>
              {list.map((r) => (
                <li key={r.address}>
                  <Group gap={6} wrap="nowrap">
                    <Text size="xs" truncate>
                      {r.address}
                    </Text>
                    {!r.verified && (
                      <Badge size="xs" color="yellow" variant="light">
                        unverified
                      </Badge>
                    )}
                  </Group>
                </li>
              ))}
            </ul>
          </ScrollArea.Autosize>
        )}
        {list.length >= MAX_REPORTERS && (
          <Text size="xs" c="dimmed">
            Only the first {MAX_REPORTERS} reporters are kept.
          </Text>
        )}
      </Stack>
    </Paper>
  );
}
