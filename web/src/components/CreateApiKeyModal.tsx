import {
  Alert,
  Button,
  Checkbox,
  Code,
  CopyButton,
  Group,
  Modal,
  NativeSelect,
  Stack,
  Text,
  Textarea,
  TextInput,
} from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, fieldError } from '../api.ts';
import { ErrorAlert } from './ErrorAlert.tsx';

const EXPIRY = [
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
  { value: '365', label: '1 year' },
  { value: 'custom', label: 'Custom date' },
  { value: 'never', label: 'Never' },
];

function expiryIso(choice: string, date: string): string | null {
  if (choice === 'never') return null;
  if (choice === 'custom') return date ? new Date(`${date}T23:59:59`).toISOString() : null;
  return new Date(Date.now() + Number(choice) * 86_400_000).toISOString();
}

function parseIps(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function CreateApiKeyModal({
  opened,
  onClose,
  onCreated,
}: {
  opened: boolean;
  onClose: () => void;
  onCreated: () => void;
}) {
  const scopes = useQuery({ queryKey: ['api-keys', 'scopes'], queryFn: api.apiKeyScopes, enabled: opened });
  const [name, setName] = useState('');
  const [selected, setSelected] = useState<string[]>([]);
  const [expiry, setExpiry] = useState('90');
  const [date, setDate] = useState('');
  const [ips, setIps] = useState('');
  const create = useMutation({ mutationFn: api.createApiKey, onSuccess: onCreated });
  const secret = create.data?.secret;

  const close = () => {
    setName('');
    setSelected([]);
    setExpiry('90');
    setDate('');
    setIps('');
    create.reset();
    onClose();
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({
      name: name.trim(),
      scopes: selected,
      expiresAt: expiryIso(expiry, date),
      allowedIps: parseIps(ips),
    });
  };
  const err = create.error;

  return (
    <Modal
      opened={opened}
      onClose={secret ? () => undefined : close}
      closeOnClickOutside={!secret}
      closeOnEscape={!secret}
      withCloseButton={!secret}
      title={secret ? 'API key created' : 'New API key'}
      size="lg"
    >
      {secret ? (
        <Stack>
          <Alert color="yellow" variant="light" title="Copy the key now">
            This is the only time the secret is shown. Store it in your secret manager.
          </Alert>
          <Code
            block
            fz="sm"
            style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}
            data-testid="api-key-secret"
          >
            {secret}
          </Code>
          <Group justify="flex-end">
            <CopyButton value={secret}>
              {({ copied, copy }) => (
                <Button variant="default" onClick={copy}>
                  {copied ? 'Copied' : 'Copy key'}
                </Button>
              )}
            </CopyButton>
            <Button onClick={close}>Done</Button>
          </Group>
        </Stack>
      ) : (
        <form onSubmit={submit} noValidate>
          <Stack>
            <ErrorAlert error={err} />
            <TextInput
              label="Name"
              description="What uses this key, e.g. “CRM sync”."
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              error={fieldError(err, 'name')}
              data-autofocus
            />
            <ErrorAlert error={scopes.error} />
            <Checkbox.Group
              label="Scopes"
              value={selected}
              onChange={setSelected}
              error={fieldError(err, 'scopes')}
            >
              <Stack gap="xs" mt="xs">
                {(scopes.data ?? []).map((s) => (
                  <Checkbox key={s.scope} value={s.scope} label={s.scope} description={s.description} />
                ))}
                {scopes.isPending && (
                  <Text size="sm" c="dimmed">
                    Loading scopes…
                  </Text>
                )}
              </Stack>
            </Checkbox.Group>
            <Group grow align="flex-start">
              <NativeSelect
                label="Expiry"
                data={EXPIRY}
                value={expiry}
                onChange={(e) => setExpiry(e.currentTarget.value)}
              />
              {expiry === 'custom' && (
                <TextInput
                  label="Expiry date"
                  type="date"
                  value={date}
                  onChange={(e) => setDate(e.currentTarget.value)}
                  error={fieldError(err, 'expiresAt')}
                />
              )}
            </Group>
            <Textarea
              label="Allowed IPs"
              description="Optional. One IP address or CIDR range per line; empty allows any address."
              placeholder={'203.0.113.7\n10.0.0.0/8'}
              autosize
              minRows={2}
              value={ips}
              onChange={(e) => setIps(e.currentTarget.value)}
              error={fieldError(err, 'allowedIps')}
            />
            <Group justify="flex-end">
              <Button variant="default" onClick={close}>
                Cancel
              </Button>
              <Button type="submit" loading={create.isPending}>
                Create key
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Modal>
  );
}
