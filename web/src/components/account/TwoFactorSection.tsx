import { Badge, Button, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { Link } from 'react-router-dom';
import type { Me } from '../../api.ts';
import { DisableTwoFactorModal } from './DisableTwoFactorModal.tsx';
import { RegenerateCodesModal } from './RegenerateCodesModal.tsx';

export function TwoFactorSection({ me }: { me: Me }) {
  const [dialog, setDialog] = useState<'regenerate' | 'disable' | null>(null);
  const close = () => setDialog(null);
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="twofactor-heading">
      <Stack>
        <Group gap="sm">
          <Title order={3} id="twofactor-heading">
            Two-factor authentication
          </Title>
          {me.totpEnabled ? <Badge color="green">Enabled</Badge> : <Badge color="gray">Not enabled</Badge>}
        </Group>
        {me.totpEnabled ? (
          <>
            <Text size="sm" c="dimmed">
              Sign-ins ask for a code from your authenticator app. Recovery codes let you in if you lose it.
            </Text>
            <Group>
              <Button variant="default" onClick={() => setDialog('regenerate')}>
                Regenerate recovery codes
              </Button>
              <Button variant="light" color="red" onClick={() => setDialog('disable')}>
                Disable two-factor authentication
              </Button>
            </Group>
          </>
        ) : (
          <>
            <Text size="sm" c="dimmed">
              Protect your account with a code from an authenticator app in addition to your password.
            </Text>
            <Group>
              <Button component={Link} to="/enrol">
                Enable two-factor authentication
              </Button>
            </Group>
          </>
        )}
      </Stack>
      <RegenerateCodesModal opened={dialog === 'regenerate'} onClose={close} />
      <DisableTwoFactorModal opened={dialog === 'disable'} onClose={close} />
    </Paper>
  );
}
