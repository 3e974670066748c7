// Monitoring: alerts inbox (filters, trend), alert detail (evidence timeline,
// notes, responses), activity explorer, detector settings.
import {
  Badge,
  Box,
  Button,
  Card,
  Center,
  Drawer,
  Group,
  Loader,
  MultiSelect,
  NumberInput,
  Paper,
  Select,
  Stack,
  Switch,
  Table,
  Tabs,
  Text,
  Textarea,
  TextInput,
  Timeline,
  Title,
  Tooltip,
} from '@mantine/core';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { isStatus } from '../api.ts';
import { hasPermission, useMe } from '../auth.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { Forbidden } from '../components/Forbidden.tsx';
import { fmtDate, localToIso } from '../format.ts';
import {
  ALERT_STATES,
  type AlertFilters,
  type AlertState,
  type EventFilters,
  type MonitoringSettings,
  monitoringApi,
  RESPONSE_ACTIONS,
  SEVERITIES,
  type Severity,
} from '../monitoringApi.ts';

const sevColor: Record<Severity, string> = { low: 'gray', medium: 'yellow', high: 'orange', critical: 'red' };
const stateLabel = (s: string) => ALERT_STATES.find((x) => x.value === s)?.label ?? s;

function SeverityBadge({ s }: { s: Severity }) {
  return (
    <Badge color={sevColor[s]} variant="light">
      {s}
    </Badge>
  );
}

/** Alerts per day for the last 30 days, stacked by severity. */
function TrendChart() {
  const trend = useQuery({ queryKey: ['monitoring', 'trend'], queryFn: () => monitoringApi.trend(30) });
  if (!trend.data) return null;
  const days: string[] = [];
  for (let i = 29; i >= 0; i--) days.push(new Date(Date.now() - i * 86_400_000).toISOString().slice(0, 10));
  const by = new Map<string, Record<string, number>>();
  for (const r of trend.data) by.set(r.day, { ...(by.get(r.day) ?? {}), [r.severity]: r.n });
  const max = Math.max(1, ...days.map((d) => Object.values(by.get(d) ?? {}).reduce((a, b) => a + b, 0)));
  return (
    <Paper withBorder p="sm">
      <Text size="sm" fw={500} mb="xs">
        Alerts per day (30 days)
      </Text>
      <Group gap={2} align="flex-end" h={80} wrap="nowrap" aria-label="Alerts per day">
        {days.map((d) => {
          const v = by.get(d) ?? {};
          const total = Object.values(v).reduce((a, b) => a + b, 0);
          return (
            <Tooltip key={d} label={`${d}: ${total} alert(s)`}>
              <Stack gap={0} justify="flex-end" style={{ flex: 1, height: '100%' }}>
                {[...SEVERITIES].reverse().map((s) =>
                  v[s] ? <Box key={s} bg={`${sevColor[s]}.6`} style={{ height: `${(v[s] / max) * 100}%`, minHeight: 2 }} /> : null,
                )}
              </Stack>
            </Tooltip>
          );
        })}
      </Group>
    </Paper>
  );
}

function AlertDetail({ id, canManage, onClose }: { id: number; canManage: boolean; onClose: () => void }) {
  const qc = useQueryClient();
  const detail = useQuery({ queryKey: ['monitoring', 'alert', id], queryFn: () => monitoringApi.alert(id) });
  const [note, setNote] = useState('');
  const [action, setAction] = useState<string | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: ['monitoring'] });
  const update = useMutation({ mutationFn: (b: { state?: AlertState; note?: string }) => monitoringApi.updateAlert(id, b), onSuccess: () => {
      setNote('');
      refresh();
    },
  });
  const respond = useMutation({ mutationFn: (a: string) => monitoringApi.respond(id, a), onSuccess: refresh });
  const revert = useMutation({ mutationFn: monitoringApi.revert, onSuccess: refresh });
  return (
    <Drawer opened onClose={onClose} position="right" size="xl" title={detail.data ? `Alert #${id}` : 'Alert'}>
      {!detail.data ? (
        detail.isError ? <ErrorAlert error={detail.error} /> : <Loader aria-label="Loading" />
      ) : (
        <Stack>
          <Group>
            <SeverityBadge s={detail.data.alert.severity} />
            <Badge variant="outline">{stateLabel(detail.data.alert.state)}</Badge>
            <Text size="sm" c="dimmed">
              {detail.data.alert.detector}
            </Text>
          </Group>
          <Title order={4}>{detail.data.alert.title}</Title>
          <Text size="sm">
            {detail.data.alert.entityType} <b>{detail.data.alert.entity}</b> · {detail.data.alert.eventCount} event(s) · {fmtDate(detail.data.alert.firstSeen)} → {fmtDate(detail.data.alert.lastSeen)}
          </Text>
          {canManage && (
            <Group gap="xs">
              {ALERT_STATES.filter((s) => s.value !== detail.data.alert.state).map((s) => (
                <Button key={s.value} size="xs" variant="default" onClick={() => update.mutate({ state: s.value })} loading={update.isPending}>
                  {s.label}
                </Button>
              ))}
            </Group>
          )}
          <ErrorAlert error={update.error ?? respond.error ?? revert.error} />
          <Title order={5}>Evidence</Title>
          <Timeline bulletSize={14} lineWidth={2}>
            {detail.data.evidence.slice(0, 200).map((e) => (
              <Timeline.Item key={e.id} title={`${e.type}${e.outcome && e.outcome !== 'success' ? ` (${e.outcome})` : ''}`}>
                <Text size="xs" c="dimmed">
                  {fmtDate(e.at)} · {e.actor ?? '—'}
                  {e.target && e.target !== e.actor ? ` → ${e.target}` : ''} · {e.ip ?? 'no IP'}
                  {e.country ? ` (${e.country}${e.city ? `, ${e.city}` : ''})` : ''}
                  {e.count != null ? ` · ${e.count} rows` : ''}
                  {e.size != null ? ` · ${(e.size / 1048576).toFixed(2)} MB` : ''}
                </Text>
              </Timeline.Item>
            ))}
          </Timeline>
          {detail.data.evidence.length > 200 && <Text size="xs">…and {detail.data.evidence.length - 200} more</Text>}
          <Title order={5}>Responses</Title>
          {detail.data.responses.length === 0 && <Text size="sm" c="dimmed">None yet.</Text>}
          {detail.data.responses.map((r) => (
            <Group key={r.id} justify="space-between">
              <Text size="sm">
                {RESPONSE_ACTIONS.find((a) => a.value === r.action)?.label ?? r.action} — {r.state}
                {r.automatic ? ' (automatic)' : ''} · {r.result} · {r.appliedBy}, {fmtDate(r.appliedAt)}
              </Text>
              {canManage && r.state === 'applied' && (
                <Button size="xs" variant="light" onClick={() => revert.mutate(r.id)} loading={revert.isPending}>
                  Revert
                </Button>
              )}
            </Group>
          ))}
          {canManage && (
            <Group align="flex-end">
              <Select label="Respond" placeholder="Choose a response" data={RESPONSE_ACTIONS} value={action} onChange={setAction} />
              <Button disabled={!action} onClick={() => action && respond.mutate(action)} loading={respond.isPending}>
                Apply
              </Button>
            </Group>
          )}
          <Title order={5}>Notes</Title>
          {detail.data.alert.notes.map((n) => (
            <Text key={`${n.at}${n.by}`} size="sm">
              <b>{n.by}</b> ({fmtDate(n.at)}): {n.text}
            </Text>
          ))}
          {canManage && (
            <Stack gap="xs">
              <Textarea label="Add a note" value={note} onChange={(e) => setNote(e.currentTarget.value)} />
              <Button size="xs" disabled={!note.trim()} onClick={() => update.mutate({ note })} loading={update.isPending}>
                Save note
              </Button>
            </Stack>
          )}
        </Stack>
      )}
    </Drawer>
  );
}

function AlertsTab({ canManage }: { canManage: boolean }) {
  const [filters, setFilters] = useState<AlertFilters>({ state: ['open', 'acknowledged'] });
  const [openId, setOpenId] = useState<number | null>(null);
  const detectors = useQuery({ queryKey: ['monitoring', 'detectors'], queryFn: monitoringApi.detectors });
  const list = useInfiniteQuery({
    queryKey: ['monitoring', 'alerts', filters],
    queryFn: ({ pageParam }) => monitoringApi.alerts(filters, pageParam),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (last) => last.nextBefore ?? undefined,
  });
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <Stack>
      <TrendChart />
      <Group align="flex-end">
        <MultiSelect label="State" data={ALERT_STATES} value={filters.state ?? []} onChange={(v) => setFilters({ ...filters, state: v as AlertState[] })} w={260} />
        <MultiSelect label="Severity" data={SEVERITIES} value={filters.severity ?? []} onChange={(v) => setFilters({ ...filters, severity: v as Severity[] })} w={220} />
        <Select label="Detector" clearable data={(detectors.data ?? []).map((d) => ({ value: d.id, label: d.title }))} value={filters.detector ?? null} onChange={(v) => setFilters({ ...filters, detector: v ?? undefined })} w={260} />
        <TextInput label="Entity" placeholder="user, IP, key, sender" defaultValue={filters.entity} onBlur={(e) => setFilters({ ...filters, entity: e.currentTarget.value || undefined })} />
      </Group>
      {list.isPending ? (
        <Center py="xl">
          <Loader aria-label="Loading" />
        </Center>
      ) : list.isError ? (
        <ErrorAlert error={list.error} />
      ) : items.length === 0 ? (
        <Text c="dimmed">No alerts match these filters.</Text>
      ) : (
        <Table highlightOnHover striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Severity</Table.Th>
              <Table.Th>Alert</Table.Th>
              <Table.Th>Entity</Table.Th>
              <Table.Th>Events</Table.Th>
              <Table.Th>Last seen</Table.Th>
              <Table.Th>State</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((a) => (
              <Table.Tr key={a.id} onClick={() => setOpenId(a.id)} style={{ cursor: 'pointer' }}>
                <Table.Td>
                  <SeverityBadge s={a.severity} />
                </Table.Td>
                <Table.Td>
                  <Text size="sm">{a.title}</Text>
                  <Text size="xs" c="dimmed">
                    {a.detector}
                  </Text>
                </Table.Td>
                <Table.Td>{a.entity}</Table.Td>
                <Table.Td>{a.eventCount}</Table.Td>
                <Table.Td>{fmtDate(a.lastSeen)}</Table.Td>
                <Table.Td>{stateLabel(a.state)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {list.hasNextPage && (
        <Button variant="default" onClick={() => list.fetchNextPage()} loading={list.isFetchingNextPage}>
          Load more
        </Button>
      )}
      {openId !== null && <AlertDetail id={openId} canManage={canManage} onClose={() => setOpenId(null)} />}
    </Stack>
  );
}

function ActivityTab() {
  const [filters, setFilters] = useState<EventFilters>({});
  const [draft, setDraft] = useState<EventFilters & { fromLocal?: string; toLocal?: string }>({});
  const list = useInfiniteQuery({
    queryKey: ['monitoring', 'events', filters],
    queryFn: ({ pageParam }) => monitoringApi.events(filters, pageParam),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (last) => last.nextBefore ?? undefined,
  });
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  const set = (k: keyof typeof draft) => (e: React.ChangeEvent<HTMLInputElement>) => setDraft({ ...draft, [k]: e.currentTarget.value });
  return (
    <Stack>
      <Paper withBorder p="sm">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const { fromLocal, toLocal, ...rest } = draft;
            setFilters({ ...rest, from: fromLocal ? localToIso(fromLocal) : undefined, to: toLocal ? localToIso(toLocal) : undefined });
          }}
        >
          <Group align="flex-end">
            <TextInput label="User" value={draft.user ?? ''} onChange={set('user')} />
            <TextInput label="IP" value={draft.ip ?? ''} onChange={set('ip')} w={150} />
            <TextInput label="Country" placeholder="GB" value={draft.country ?? ''} onChange={set('country')} w={90} maxLength={2} />
            <TextInput label="Type" placeholder="auth.login.*" value={draft.type ?? ''} onChange={set('type')} />
            <TextInput label="From" type="datetime-local" value={draft.fromLocal ?? ''} onChange={set('fromLocal')} />
            <TextInput label="To" type="datetime-local" value={draft.toLocal ?? ''} onChange={set('toLocal')} />
            <Button type="submit">Filter</Button>
          </Group>
        </form>
      </Paper>
      {list.isPending ? (
        <Center py="xl">
          <Loader aria-label="Loading" />
        </Center>
      ) : list.isError ? (
        <ErrorAlert error={list.error} />
      ) : items.length === 0 ? (
        <Text c="dimmed">No events match these filters.</Text>
      ) : (
        <Table striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Time</Table.Th>
              <Table.Th>Type</Table.Th>
              <Table.Th>Actor</Table.Th>
              <Table.Th>Target</Table.Th>
              <Table.Th>IP / place</Table.Th>
              <Table.Th>Size / count</Table.Th>
              <Table.Th>Source</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((e) => (
              <Table.Tr key={e.id}>
                <Table.Td>{fmtDate(e.at)}</Table.Td>
                <Table.Td>
                  {e.type}
                  {e.outcome && e.outcome !== 'success' ? ` (${e.outcome})` : ''}
                </Table.Td>
                <Table.Td>{e.actor ?? '—'}</Table.Td>
                <Table.Td>{e.target ?? '—'}</Table.Td>
                <Table.Td>
                  {e.ip ?? '—'}
                  {e.country ? ` · ${e.country}` : ''}
                  {e.asn != null ? ` · AS${e.asn}` : ''}
                </Table.Td>
                <Table.Td>{e.size != null ? `${(e.size / 1024).toFixed(0)} KB` : e.count != null ? e.count : '—'}</Table.Td>
                <Table.Td>{e.source}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {list.hasNextPage && (
        <Button variant="default" onClick={() => list.fetchNextPage()} loading={list.isFetchingNextPage}>
          Load more
        </Button>
      )}
    </Stack>
  );
}

function DetectorsTab({ canManage }: { canManage: boolean }) {
  const qc = useQueryClient();
  const detectors = useQuery({ queryKey: ['monitoring', 'detectors'], queryFn: monitoringApi.detectors });
  const settings = useQuery({ queryKey: ['monitoring', 'settings'], queryFn: monitoringApi.settings });
  const [draft, setDraft] = useState<MonitoringSettings | null>(null);
  useEffect(() => {
    if (settings.data) setDraft(structuredClone(settings.data));
  }, [settings.data]);
  const save = useMutation({
    mutationFn: (s: MonitoringSettings) => monitoringApi.saveSettings({ detectors: s.detectors, workingHours: s.workingHours, notify: { email: s.notify.email, webhooks: s.notify.webhooks }, retentionDays: s.retentionDays, groupWindowMinutes: s.groupWindowMinutes }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['monitoring', 'settings'] }),
  });
  if (!draft || !detectors.data) return settings.isError ? <ErrorAlert error={settings.error} /> : <Loader aria-label="Loading" />;
  const patchDet = (id: string, p: Partial<MonitoringSettings['detectors'][string]>) => setDraft({ ...draft, detectors: { ...draft.detectors, [id]: { ...draft.detectors[id], ...p } } });
  return (
    <Stack>
      <Card withBorder>
        <Title order={5} mb="xs">
          Workspace
        </Title>
        <Group align="flex-end">
          <TextInput label="Time zone" value={draft.workingHours.timezone} disabled={!canManage} onChange={(e) => setDraft({ ...draft, workingHours: { ...draft.workingHours, timezone: e.currentTarget.value } })} />
          <NumberInput label="Working hours from" min={0} max={24} value={draft.workingHours.start} disabled={!canManage} onChange={(v) => setDraft({ ...draft, workingHours: { ...draft.workingHours, start: Number(v) } })} w={140} />
          <NumberInput label="to" min={0} max={24} value={draft.workingHours.end} disabled={!canManage} onChange={(v) => setDraft({ ...draft, workingHours: { ...draft.workingHours, end: Number(v) } })} w={100} />
          <NumberInput label="Keep events (days)" min={1} max={3650} value={draft.retentionDays} disabled={!canManage} onChange={(v) => setDraft({ ...draft, retentionDays: Number(v) })} w={160} />
          <NumberInput label="Group window (min)" min={1} value={draft.groupWindowMinutes} disabled={!canManage} onChange={(v) => setDraft({ ...draft, groupWindowMinutes: Number(v) })} w={160} />
        </Group>
        <Group align="flex-end" mt="sm">
          <TextInput
            label="E-mail alerts to (comma-separated)"
            w={360}
            disabled={!canManage}
            value={draft.notify.email.recipients.join(', ')}
            onChange={(e) => setDraft({ ...draft, notify: { ...draft.notify, email: { ...draft.notify.email, recipients: e.currentTarget.value.split(',').map((s) => s.trim()).filter(Boolean) } } })}
          />
          <Select label="from severity" data={SEVERITIES} value={draft.notify.email.minSeverity} disabled={!canManage} onChange={(v) => v && setDraft({ ...draft, notify: { ...draft.notify, email: { ...draft.notify.email, minSeverity: v as Severity } } })} w={140} />
        </Group>
        <Text size="xs" c="dimmed" mt="xs">
          Webhooks: {draft.notify.webhooks.length ? draft.notify.webhooks.map((w) => `${w.url} (≥ ${w.minSeverity})`).join(', ') : 'none'} — configure through PATCH /api/monitoring/settings (see docs/monitoring.md).
        </Text>
      </Card>
      {detectors.data.map((d) => {
        const s = draft.detectors[d.id];
        if (!s) return null;
        return (
          <Card key={d.id} withBorder>
            <Group justify="space-between">
              <Text fw={600}>{d.title}</Text>
              <Switch label="Enabled" checked={s.enabled} disabled={!canManage} onChange={(e) => patchDet(d.id, { enabled: e.currentTarget.checked })} />
            </Group>
            <Text size="sm">{d.logic}</Text>
            <Text size="xs" c="dimmed">
              Does not catch: {d.limits}
            </Text>
            <Group align="flex-end" mt="xs">
              <Select label="Severity" data={SEVERITIES} value={s.severity} disabled={!canManage} onChange={(v) => v && patchDet(d.id, { severity: v as Severity })} w={130} />
              {Object.entries(s.params).map(([k, v]) => (
                <NumberInput key={k} label={k} value={v} min={0} disabled={!canManage} onChange={(x) => patchDet(d.id, { params: { ...s.params, [k]: Number(x) } })} w={150} />
              ))}
              <MultiSelect
                label="Automatic responses"
                data={RESPONSE_ACTIONS}
                value={s.responses}
                disabled={!canManage}
                onChange={(v) => patchDet(d.id, { responses: v })}
                w={340}
                placeholder={d.suggestedResponses.length ? `suggested: ${d.suggestedResponses.join(', ')}` : 'none'}
              />
            </Group>
          </Card>
        );
      })}
      <ErrorAlert error={save.error} />
      {canManage && (
        <Group>
          <Button onClick={() => save.mutate(draft)} loading={save.isPending}>
            Save settings
          </Button>
          {save.isSuccess && <Text size="sm" c="green">Saved.</Text>}
        </Group>
      )}
    </Stack>
  );
}

export function MonitoringPage() {
  const me = useMe();
  const probe = useQuery({ queryKey: ['monitoring', 'probe'], queryFn: () => monitoringApi.alerts({}, undefined), retry: false });
  if (probe.isError && isStatus(probe.error, 403)) return <Forbidden title="Monitoring" />;
  const canManage = hasPermission(me.data, 'monitoring:manage');
  return (
    <Stack>
      <Title order={2}>Monitoring</Title>
      <Tabs defaultValue="alerts" keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="alerts">Alerts</Tabs.Tab>
          <Tabs.Tab value="activity">Activity explorer</Tabs.Tab>
          <Tabs.Tab value="detectors">Detectors</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="alerts" pt="md">
          <AlertsTab canManage={canManage} />
        </Tabs.Panel>
        <Tabs.Panel value="activity" pt="md">
          <ActivityTab />
        </Tabs.Panel>
        <Tabs.Panel value="detectors" pt="md">
          <DetectorsTab canManage={canManage} />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
