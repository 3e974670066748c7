import { Alert, Stack, Title } from '@mantine/core';

export function ComingSoonPage({ label }: { label: string }) {
  return (
    <Stack>
      <Title order={2}>{label}</Title>
      <Alert color="blue" variant="light" title="Coming soon">
        {label} is not available yet. It will appear here when this part of mailwarden ships.
      </Alert>
    </Stack>
  );
}
