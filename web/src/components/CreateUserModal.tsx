import { Button, Group, Modal, NativeSelect, PasswordInput, Stack, TextInput } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, fieldError, ROLES, type Role, type User } from '../api.ts';
import { ErrorAlert } from './ErrorAlert.tsx';

const empty = { name: '', email: '', role: 'marketer' as Role, password: '' };

export function CreateUserModal({
  opened,
  onClose,
  onCreated,
}: {
  opened: boolean;
  onClose: () => void;
  onCreated: (user: User) => void;
}) {
  const [form, setForm] = useState(empty);
  const set = (k: keyof typeof empty) => (e: { currentTarget: { value: string } }) => {
    const value = e.currentTarget.value;
    setForm((f) => ({ ...f, [k]: value }));
  };
  const create = useMutation({
    mutationFn: api.createUser,
    onSuccess: (user) => {
      setForm(empty);
      onCreated(user);
    },
  });
  const close = () => {
    create.reset();
    onClose();
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ ...form, name: form.name.trim(), email: form.email.trim() });
  };
  const err = create.error;
  return (
    <Modal opened={opened} onClose={close} title="New user">
      <form onSubmit={submit} noValidate>
        <Stack>
          <ErrorAlert error={err} />
          <TextInput
            label="Name"
            value={form.name}
            onChange={set('name')}
            error={fieldError(err, 'name')}
            data-autofocus
          />
          <TextInput
            label="Email"
            type="email"
            autoComplete="off"
            value={form.email}
            onChange={set('email')}
            error={fieldError(err, 'email')}
          />
          <NativeSelect
            label="Role"
            data={ROLES}
            value={form.role}
            onChange={set('role')}
            error={fieldError(err, 'role')}
          />
          <PasswordInput
            label="Password"
            description="Initial password, at least 12 characters. Share it securely."
            autoComplete="new-password"
            value={form.password}
            onChange={set('password')}
            error={fieldError(err, 'password')}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={create.isPending}>
              Create user
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
