import { Alert, Button, Center, Group, Loader, Paper, Stack, Text, Title } from '@mantine/core';
import { useInfiniteQuery, useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { type AuditFilters, api, isStatus } from '../api.ts';
import { AuditFiltersForm } from '../components/AuditFiltersForm.tsx';
import { AuditTable } from '../components/AuditTable.tsx';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { Forbidden } from '../components/Forbidden.tsx';

function VerifyResult({
  ok,
  checked,
  brokenAt,
}: {
  ok: boolean;
  checked: number;
  brokenAt?: { id: number; reason: string };
}) {
  return ok ? (
    <Alert color="green" variant="light" title="Audit chain verified">
      All {checked} entries are intact.
    </Alert>
  ) : (
    <Alert color="red" variant="light" title="Audit chain broken">
      Checked {checked} entries.{' '}
      {brokenAt ? `The chain breaks at entry #${brokenAt.id}: ${brokenAt.reason}` : 'The chain is broken.'}
    </Alert>
  );
}

export function AuditPage() {
  const [filters, setFilters] = useState<AuditFilters>({});
  const log = useInfiniteQuery({
    queryKey: ['audit', filters],
    queryFn: ({ pageParam }) => api.audit(filters, pageParam),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (last) => last.nextBefore ?? undefined,
  });
  const verify = useMutation({ mutationFn: api.auditVerify });
  const items = log.data?.pages.flatMap((p) => p.items) ?? [];

  if (log.isError && isStatus(log.error, 403)) return <Forbidden title="Audit log" />;

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Audit log</Title>
        <Group gap="xs">
          <Button
            component="a"
            variant="default"
            size="xs"
            href={api.auditExportUrl(filters, 'csv')}
            download
          >
            Export CSV
          </Button>
          <Button
            component="a"
            variant="default"
            size="xs"
            href={api.auditExportUrl(filters, 'json')}
            download
          >
            Export JSON
          </Button>
          <Button size="xs" variant="light" onClick={() => verify.mutate()} loading={verify.isPending}>
            Verify chain
          </Button>
        </Group>
      </Group>
      {verify.data && <VerifyResult {...verify.data} />}
      <ErrorAlert error={verify.error} />
      <Paper withBorder p="sm">
        <AuditFiltersForm onApply={setFilters} />
      </Paper>
      {log.isPending ? (
        <Center py="xl">
          <Loader aria-label="Loading" />
        </Center>
      ) : log.isError && items.length === 0 ? (
        <ErrorAlert error={log.error} />
      ) : items.length === 0 ? (
        <Text c="dimmed">No audit entries match these filters.</Text>
      ) : (
        <>
          <AuditTable items={items} />
          {log.isFetchNextPageError && <ErrorAlert error={log.error} />}
          <Group justify="space-between">
            <Text size="sm" c="dimmed">
              Showing {items.length} entries
            </Text>
            {log.hasNextPage && (
              <Button variant="default" onClick={() => log.fetchNextPage()} loading={log.isFetchingNextPage}>
                Load more
              </Button>
            )}
          </Group>
        </>
      )}
    </Stack>
  );
}
