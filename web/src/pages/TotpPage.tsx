import { Anchor, Button, Group, Stack, TextInput } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useLocation } from 'react-router-dom';
import { api, fieldError } from '../api.ts';
import { useAfterSignIn } from '../auth.ts';
import { AuthCard } from '../components/AuthCard.tsx';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { returnPath } from './LoginPage.tsx';

export function TotpPage() {
  const location = useLocation();
  const afterSignIn = useAfterSignIn();
  const [useRecovery, setUseRecovery] = useState(false);
  const [code, setCode] = useState('');
  const [recoveryCode, setRecoveryCode] = useState('');
  const verify = useMutation({
    mutationFn: api.totp,
    onSuccess: () => afterSignIn(returnPath(location.state)),
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    verify.mutate(useRecovery ? { recoveryCode: recoveryCode.trim() } : { code: code.replace(/\s+/g, '') });
  };
  const toggle = () => {
    verify.reset();
    setUseRecovery((v) => !v);
  };

  return (
    <AuthCard
      title="Two-factor authentication"
      subtitle={
        useRecovery
          ? 'Enter one of your recovery codes. Each code works once.'
          : 'Enter the 6-digit code from your authenticator app.'
      }
    >
      <form onSubmit={submit} noValidate>
        <Stack>
          <ErrorAlert error={verify.error} />
          {useRecovery ? (
            <TextInput
              key="recovery"
              label="Recovery code"
              autoComplete="off"
              autoCapitalize="off"
              spellCheck={false}
              value={recoveryCode}
              onChange={(e) => setRecoveryCode(e.currentTarget.value)}
              error={fieldError(verify.error, 'recoveryCode')}
              data-autofocus
              autoFocus
            />
          ) : (
            <TextInput
              key="code"
              label="Authentication code"
              inputMode="numeric"
              autoComplete="one-time-code"
              maxLength={10}
              value={code}
              onChange={(e) => setCode(e.currentTarget.value)}
              error={fieldError(verify.error, 'code')}
              data-autofocus
              autoFocus
            />
          )}
          <Button type="submit" loading={verify.isPending} fullWidth>
            Verify
          </Button>
          <Group justify="space-between">
            <Anchor component="button" type="button" size="sm" onClick={toggle}>
              {useRecovery ? 'Use an authentication code' : 'Use a recovery code'}
            </Anchor>
            <Anchor component={Link} to="/login" size="sm">
              Back to sign in
            </Anchor>
          </Group>
        </Stack>
      </form>
    </AuthCard>
  );
}
