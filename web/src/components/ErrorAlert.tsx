import { Alert } from '@mantine/core';
import { ApiError, errorMessage } from '../api.ts';

/** Shows the server's problem `detail` (role=alert). Renders nothing without an error. */
export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const fieldOnly = error instanceof ApiError && error.errors.length > 0 && error.status === 400;
  return (
    <Alert color="red" variant="light" title={title ?? (fieldOnly ? 'Please check the form' : undefined)}>
      {errorMessage(error)}
    </Alert>
  );
}
