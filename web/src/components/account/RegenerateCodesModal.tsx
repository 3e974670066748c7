import { Button, Group, Modal, Stack, Text, TextInput } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, fieldError } from '../../api.ts';
import { ErrorAlert } from '../ErrorAlert.tsx';
import { RecoveryCodes } from '../RecoveryCodes.tsx';

export function RegenerateCodesModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const [code, setCode] = useState('');
  const regen = useMutation({ mutationFn: api.regenerateRecoveryCodes });
  const codes = regen.data?.recoveryCodes;
  const finish = () => {
    setCode('');
    regen.reset();
    onClose();
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    regen.mutate(code.replace(/\s+/g, ''));
  };
  return (
    <Modal
      opened={opened}
      // Once new codes are shown they must be acknowledged: no dismissing by accident.
      onClose={codes ? () => undefined : finish}
      withCloseButton={!codes}
      closeOnClickOutside={!codes}
      closeOnEscape={!codes}
      title="Regenerate recovery codes"
      size="md"
    >
      {codes ? (
        <RecoveryCodes codes={codes} onDone={finish} />
      ) : (
        <form onSubmit={submit} noValidate>
          <Stack>
            <Text size="sm">
              Your old recovery codes stop working. Enter a code from your authenticator app.
            </Text>
            <ErrorAlert error={regen.error} />
            <TextInput
              label="Authentication code"
              inputMode="numeric"
              autoComplete="one-time-code"
              value={code}
              onChange={(e) => setCode(e.currentTarget.value)}
              error={fieldError(regen.error, 'code')}
              data-autofocus
            />
            <Group justify="flex-end">
              <Button variant="default" onClick={finish}>
                Cancel
              </Button>
              <Button type="submit" loading={regen.isPending}>
                Regenerate codes
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Modal>
  );
}
