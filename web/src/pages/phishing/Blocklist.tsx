// The blocklist tab: blocked senders and domains, added and removed by analysts.
import { Button, Code, Group, SegmentedControl, Stack, Table, Text, TextInput } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorMessage, request } from '../../api.ts';
import { QueryState } from '../../components/QueryState.tsx';
import { fmtDate } from '../../format.ts';
import type { BlockEntry } from './types.ts';

/** Blocked senders and domains: their mail always scores as phishing. */
export function Blocklist({ canManage }: { canManage: boolean }) {
  const qc = useQueryClient();
  const [kind, setKind] = useState<'sender' | 'domain'>('domain');
  const [value, setValue] = useState('');
  const list = useQuery({
    queryKey: ['phishing', 'blocklist'],
    queryFn: () => request<{ items: BlockEntry[] }>('GET', '/api/phishing/blocklist'),
  });
  const add = useMutation({
    mutationFn: () => request('POST', '/api/phishing/blocklist', { kind, value }),
    onSuccess: () => {
      setValue('');
      qc.invalidateQueries({ queryKey: ['phishing'] });
    },
  });
  const remove = useMutation({
    mutationFn: (id: number) => request('DELETE', `/api/phishing/blocklist/${id}`),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['phishing'] }),
    onError: (err) => notifications.show({ color: 'red', message: errorMessage(err) }),
  });
  return (
    <Stack gap="xs">
      {canManage && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (value.trim()) add.mutate();
          }}
        >
          <Group align="flex-end" gap="xs">
            <SegmentedControl
              size="xs"
              value={kind}
              onChange={(v) => setKind(v as 'sender' | 'domain')}
              data={['domain', 'sender']}
            />
            <TextInput
              size="xs"
              aria-label="Sender address or domain to block"
              placeholder={kind === 'domain' ? 'evil.example' : 'someone@evil.example'}
              value={value}
              onChange={(e) => setValue(e.currentTarget.value)}
              error={add.isError ? errorMessage(add.error) : undefined}
            />
            <Button size="xs" type="submit" color="dark" loading={add.isPending}>
              Block
            </Button>
          </Group>
        </form>
      )}
      <QueryState query={list}>
        {(d) =>
          d.items.length === 0 ? (
            <Text size="sm" c="dimmed">
              Nothing is blocked.
            </Text>
          ) : (
            <Table striped fz="xs">
              <Table.Tbody>
                {d.items.map((b) => (
                  <Table.Tr key={b.id}>
                    <Table.Td>{b.kind}</Table.Td>
                    <Table.Td>
                      <Code>{b.value}</Code>
                    </Table.Td>
                    <Table.Td>{b.reason}</Table.Td>
                    <Table.Td>
                      {b.createdBy} · {fmtDate(b.createdAt)}
                    </Table.Td>
                    <Table.Td>
                      {canManage && (
                        <Button
                          size="compact-xs"
                          variant="subtle"
                          color="red"
                          onClick={() => remove.mutate(b.id)}
                          aria-label={`Unblock ${b.value}`}
                        >
                          Unblock
                        </Button>
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )
        }
      </QueryState>
    </Stack>
  );
}
