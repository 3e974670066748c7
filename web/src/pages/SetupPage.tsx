import { Button, PasswordInput, Stack, TextInput } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Navigate } from 'react-router-dom';
import { api, fieldError } from '../api.ts';
import { setupKey, useAfterSignIn, useSetupStatus } from '../auth.ts';
import { AuthCard } from '../components/AuthCard.tsx';
import { ErrorAlert } from '../components/ErrorAlert.tsx';

export function SetupPage() {
  const status = useSetupStatus();
  const qc = useQueryClient();
  const afterSignIn = useAfterSignIn();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const setup = useMutation({
    mutationFn: api.setup,
    onSuccess: async () => {
      qc.setQueryData(setupKey, { needsSetup: false });
      await afterSignIn('/');
    },
  });

  if (status.data && !status.data.needsSetup && !setup.isSuccess) return <Navigate to="/login" replace />;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setup.mutate({ name: name.trim(), email: email.trim(), password });
  };
  const err = setup.error;

  return (
    <AuthCard title="Set up mailwarden" subtitle="Create the owner account for this workspace.">
      <form onSubmit={submit} noValidate>
        <Stack>
          <ErrorAlert error={err} />
          <TextInput
            label="Name"
            autoComplete="name"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={fieldError(err, 'name')}
            data-autofocus
          />
          <TextInput
            label="Email"
            type="email"
            autoComplete="email"
            value={email}
            onChange={(e) => setEmail(e.currentTarget.value)}
            error={fieldError(err, 'email')}
          />
          <PasswordInput
            label="Password"
            description="At least 12 characters. Avoid common passwords."
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            error={fieldError(err, 'password')}
          />
          <Button type="submit" loading={setup.isPending} fullWidth>
            Create owner account
          </Button>
        </Stack>
      </form>
    </AuthCard>
  );
}
