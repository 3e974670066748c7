import { Badge, Button, Group, NativeSelect, Stack, Table, Text, Title, VisuallyHidden } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ROLES, type Role, type User } from '../api.ts';
import { useMe } from '../auth.ts';
import { ConfirmModal } from '../components/ConfirmModal.tsx';
import { CreateUserModal } from '../components/CreateUserModal.tsx';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { QueryState } from '../components/QueryState.tsx';
import { fmtDate, isPast } from '../format.ts';

const key = ['users'] as const;

type Action =
  | { kind: 'role'; user: User; role: Role }
  | { kind: 'disabled'; user: User; disabled: boolean }
  | { kind: 'unlock' | 'reset2fa' | 'revoke'; user: User };

const done: Record<Action['kind'], string> = {
  role: 'Role changed',
  disabled: 'User updated',
  unlock: 'User unlocked',
  reset2fa: 'Two-factor authentication reset',
  revoke: 'Sessions revoked',
};

function run(a: Action): Promise<unknown> {
  switch (a.kind) {
    case 'role':
      return api.updateUser(a.user.id, { role: a.role });
    case 'disabled':
      return api.updateUser(a.user.id, { disabled: a.disabled });
    case 'unlock':
      return api.unlockUser(a.user.id);
    case 'reset2fa':
      return api.reset2fa(a.user.id);
    case 'revoke':
      return api.revokeUserSessions(a.user.id);
  }
}

function StatusBadges({ user }: { user: User }) {
  const locked = Boolean(user.lockedUntil) && !isPast(user.lockedUntil);
  return (
    <Group gap={4}>
      {user.disabled ? <Badge color="gray">Disabled</Badge> : <Badge color="green">Active</Badge>}
      {locked && (
        <Badge color="orange" title={`Locked until ${fmtDate(user.lockedUntil)}`}>
          Locked
        </Badge>
      )}
      <Badge variant="outline" color={user.totpEnabled ? 'blue' : 'gray'}>
        {user.totpEnabled ? '2FA on' : '2FA off'}
      </Badge>
    </Group>
  );
}

export function UsersPage() {
  const qc = useQueryClient();
  const me = useMe();
  const users = useQuery({ queryKey: key, queryFn: api.users });
  const [creating, setCreating] = useState(false);
  const [confirmReset, setConfirmReset] = useState<User | null>(null);
  const act = useMutation({
    mutationFn: run,
    onSuccess: (_res, a) => {
      notifications.show({ color: 'green', message: `${done[a.kind]}: ${a.user.email}` });
      setConfirmReset(null);
      return qc.invalidateQueries({ queryKey: key });
    },
  });
  const busy = (u: User, kind: Action['kind']) =>
    act.isPending && act.variables?.user.id === u.id && act.variables.kind === kind;

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Users</Title>
        <Button onClick={() => setCreating(true)}>New user</Button>
      </Group>
      <ErrorAlert error={act.error} />
      <QueryState query={users}>
        {(list) => (
          <Table.ScrollContainer minWidth={960}>
            <Table striped highlightOnHover verticalSpacing="xs" aria-label="Users">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>Email</Table.Th>
                  <Table.Th>Role</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th>Last sign-in</Table.Th>
                  <Table.Th>
                    <VisuallyHidden>Actions</VisuallyHidden>
                  </Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {list.map((u) => {
                  const self = me.data && String(me.data.id) === String(u.id);
                  const locked = Boolean(u.lockedUntil) && !isPast(u.lockedUntil);
                  return (
                    <Table.Tr key={u.id}>
                      <Table.Td>
                        {u.name}{' '}
                        {self && (
                          <Text span size="xs" c="dimmed">
                            (you)
                          </Text>
                        )}
                      </Table.Td>
                      <Table.Td>{u.email}</Table.Td>
                      <Table.Td>
                        <NativeSelect
                          aria-label={`Role for ${u.email}`}
                          size="xs"
                          data={ROLES}
                          value={u.role}
                          disabled={act.isPending || Boolean(self)}
                          title={self ? 'You cannot change your own role' : undefined}
                          onChange={(e) =>
                            act.mutate({ kind: 'role', user: u, role: e.currentTarget.value as Role })
                          }
                        />
                      </Table.Td>
                      <Table.Td>
                        <StatusBadges user={u} />
                      </Table.Td>
                      <Table.Td>{fmtDate(u.lastLoginAt)}</Table.Td>
                      <Table.Td>
                        <Group gap={4} wrap="nowrap">
                          <Button
                            size="compact-xs"
                            variant="light"
                            color={u.disabled ? 'green' : 'red'}
                            disabled={Boolean(self)}
                            title={self ? 'You cannot disable your own account' : undefined}
                            loading={busy(u, 'disabled')}
                            onClick={() => act.mutate({ kind: 'disabled', user: u, disabled: !u.disabled })}
                          >
                            {u.disabled ? 'Enable' : 'Disable'}
                          </Button>
                          {locked && (
                            <Button
                              size="compact-xs"
                              variant="light"
                              loading={busy(u, 'unlock')}
                              onClick={() => act.mutate({ kind: 'unlock', user: u })}
                            >
                              Unlock
                            </Button>
                          )}
                          {u.totpEnabled && (
                            <Button
                              size="compact-xs"
                              variant="light"
                              color="orange"
                              onClick={() => setConfirmReset(u)}
                            >
                              Reset 2FA
                            </Button>
                          )}
                          <Button
                            size="compact-xs"
                            variant="light"
                            color="gray"
                            loading={busy(u, 'revoke')}
                            onClick={() => act.mutate({ kind: 'revoke', user: u })}
                          >
                            Revoke sessions
                          </Button>
                        </Group>
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </QueryState>
      <CreateUserModal
        opened={creating}
        onClose={() => setCreating(false)}
        onCreated={(u) => {
          setCreating(false);
          notifications.show({ color: 'green', message: `User created: ${u?.email ?? ''}` });
          void qc.invalidateQueries({ queryKey: key });
        }}
      />
      <ConfirmModal
        opened={confirmReset !== null}
        title="Reset two-factor authentication"
        confirmLabel="Reset two-factor authentication"
        loading={act.isPending}
        error={act.variables?.kind === 'reset2fa' ? act.error : null}
        onClose={() => {
          act.reset();
          setConfirmReset(null);
        }}
        onConfirm={() => confirmReset && act.mutate({ kind: 'reset2fa', user: confirmReset })}
      >
        {confirmReset?.email} will have to set up two-factor authentication again at next sign-in. Their
        recovery codes stop working and their sessions may be signed out.
      </ConfirmModal>
    </Stack>
  );
}
