import {
  Alert,
  Anchor,
  Button,
  Center,
  Code,
  CopyButton,
  Group,
  Image,
  Loader,
  Paper,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { api, fieldError } from '../api.ts';
import { meKey, useMe } from '../auth.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { RecoveryCodes } from '../components/RecoveryCodes.tsx';

export function EnrolPage() {
  const me = useMe();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const mandatory = Boolean(me.data?.mustEnrol2fa);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [code, setCode] = useState('');
  const alreadyEnabled = Boolean(me.data?.totpEnabled) && !mandatory && !codes;

  // A query (not an effect) so the secret is generated once even under StrictMode double-mounts.
  const enrol = useQuery({
    queryKey: ['2fa-enrol'],
    queryFn: api.enrol2fa,
    enabled: !alreadyEnabled && codes === null,
    staleTime: Number.POSITIVE_INFINITY,
    gcTime: 0,
    retry: false,
  });
  const confirm = useMutation({
    mutationFn: api.confirm2fa,
    onSuccess: (res) => setCodes(res.recoveryCodes),
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    confirm.mutate(code.replace(/\s+/g, ''));
  };
  const done = async () => {
    qc.removeQueries({ queryKey: ['2fa-enrol'] });
    await qc.fetchQuery({ queryKey: meKey, queryFn: api.me, staleTime: 0 });
    navigate(mandatory ? '/' : '/account', { replace: true });
  };

  return (
    <Stack maw={560}>
      <Title order={2}>Set up two-factor authentication</Title>
      {mandatory && !codes && (
        <Alert color="blue" variant="light">
          Your workspace requires two-factor authentication. Set it up to continue.
        </Alert>
      )}
      {alreadyEnabled ? (
        <Alert color="green" variant="light">
          Two-factor authentication is already enabled. Manage it from{' '}
          <Anchor component={Link} to="/account">
            My account
          </Anchor>
          .
        </Alert>
      ) : codes ? (
        <Paper withBorder p="md">
          <RecoveryCodes codes={codes} onDone={done} />
        </Paper>
      ) : enrol.isPending ? (
        <Center py="xl">
          <Loader aria-label="Loading" />
        </Center>
      ) : enrol.isError ? (
        <Stack>
          <ErrorAlert error={enrol.error} />
          <Group>
            <Button variant="default" onClick={() => enrol.refetch()}>
              Try again
            </Button>
          </Group>
        </Stack>
      ) : (
        <Paper withBorder p="md">
          <Stack>
            <Text>1. Scan this QR code with an authenticator app (or enter the secret by hand).</Text>
            <Center>
              <Image
                src={enrol.data.qrDataUrl}
                alt="QR code for your authenticator app"
                w={200}
                h={200}
                fit="contain"
              />
            </Center>
            <Stack gap={4}>
              <Text size="sm" c="dimmed" id="totp-secret-label">
                Secret key
              </Text>
              <Group gap="xs" wrap="nowrap">
                <Code
                  aria-labelledby="totp-secret-label"
                  fz="md"
                  style={{ wordBreak: 'break-all' }}
                  data-testid="totp-secret"
                >
                  {enrol.data.secret}
                </Code>
                <CopyButton value={enrol.data.secret}>
                  {({ copied, copy }) => (
                    <Button size="compact-sm" variant="default" onClick={copy}>
                      {copied ? 'Copied' : 'Copy secret'}
                    </Button>
                  )}
                </CopyButton>
              </Group>
            </Stack>
            <form onSubmit={submit} noValidate>
              <Stack>
                <Text>2. Enter the 6-digit code the app shows.</Text>
                <ErrorAlert error={confirm.error} />
                <TextInput
                  label="Authentication code"
                  inputMode="numeric"
                  autoComplete="one-time-code"
                  maxLength={10}
                  value={code}
                  onChange={(e) => setCode(e.currentTarget.value)}
                  error={fieldError(confirm.error, 'code')}
                />
                <Group>
                  <Button type="submit" loading={confirm.isPending}>
                    Confirm
                  </Button>
                </Group>
              </Stack>
            </form>
          </Stack>
        </Paper>
      )}
    </Stack>
  );
}
