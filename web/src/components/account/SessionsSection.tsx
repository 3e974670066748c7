import { Badge, Button, Group, Paper, Stack, Table, Title, VisuallyHidden } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Session } from '../../api.ts';
import { fmtDate } from '../../format.ts';
import { ErrorAlert } from '../ErrorAlert.tsx';
import { QueryState } from '../QueryState.tsx';

const key = ['me', 'sessions'] as const;

const BROWSERS: [RegExp, string][] = [
  [/Edg\//, 'Edge'],
  [/Firefox\//, 'Firefox'],
  [/Chrom(e|ium)\//, 'Chrome'],
  [/Safari\//, 'Safari'],
];
const SYSTEMS: [RegExp, string][] = [
  [/Windows/, 'Windows'],
  [/iPhone|iPad/, 'iOS'],
  [/Mac OS X/, 'macOS'],
  [/Android/, 'Android'],
  [/Linux/, 'Linux'],
];

function describeAgent(ua: string | null): string {
  if (!ua) return 'Unknown device';
  const browser = BROWSERS.find(([re]) => re.test(ua))?.[1];
  const os = SYSTEMS.find(([re]) => re.test(ua))?.[1];
  return browser && os ? `${browser} on ${os}` : ua.slice(0, 60);
}

export function SessionsSection() {
  const qc = useQueryClient();
  const sessions = useQuery({ queryKey: key, queryFn: api.sessions });
  const refresh = () => qc.invalidateQueries({ queryKey: key });
  const revoke = useMutation({
    mutationFn: (id: Session['id']) => api.revokeSession(id),
    onSuccess: () => {
      notifications.show({ color: 'green', message: 'Session revoked' });
      return refresh();
    },
  });
  const revokeOthers = useMutation({
    mutationFn: api.revokeOtherSessions,
    onSuccess: () => {
      notifications.show({ color: 'green', message: 'All other sessions ended' });
      return refresh();
    },
  });

  return (
    <Paper withBorder p="md" component="section" aria-labelledby="sessions-heading">
      <Stack>
        <Group justify="space-between">
          <Title order={3} id="sessions-heading">
            Sessions
          </Title>
          <Button
            variant="default"
            size="xs"
            onClick={() => revokeOthers.mutate()}
            loading={revokeOthers.isPending}
          >
            End all other sessions
          </Button>
        </Group>
        <ErrorAlert error={revoke.error ?? revokeOthers.error} />
        <QueryState query={sessions}>
          {(list) => (
            <Table.ScrollContainer minWidth={600}>
              <Table striped aria-labelledby="sessions-heading">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Device</Table.Th>
                    <Table.Th>IP address</Table.Th>
                    <Table.Th>Signed in</Table.Th>
                    <Table.Th>Last active</Table.Th>
                    <Table.Th>
                      <VisuallyHidden>Actions</VisuallyHidden>
                    </Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {list.map((s) => (
                    <Table.Tr key={s.id}>
                      <Table.Td title={s.userAgent ?? undefined}>
                        {describeAgent(s.userAgent)}{' '}
                        {s.current && (
                          <Badge size="sm" color="green" variant="light">
                            This session
                          </Badge>
                        )}
                      </Table.Td>
                      <Table.Td>{s.ip ?? '—'}</Table.Td>
                      <Table.Td>{fmtDate(s.createdAt)}</Table.Td>
                      <Table.Td>{fmtDate(s.lastSeenAt)}</Table.Td>
                      <Table.Td>
                        {!s.current && (
                          <Button
                            size="compact-sm"
                            variant="light"
                            color="red"
                            onClick={() => revoke.mutate(s.id)}
                            loading={revoke.isPending && revoke.variables === s.id}
                          >
                            Revoke
                          </Button>
                        )}
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </QueryState>
      </Stack>
    </Paper>
  );
}
