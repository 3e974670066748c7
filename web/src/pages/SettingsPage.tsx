import { Button, Group, NumberInput, Paper, Stack, Switch, Text, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, fieldError, type Settings } from '../api.ts';
import { meKey } from '../auth.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { QueryState } from '../components/QueryState.tsx';

const key = ['settings'] as const;

function toInt(v: string | number): number {
  return typeof v === 'number' ? v : Number.parseInt(v, 10);
}

function SettingsForm({ initial }: { initial: Settings }) {
  const qc = useQueryClient();
  const [require2fa, setRequire2fa] = useState(initial.require2fa);
  const [idle, setIdle] = useState<string | number>(initial.sessionIdleMinutes);
  const [absolute, setAbsolute] = useState<string | number>(initial.sessionAbsoluteHours);
  const save = useMutation({
    mutationFn: api.updateSettings,
    onSuccess: (data) => {
      if (data && typeof data === 'object') qc.setQueryData(key, data);
      notifications.show({ color: 'green', message: 'Settings saved' });
      void qc.invalidateQueries({ queryKey: key });
      // Requiring 2FA may change what the current user must do next.
      void qc.invalidateQueries({ queryKey: meKey });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate({ require2fa, sessionIdleMinutes: toInt(idle), sessionAbsoluteHours: toInt(absolute) });
  };
  const err = save.error;
  return (
    <form onSubmit={submit} noValidate>
      <Stack maw={560}>
        <ErrorAlert error={err} />
        <Paper withBorder p="md" component="section" aria-labelledby="security-heading">
          <Stack>
            <Title order={3} id="security-heading">
              Sign-in security
            </Title>
            <Switch
              label="Require two-factor authentication for everyone"
              description="Users without 2FA must set it up at their next sign-in before they can do anything else."
              checked={require2fa}
              onChange={(e) => setRequire2fa(e.currentTarget.checked)}
              error={fieldError(err, 'require2fa')}
            />
          </Stack>
        </Paper>
        <Paper withBorder p="md" component="section" aria-labelledby="timeouts-heading">
          <Stack>
            <Title order={3} id="timeouts-heading">
              Session timeouts
            </Title>
            <NumberInput
              label="Idle timeout (minutes)"
              description="Sign out after this long without activity."
              min={1}
              allowDecimal={false}
              value={idle}
              onChange={setIdle}
              error={fieldError(err, 'sessionIdleMinutes')}
            />
            <NumberInput
              label="Maximum session length (hours)"
              description="Sign out after this long, even when active."
              min={1}
              allowDecimal={false}
              value={absolute}
              onChange={setAbsolute}
              error={fieldError(err, 'sessionAbsoluteHours')}
            />
          </Stack>
        </Paper>
        <Group>
          <Button type="submit" loading={save.isPending}>
            Save settings
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

export function SettingsPage() {
  const settings = useQuery({ queryKey: key, queryFn: api.settings });
  return (
    <Stack>
      <Title order={2}>Settings</Title>
      <Text size="sm" c="dimmed">
        Workspace-wide security settings.
      </Text>
      <QueryState query={settings}>{(data) => <SettingsForm initial={data} />}</QueryState>
    </Stack>
  );
}
