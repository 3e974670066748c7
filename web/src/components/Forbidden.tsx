import { Alert, Stack, Title } from '@mantine/core';

export function Forbidden({ title }: { title?: string }) {
  return (
    <Stack>
      {title && <Title order={2}>{title}</Title>}
      <Alert color="orange" variant="light" title="Access denied">
        You do not have access to this page
      </Alert>
    </Stack>
  );
}
