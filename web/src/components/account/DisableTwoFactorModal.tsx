import { Button, Group, Modal, PasswordInput, Stack, Text, TextInput } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, fieldError } from '../../api.ts';
import { meKey } from '../../auth.ts';
import { ErrorAlert } from '../ErrorAlert.tsx';

export function DisableTwoFactorModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const qc = useQueryClient();
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const close = () => {
    setPassword('');
    setCode('');
    disable.reset();
    onClose();
  };
  const disable = useMutation({
    mutationFn: api.disable2fa,
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: meKey });
      notifications.show({ color: 'green', message: 'Two-factor authentication disabled' });
      close();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    disable.mutate({ password, code: code.replace(/\s+/g, '') });
  };
  return (
    <Modal opened={opened} onClose={close} title="Disable two-factor authentication">
      <form onSubmit={submit} noValidate>
        <Stack>
          <Text size="sm">Confirm with your password and a code from your authenticator app.</Text>
          <ErrorAlert error={disable.error} />
          <PasswordInput
            label="Password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            error={fieldError(disable.error, 'password')}
            data-autofocus
          />
          <TextInput
            label="Authentication code"
            inputMode="numeric"
            autoComplete="one-time-code"
            value={code}
            onChange={(e) => setCode(e.currentTarget.value)}
            error={fieldError(disable.error, 'code')}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" color="red" loading={disable.isPending}>
              Disable
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
