// SMTP relays of the workspace (/api/smtp-relays). The password is write-only:
// the API only says whether one is set, so the form leaves it empty and sends
// it only when the user types a new one.
import {
  Alert,
  Badge,
  Button,
  Group,
  Modal,
  NumberInput,
  PasswordInput,
  Select,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
  VisuallyHidden,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { fieldError, request } from '../api.ts';
import { ConfirmModal } from '../components/ConfirmModal.tsx';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { QueryState } from '../components/QueryState.tsx';

type Security = 'starttls' | 'tls' | 'none';

interface Relay {
  id: number;
  name: string;
  host: string;
  port: number;
  security: Security;
  username: string | null;
  hasPassword: boolean;
  weight: number;
  enabled: boolean;
  perSecond: number | null;
  perHour: number | null;
  perDay: number | null;
}

interface TestResult {
  ok: boolean;
  error?: string;
  durationMs: number;
}

const key = ['smtp-relays'] as const;

const securityLabels: Record<Security, string> = {
  starttls: 'STARTTLS (port 587)',
  tls: 'Implicit TLS (port 465)',
  none: 'None (only for a relay on this machine)',
};

const toNum = (v: string | number): number | null => (v === '' ? null : Number(v));

function limitsText(r: Relay): string {
  const parts = [
    r.perSecond && `${r.perSecond}/s`,
    r.perHour && `${r.perHour}/h`,
    r.perDay && `${r.perDay}/day`,
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'None';
}

function RelayModal({ relay, onClose }: { relay: Relay | 'new'; onClose: () => void }) {
  const qc = useQueryClient();
  const init = relay === 'new' ? null : relay;
  const [name, setName] = useState(init?.name ?? '');
  const [host, setHost] = useState(init?.host ?? '');
  const [port, setPort] = useState<string | number>(init?.port ?? 587);
  const [security, setSecurity] = useState<Security>(init?.security ?? 'starttls');
  const [username, setUsername] = useState(init?.username ?? '');
  const [password, setPassword] = useState('');
  const [clearPassword, setClearPassword] = useState(false);
  const [weight, setWeight] = useState<string | number>(init?.weight ?? 1);
  const [perSecond, setPerSecond] = useState<string | number>(init?.perSecond ?? '');
  const [perHour, setPerHour] = useState<string | number>(init?.perHour ?? '');
  const [perDay, setPerDay] = useState<string | number>(init?.perDay ?? '');
  const save = useMutation({
    mutationFn: (body: Record<string, unknown>) =>
      init
        ? request<Relay>('PATCH', `/api/smtp-relays/${init.id}`, body)
        : request<Relay>('POST', '/api/smtp-relays', body),
    onSuccess: () => {
      notifications.show({ color: 'green', message: init ? 'Relay saved' : 'Relay added' });
      void qc.invalidateQueries({ queryKey: key });
      onClose();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const body: Record<string, unknown> = {
      name,
      host,
      port: Number(port),
      security,
      username: username || null,
      weight: Number(weight),
      perSecond: toNum(perSecond),
      perHour: toNum(perHour),
      perDay: toNum(perDay),
    };
    // Only send the password when it changes: the server keeps the stored one otherwise.
    if (password) body.password = password;
    else if (init?.hasPassword && (clearPassword || !username)) body.password = null;
    save.mutate(body);
  };
  const err = save.error;
  return (
    <Modal opened onClose={onClose} title={init ? `Edit relay ${init.name}` : 'Add SMTP relay'} size="lg">
      <form onSubmit={submit} noValidate>
        <Stack>
          <ErrorAlert error={err} />
          <TextInput
            label="Name"
            required
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={fieldError(err, 'name')}
          />
          <Group grow align="flex-start">
            <TextInput
              label="Host"
              required
              placeholder="smtp.example.com"
              value={host}
              onChange={(e) => setHost(e.currentTarget.value)}
              error={fieldError(err, 'host')}
            />
            <NumberInput
              label="Port"
              min={1}
              max={65535}
              allowDecimal={false}
              value={port}
              onChange={setPort}
              error={fieldError(err, 'port')}
            />
          </Group>
          <Select
            label="Security"
            data={(Object.keys(securityLabels) as Security[]).map((v) => ({
              value: v,
              label: securityLabels[v],
            }))}
            value={security}
            onChange={(v) => v && setSecurity(v as Security)}
            allowDeselect={false}
            error={fieldError(err, 'security')}
          />
          <Group grow align="flex-start">
            <TextInput
              label="Username"
              value={username}
              onChange={(e) => setUsername(e.currentTarget.value)}
              autoComplete="off"
              error={fieldError(err, 'username')}
            />
            <PasswordInput
              label="Password"
              description={init?.hasPassword ? 'Stored. Leave empty to keep it.' : undefined}
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
              autoComplete="new-password"
              error={fieldError(err, 'password')}
            />
          </Group>
          {init?.hasPassword && (
            <Switch
              label="Remove the stored password"
              checked={clearPassword}
              onChange={(e) => setClearPassword(e.currentTarget.checked)}
            />
          )}
          <NumberInput
            label="Weight"
            description="Share of the traffic relative to the other enabled relays."
            min={1}
            max={1000}
            allowDecimal={false}
            value={weight}
            onChange={setWeight}
            error={fieldError(err, 'weight')}
          />
          <Text size="sm" fw={500}>
            Rate limits (empty = none; shared by every worker process)
          </Text>
          <Group grow align="flex-start">
            <NumberInput
              label="Per second"
              min={1}
              allowDecimal={false}
              value={perSecond}
              onChange={setPerSecond}
              error={fieldError(err, 'perSecond')}
            />
            <NumberInput
              label="Per hour"
              min={1}
              allowDecimal={false}
              value={perHour}
              onChange={setPerHour}
              error={fieldError(err, 'perHour')}
            />
            <NumberInput
              label="Per day"
              min={1}
              allowDecimal={false}
              value={perDay}
              onChange={setPerDay}
              error={fieldError(err, 'perDay')}
            />
          </Group>
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending}>
              {init ? 'Save relay' : 'Add relay'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function TestOutcome({ result }: { result: TestResult | undefined }) {
  if (!result) return null;
  return result.ok ? (
    <Badge color="green" title={`${result.durationMs} ms`}>
      Connection OK
    </Badge>
  ) : (
    <Text size="xs" c="red" maw={320}>
      {result.error}
    </Text>
  );
}

export function RelaysPage() {
  const qc = useQueryClient();
  const relays = useQuery({
    queryKey: key,
    queryFn: () => request<{ items: Relay[] }>('GET', '/api/smtp-relays'),
  });
  const [editing, setEditing] = useState<Relay | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Relay | null>(null);
  const [tests, setTests] = useState<Record<number, TestResult>>({});
  const toggle = useMutation({
    mutationFn: (r: Relay) => request<Relay>('PATCH', `/api/smtp-relays/${r.id}`, { enabled: !r.enabled }),
    onSuccess: () => qc.invalidateQueries({ queryKey: key }),
  });
  const test = useMutation({
    mutationFn: (r: Relay) => request<TestResult>('POST', `/api/smtp-relays/${r.id}/test`),
    onSuccess: (res, r) => setTests((t) => ({ ...t, [r.id]: res })),
  });
  const remove = useMutation({
    mutationFn: (r: Relay) => request<unknown>('DELETE', `/api/smtp-relays/${r.id}`),
    onSuccess: (_x, r) => {
      notifications.show({ color: 'green', message: `Relay deleted: ${r.name}` });
      setDeleting(null);
      return qc.invalidateQueries({ queryKey: key });
    },
  });

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>SMTP relays</Title>
        <Button onClick={() => setEditing('new')}>Add relay</Button>
      </Group>
      <Text size="sm" c="dimmed">
        Mail goes out through the enabled relays, shared by weight, failing over when one is down. Without
        enabled relays, the relay of SMTP_URL is used, or mail is captured in the Outbox. Changes reach every
        worker within a few seconds.
      </Text>
      <ErrorAlert error={toggle.error ?? test.error} />
      <QueryState query={relays}>
        {({ items }) =>
          items.length === 0 ? (
            <Alert color="gray">No relays configured here.</Alert>
          ) : (
            <Table.ScrollContainer minWidth={900}>
              <Table striped verticalSpacing="xs" aria-label="SMTP relays">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Name</Table.Th>
                    <Table.Th>Server</Table.Th>
                    <Table.Th>Security</Table.Th>
                    <Table.Th>Login</Table.Th>
                    <Table.Th>Weight</Table.Th>
                    <Table.Th>Limits</Table.Th>
                    <Table.Th>Enabled</Table.Th>
                    <Table.Th>
                      <VisuallyHidden>Actions</VisuallyHidden>
                    </Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {items.map((r) => (
                    <Table.Tr key={r.id}>
                      <Table.Td>{r.name}</Table.Td>
                      <Table.Td>
                        {r.host}:{r.port}
                      </Table.Td>
                      <Table.Td>
                        <Badge color={r.security === 'none' ? 'orange' : 'blue'} variant="light">
                          {r.security}
                        </Badge>
                      </Table.Td>
                      <Table.Td>
                        {r.username ? `${r.username}${r.hasPassword ? ' (password set)' : ''}` : 'None'}
                      </Table.Td>
                      <Table.Td>{r.weight}</Table.Td>
                      <Table.Td>{limitsText(r)}</Table.Td>
                      <Table.Td>
                        <Switch
                          aria-label={`Enable ${r.name}`}
                          checked={r.enabled}
                          disabled={toggle.isPending}
                          onChange={() => toggle.mutate(r)}
                        />
                      </Table.Td>
                      <Table.Td>
                        <Group gap="xs" wrap="nowrap">
                          <Button
                            size="compact-xs"
                            variant="light"
                            loading={test.isPending && test.variables?.id === r.id}
                            onClick={() => test.mutate(r)}
                          >
                            Test
                          </Button>
                          <Button size="compact-xs" variant="light" onClick={() => setEditing(r)}>
                            Edit
                          </Button>
                          <Button
                            size="compact-xs"
                            variant="light"
                            color="red"
                            onClick={() => setDeleting(r)}
                          >
                            Delete
                          </Button>
                          <TestOutcome result={tests[r.id]} />
                        </Group>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )
        }
      </QueryState>
      {editing && (
        <RelayModal
          key={editing === 'new' ? 'new' : editing.id}
          relay={editing}
          onClose={() => setEditing(null)}
        />
      )}
      <ConfirmModal
        opened={deleting !== null}
        title="Delete relay"
        confirmLabel="Delete"
        loading={remove.isPending}
        error={remove.error}
        onConfirm={() => deleting && remove.mutate(deleting)}
        onClose={() => setDeleting(null)}
      >
        {`Delete ${deleting?.name ?? ''}? Workers stop using it within a few seconds.`}
      </ConfirmModal>
    </Stack>
  );
}
