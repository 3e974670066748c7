import { Center, Loader } from '@mantine/core';
import type { UseQueryResult } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { isStatus } from '../api.ts';
import { ErrorAlert } from './ErrorAlert.tsx';
import { Forbidden } from './Forbidden.tsx';

/** Loading / 403 / error handling for a page's main query. */
export function QueryState<T>({
  query,
  children,
}: {
  query: UseQueryResult<T>;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) {
    return (
      <Center py="xl">
        <Loader aria-label="Loading" />
      </Center>
    );
  }
  if (query.isError) {
    if (isStatus(query.error, 403)) return <Forbidden />;
    return <ErrorAlert error={query.error} />;
  }
  return <>{children(query.data)}</>;
}
