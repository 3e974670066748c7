import { Badge, Table, Text } from '@mantine/core';
import type { AuditEntry } from '../api.ts';
import { fmtDate } from '../format.ts';

const OUTCOME_COLOR: Record<string, string> = {
  success: 'green',
  failure: 'red',
  denied: 'orange',
  error: 'red',
};

function detailsText(details: unknown): string {
  if (details === null || details === undefined) return '';
  if (typeof details === 'string') return details;
  const s = JSON.stringify(details);
  return s === '{}' ? '' : s;
}

export function AuditTable({ items }: { items: AuditEntry[] }) {
  return (
    <Table.ScrollContainer minWidth={1000}>
      <Table striped verticalSpacing="xs" fz="sm" aria-label="Audit log entries">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Time</Table.Th>
            <Table.Th>Actor</Table.Th>
            <Table.Th>Action</Table.Th>
            <Table.Th>Target</Table.Th>
            <Table.Th>Outcome</Table.Th>
            <Table.Th>IP address</Table.Th>
            <Table.Th>Details</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.map((e) => {
            const details = detailsText(e.details);
            return (
              <Table.Tr key={e.id}>
                <Table.Td style={{ whiteSpace: 'nowrap' }} title={`#${e.id} · ${e.at}`}>
                  {fmtDate(e.at)}
                </Table.Td>
                <Table.Td>
                  {e.actorLabel ?? (e.actorId !== null ? String(e.actorId) : '—')}
                  <Text span size="xs" c="dimmed">
                    {' '}
                    ({e.actorType})
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text span ff="monospace" size="sm">
                    {e.action}
                  </Text>
                </Table.Td>
                <Table.Td>{e.target ?? '—'}</Table.Td>
                <Table.Td miw={100}>
                  <Badge size="sm" variant="light" color={OUTCOME_COLOR[e.outcome] ?? 'gray'}>
                    {e.outcome}
                  </Badge>
                </Table.Td>
                <Table.Td title={e.userAgent ?? undefined}>{e.ip ?? '—'}</Table.Td>
                <Table.Td maw={320}>
                  <Text
                    size="xs"
                    ff="monospace"
                    lineClamp={2}
                    title={details}
                    style={{ wordBreak: 'break-all' }}
                  >
                    {details || '—'}
                  </Text>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
