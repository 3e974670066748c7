import { Badge, Button, Code, Group, Stack, Table, Text, Title, VisuallyHidden } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { type ApiKey, api } from '../api.ts';
import { ConfirmModal } from '../components/ConfirmModal.tsx';
import { CreateApiKeyModal } from '../components/CreateApiKeyModal.tsx';
import { QueryState } from '../components/QueryState.tsx';
import { fmtDate, isPast } from '../format.ts';

const key = ['api-keys'] as const;

function KeyStatus({ k }: { k: ApiKey }) {
  if (k.revokedAt)
    return (
      <Badge color="red" title={`Revoked ${fmtDate(k.revokedAt)}`}>
        Revoked
      </Badge>
    );
  if (isPast(k.expiresAt)) return <Badge color="gray">Expired</Badge>;
  return <Badge color="green">Active</Badge>;
}

export function ApiKeysPage() {
  const qc = useQueryClient();
  const keys = useQuery({ queryKey: key, queryFn: api.apiKeys });
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const revoke = useMutation({
    mutationFn: (k: ApiKey) => api.revokeApiKey(k.id),
    onSuccess: (_r, k) => {
      notifications.show({ color: 'green', message: `API key revoked: ${k.name}` });
      setRevoking(null);
      return qc.invalidateQueries({ queryKey: key });
    },
  });

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>API keys</Title>
        <Button onClick={() => setCreating(true)}>New API key</Button>
      </Group>
      <Text size="sm" c="dimmed">
        Keys let other systems call the mailwarden API with the scopes you grant. Secrets are shown once, at
        creation.
      </Text>
      <QueryState query={keys}>
        {(list) =>
          list.length === 0 ? (
            <Text c="dimmed">No API keys yet.</Text>
          ) : (
            <Table.ScrollContainer minWidth={1000}>
              <Table striped highlightOnHover verticalSpacing="xs" aria-label="API keys">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Name</Table.Th>
                    <Table.Th>Key</Table.Th>
                    <Table.Th>Scopes</Table.Th>
                    <Table.Th>Status</Table.Th>
                    <Table.Th>Expires</Table.Th>
                    <Table.Th>Allowed IPs</Table.Th>
                    <Table.Th>Last used</Table.Th>
                    <Table.Th>Created</Table.Th>
                    <Table.Th>
                      <VisuallyHidden>Actions</VisuallyHidden>
                    </Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {list.map((k) => (
                    <Table.Tr key={k.id}>
                      <Table.Td>{k.name}</Table.Td>
                      <Table.Td>
                        <Code>{k.prefix}…</Code>
                      </Table.Td>
                      <Table.Td>
                        <Group gap={4}>
                          {k.scopes.map((s) => (
                            <Badge key={s} variant="outline" size="sm" tt="none">
                              {s}
                            </Badge>
                          ))}
                        </Group>
                      </Table.Td>
                      <Table.Td>
                        <KeyStatus k={k} />
                      </Table.Td>
                      <Table.Td>{k.expiresAt ? fmtDate(k.expiresAt) : 'Never'}</Table.Td>
                      <Table.Td>{k.allowedIps?.length ? k.allowedIps.join(', ') : 'Any'}</Table.Td>
                      <Table.Td>
                        {k.lastUsedAt
                          ? `${fmtDate(k.lastUsedAt)}${k.lastUsedIp ? ` from ${k.lastUsedIp}` : ''}`
                          : 'Never'}
                      </Table.Td>
                      <Table.Td>{fmtDate(k.createdAt)}</Table.Td>
                      <Table.Td>
                        {!k.revokedAt && (
                          <Button
                            size="compact-xs"
                            variant="light"
                            color="red"
                            onClick={() => setRevoking(k)}
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
          )
        }
      </QueryState>
      <CreateApiKeyModal
        opened={creating}
        onClose={() => setCreating(false)}
        onCreated={() => void qc.invalidateQueries({ queryKey: key })}
      />
      <ConfirmModal
        opened={revoking !== null}
        title="Revoke API key"
        confirmLabel="Revoke key"
        loading={revoke.isPending}
        error={revoke.error}
        onClose={() => {
          revoke.reset();
          setRevoking(null);
        }}
        onConfirm={() => revoking && revoke.mutate(revoking)}
      >
        Systems using “{revoking?.name}” will be refused immediately. This cannot be undone.
      </ConfirmModal>
    </Stack>
  );
}
