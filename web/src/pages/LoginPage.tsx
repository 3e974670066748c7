import { Button, PasswordInput, Stack, TextInput } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router-dom';
import { api, fieldError } from '../api.ts';
import { useAfterSignIn, useMe, useSetupStatus } from '../auth.ts';
import { AuthCard } from '../components/AuthCard.tsx';
import { ErrorAlert } from '../components/ErrorAlert.tsx';

export function returnPath(state: unknown): string {
  const from = (state as { from?: unknown } | null)?.from;
  return typeof from === 'string' && from.startsWith('/') && !from.startsWith('//') ? from : '/';
}

export function LoginPage() {
  const location = useLocation();
  const navigate = useNavigate();
  const from = returnPath(location.state);
  const me = useMe();
  const setup = useSetupStatus();
  const afterSignIn = useAfterSignIn();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const login = useMutation({
    mutationFn: api.login,
    onSuccess: async (res) => {
      if (res.status === 'totp_required') navigate('/login/totp', { state: { from } });
      else if (res.status === 'enrol_required') await afterSignIn('/enrol');
      else await afterSignIn(from);
    },
  });

  if (setup.data?.needsSetup) return <Navigate to="/setup" replace />;
  if (me.data && !login.isPending && !login.isSuccess) {
    return <Navigate to={me.data.mustEnrol2fa ? '/enrol' : from} replace />;
  }

  const submit = (e: FormEvent) => {
    e.preventDefault();
    login.mutate({ email: email.trim(), password });
  };

  return (
    <AuthCard title="Sign in">
      <form onSubmit={submit} noValidate>
        <Stack>
          <ErrorAlert error={login.error} />
          <TextInput
            label="Email"
            type="email"
            autoComplete="username"
            value={email}
            onChange={(e) => setEmail(e.currentTarget.value)}
            error={fieldError(login.error, 'email')}
            data-autofocus
          />
          <PasswordInput
            label="Password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            error={fieldError(login.error, 'password')}
          />
          <Button type="submit" loading={login.isPending} fullWidth>
            Sign in
          </Button>
        </Stack>
      </form>
    </AuthCard>
  );
}
