// Phishing: the analyst queue of reported and quarantined mail. A daily trend, the queue with
// verdict/score/top reasons, and the selected message: reasons highlighted next to a safe
// rendering (sanitised by the server, links disarmed, remote content blocked, shown in a
// sandboxed frame), analyst actions, and the sender's and domain's history.
import { Alert, Badge, Button, Code, Grid, Group, Paper, ScrollArea, Select, SegmentedControl, Stack, Table, Tabs, Text, Textarea, TextInput, Title, Tooltip, UnstyledButton } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorMessage, isStatus, request } from '../api.ts';
import { hasPermission, useMe } from '../auth.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { Forbidden } from '../components/Forbidden.tsx';
import { QueryState } from '../components/QueryState.tsx';
import { fmtDate } from '../format.ts';

type Verdict = 'phishing' | 'suspicious' | 'clean';
type State = 'new' | 'confirmed_phishing' | 'legitimate' | 'released';
interface Reason {
  signal: string;
  detail: string;
  weight: number;
}
interface QueueItem {
  id: number;
  source: 'report' | 'gateway' | 'api';
  state: State;
  score: number;
  verdict: Verdict;
  subject: string;
  fromAddress: string;
  fromName: string;
  senderDomain: string;
  reporter: string | null;
  reasons: Reason[];
  analyst: string | null;
  createdAt: string;
  decidedAt: string | null;
}
interface Detail extends QueueItem {
  note: string | null;
  extraction: string | null;
  envelopeFrom: string | null;
  envelopeTo: string[] | null;
  truncated: boolean;
  size: number;
  auth: { source: string; spf: string; dkim: string; dmarc: string; arc: string } | null;
  links: { href: string; host: string; text?: string }[];
  attachments: { filename: string; mimeType: string; size: number }[];
  current: { score: number; verdict: Verdict; reasons: Reason[] };
  rendering: { headers: { name: string; value: string }[]; text: string | null; html: string | null; remoteContentBlocked: number; disarmedLinks: number; error?: string };
  canRelease: boolean;
}
interface DayRow {
  day: string;
  reported: number;
  confirmed: number;
  legitimate: number;
}
interface History {
  total: number;
  byState: Record<State, number>;
  byVerdict: Record<Verdict, number>;
  days: DayRow[];
  blocked: { id: number; kind: string; value: string }[];
}

const verdictColor: Record<Verdict, string> = { phishing: 'red', suspicious: 'orange', clean: 'green' };
const stateLabel: Record<State, string> = { new: 'New', confirmed_phishing: 'Phishing', legitimate: 'Legitimate', released: 'Released' };
const stateColor: Record<State, string> = { new: 'blue', confirmed_phishing: 'red', legitimate: 'green', released: 'teal' };

function VerdictBadge({ verdict, score }: { verdict: Verdict; score: number }) {
  return (
    <Badge color={verdictColor[verdict]} variant="filled">
      {verdict} · {score}
    </Badge>
  );
}

/** A small grouped bar chart (SVG): reported, confirmed phishing and legitimate per day. */
export function TrendChart({ days }: { days: DayRow[] }) {
  const max = Math.max(1, ...days.flatMap((d) => [d.reported, d.confirmed, d.legitimate]));
  const w = 720;
  const h = 140;
  const slot = w / Math.max(1, days.length);
  const bar = Math.max(1, (slot - 2) / 3);
  const series = [
    { key: 'reported' as const, color: 'var(--mantine-color-blue-5)', label: 'Reported / quarantined' },
    { key: 'confirmed' as const, color: 'var(--mantine-color-red-6)', label: 'Confirmed phishing' },
    { key: 'legitimate' as const, color: 'var(--mantine-color-green-6)', label: 'Legitimate' },
  ];
  return (
    <Stack gap={4}>
      <svg viewBox={`0 0 ${w} ${h + 16}`} width="100%" role="img" aria-label="Phishing reports per day">
        <title>Phishing reports per day</title>
        {days.map((d, i) =>
          series.map((s, j) => {
            const v = d[s.key];
            const bh = (v / max) * h;
            return (
              <rect key={`${d.day}-${s.key}`} x={i * slot + 1 + j * bar} y={h - bh} width={bar} height={bh} fill={s.color}>
                <title>{`${d.day}: ${v} ${s.label.toLowerCase()}`}</title>
              </rect>
            );
          }),
        )}
        <line x1={0} y1={h} x2={w} y2={h} stroke="var(--mantine-color-gray-4)" />
        {days.length > 0 && (
          <>
            <text x={0} y={h + 13} fontSize={10} fill="gray">
              {days[0].day}
            </text>
            <text x={w} y={h + 13} fontSize={10} fill="gray" textAnchor="end">
              {days[days.length - 1].day}
            </text>
          </>
        )}
      </svg>
      <Group gap="md">
        {series.map((s) => (
          <Group key={s.key} gap={4}>
            <div style={{ width: 10, height: 10, background: s.color }} />
            <Text size="xs">{s.label}</Text>
          </Group>
        ))}
        <Text size="xs" c="dimmed">
          max {max}/day
        </Text>
      </Group>
    </Stack>
  );
}

function HistoryCard({ title, query }: { title: string; query: string }) {
  const q = useQuery({ queryKey: ['phishing', 'history', query], queryFn: () => request<History>('GET', `/api/phishing/history?${query}`) });
  return (
    <Paper withBorder p="xs">
      <Text size="sm" fw={600} truncate>
        {title}
      </Text>
      {q.data && (
        <Stack gap={2}>
          <Text size="xs">
            {q.data.total} message(s): {q.data.byState.confirmed_phishing} phishing, {q.data.byState.legitimate + q.data.byState.released} legitimate, {q.data.byState.new} open
          </Text>
          <Text size="xs" c="dimmed">
            scored {q.data.byVerdict.phishing} phishing / {q.data.byVerdict.suspicious} suspicious / {q.data.byVerdict.clean} clean
          </Text>
          {q.data.days.slice(-5).map((d) => (
            <Text size="xs" c="dimmed" key={d.day}>
              {d.day}: {d.reported} reported, {d.confirmed} confirmed, {d.legitimate} legitimate
            </Text>
          ))}
          {q.data.blocked.length > 0 && (
            <Badge color="dark" size="xs">
              blocked
            </Badge>
          )}
        </Stack>
      )}
    </Paper>
  );
}

interface BlockEntry {
  id: number;
  kind: 'sender' | 'domain';
  value: string;
  reason: string | null;
  createdBy: string | null;
  createdAt: string;
}

/** Blocked senders and domains: their mail always scores as phishing. */
function Blocklist({ canManage }: { canManage: boolean }) {
  const qc = useQueryClient();
  const [kind, setKind] = useState<'sender' | 'domain'>('domain');
  const [value, setValue] = useState('');
  const list = useQuery({ queryKey: ['phishing', 'blocklist'], queryFn: () => request<{ items: BlockEntry[] }>('GET', '/api/phishing/blocklist') });
  const add = useMutation({
    mutationFn: () => request('POST', '/api/phishing/blocklist', { kind, value }),
    onSuccess: () => {
      setValue('');
      qc.invalidateQueries({ queryKey: ['phishing'] });
    },
  });
  const remove = useMutation({
    mutationFn: (id: number) => request('DELETE', `/api/phishing/blocklist/${id}`),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['phishing'] }),
    onError: (err) => notifications.show({ color: 'red', message: errorMessage(err) }),
  });
  return (
    <Stack gap="xs">
      {canManage && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (value.trim()) add.mutate();
          }}
        >
          <Group align="flex-end" gap="xs">
            <SegmentedControl size="xs" value={kind} onChange={(v) => setKind(v as 'sender' | 'domain')} data={['domain', 'sender']} />
            <TextInput
              size="xs"
              aria-label="Sender address or domain to block"
              placeholder={kind === 'domain' ? 'evil.example' : 'someone@evil.example'}
              value={value}
              onChange={(e) => setValue(e.currentTarget.value)}
              error={add.isError ? errorMessage(add.error) : undefined}
            />
            <Button size="xs" type="submit" color="dark" loading={add.isPending}>
              Block
            </Button>
          </Group>
        </form>
      )}
      <QueryState query={list}>
        {(d) =>
          d.items.length === 0 ? (
            <Text size="sm" c="dimmed">
              Nothing is blocked.
            </Text>
          ) : (
            <Table striped fz="xs">
              <Table.Tbody>
                {d.items.map((b) => (
                  <Table.Tr key={b.id}>
                    <Table.Td>{b.kind}</Table.Td>
                    <Table.Td>
                      <Code>{b.value}</Code>
                    </Table.Td>
                    <Table.Td>{b.reason}</Table.Td>
                    <Table.Td>
                      {b.createdBy} · {fmtDate(b.createdAt)}
                    </Table.Td>
                    <Table.Td>
                      {canManage && (
                        <Button size="compact-xs" variant="subtle" color="red" onClick={() => remove.mutate(b.id)} aria-label={`Unblock ${b.value}`}>
                          Unblock
                        </Button>
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )
        }
      </QueryState>
    </Stack>
  );
}

const frameCss =
  '<style>body{font-family:sans-serif;font-size:14px}.mw-link{background:#fff3bf;text-decoration:underline dotted}.mw-link-target{color:#c92a2a;font-family:monospace;font-size:12px;word-break:break-all}</style>';

function MessageView({ id, canManage }: { id: number; canManage: boolean }) {
  const qc = useQueryClient();
  const [note, setNote] = useState('');
  const query = useQuery({ queryKey: ['phishing', 'item', id], queryFn: () => request<Detail>('GET', `/api/phishing/queue/${id}`) });
  const act = useMutation({
    mutationFn: ({ path, body }: { path: string; body: unknown }) => request('POST', `/api/phishing/queue/${id}/${path}`, body),
    onSuccess: (_r, v) => {
      notifications.show({ color: 'green', message: `Done: ${v.path}` });
      setNote('');
      qc.invalidateQueries({ queryKey: ['phishing'] });
    },
    onError: (err) => notifications.show({ color: 'red', message: errorMessage(err) }),
  });
  return (
    <QueryState query={query}>
      {(m) => (
        <Stack gap="xs">
          <Group justify="space-between" align="flex-start">
            <Title order={3}>{m.subject || '(no subject)'}</Title>
            <Group gap={4}>
              <VerdictBadge verdict={m.verdict} score={m.score} />
              <Badge color={stateColor[m.state]}>{stateLabel[m.state]}</Badge>
            </Group>
          </Group>
          <Text size="sm">
            <b>From</b> {m.fromName ? `${m.fromName} <${m.fromAddress}>` : m.fromAddress || '(none)'} · <b>Source</b> {m.source}
            {m.reporter ? ` · reported by ${m.reporter}` : ''}
            {m.extraction ? ` (${m.extraction})` : ''}
          </Text>
          <Text size="xs" c="dimmed">
            received {fmtDate(m.createdAt)} · {(m.size / 1024).toFixed(1)} KB{m.truncated ? ' (stored truncated)' : ''}
            {m.envelopeTo?.length ? ` · envelope ${m.envelopeFrom || '<>'} → ${m.envelopeTo.join(', ')}` : ''}
            {m.auth ? ` · SPF ${m.auth.spf}, DKIM ${m.auth.dkim}, DMARC ${m.auth.dmarc} (${m.auth.source})` : ''}
            {m.decidedAt ? ` · decided ${fmtDate(m.decidedAt)} by ${m.analyst}` : ''}
          </Text>
          {m.current.score !== m.score && (
            <Text size="xs">
              With today’s model and blocklist this message scores <VerdictBadge verdict={m.current.verdict} score={m.current.score} />
            </Text>
          )}
          {canManage && (
            <Paper withBorder p="xs">
              <Stack gap={6}>
                <Textarea placeholder="Note for the audit trail (optional)" value={note} onChange={(e) => setNote(e.currentTarget.value)} autosize minRows={1} maxLength={2000} />
                <Group gap="xs">
                  <Button size="xs" color="red" loading={act.isPending} onClick={() => act.mutate({ path: 'confirm', body: { note: note || undefined } })}>
                    Confirm phishing
                  </Button>
                  <Button size="xs" color="green" variant="light" loading={act.isPending} onClick={() => act.mutate({ path: 'legitimate', body: { note: note || undefined } })}>
                    Mark legitimate
                  </Button>
                  {m.canRelease && (
                    <Button size="xs" color="teal" variant="light" loading={act.isPending} onClick={() => act.mutate({ path: 'release', body: { note: note || undefined } })}>
                      Release to mailbox
                    </Button>
                  )}
                  <Button size="xs" color="dark" variant="outline" disabled={!m.fromAddress} onClick={() => act.mutate({ path: 'block', body: { kind: 'sender' } })}>
                    Block sender
                  </Button>
                  <Button size="xs" color="dark" variant="outline" disabled={!m.senderDomain} onClick={() => act.mutate({ path: 'block', body: { kind: 'domain' } })}>
                    Block domain
                  </Button>
                  <Button size="xs" variant="subtle" component="a" href={`/api/phishing/queue/${m.id}/raw`}>
                    Download .eml
                  </Button>
                </Group>
                {act.isError && <ErrorAlert error={act.error} />}
              </Stack>
            </Paper>
          )}
          <Grid>
            <Grid.Col span={{ base: 12, lg: 5 }}>
              <Stack gap={6}>
                <Text fw={600} size="sm">
                  Why this score
                </Text>
                {m.reasons.map((r) => (
                  <Paper
                    key={r.signal}
                    withBorder
                    p={6}
                    style={{ borderLeft: `4px solid var(--mantine-color-${r.weight > 5 ? 'red' : r.weight > 0 ? 'orange' : r.weight < 0 ? 'green' : 'gray'}-6)` }}
                  >
                    <Group justify="space-between" wrap="nowrap">
                      <Code>{r.signal}</Code>
                      <Text size="xs" fw={700}>
                        {r.weight > 0 ? '+' : ''}
                        {r.weight}
                      </Text>
                    </Group>
                    <Text size="xs">{r.detail}</Text>
                  </Paper>
                ))}
                {m.fromAddress && <HistoryCard title={`Sender ${m.fromAddress}`} query={`sender=${encodeURIComponent(m.fromAddress)}`} />}
                {m.senderDomain && <HistoryCard title={`Domain ${m.senderDomain}`} query={`domain=${encodeURIComponent(m.senderDomain)}`} />}
              </Stack>
            </Grid.Col>
            <Grid.Col span={{ base: 12, lg: 7 }}>
              {m.rendering.error && <Alert color="yellow">{m.rendering.error}</Alert>}
              {(m.rendering.remoteContentBlocked > 0 || m.rendering.disarmedLinks > 0) && (
                <Alert color="blue" variant="light" py={4} mb={4}>
                  {m.rendering.disarmedLinks} link(s) disarmed (real target shown in red), {m.rendering.remoteContentBlocked} remote image(s) blocked.
                </Alert>
              )}
              <Tabs defaultValue={m.rendering.html ? 'html' : 'text'} keepMounted={false}>
                <Tabs.List>
                  <Tabs.Tab value="html" disabled={!m.rendering.html}>
                    Safe view
                  </Tabs.Tab>
                  <Tabs.Tab value="text" disabled={!m.rendering.text}>
                    Text
                  </Tabs.Tab>
                  <Tabs.Tab value="links">Links ({m.links.length})</Tabs.Tab>
                  <Tabs.Tab value="attachments">Attachments ({m.attachments.length})</Tabs.Tab>
                  <Tabs.Tab value="headers">Headers</Tabs.Tab>
                </Tabs.List>
                <Tabs.Panel value="html" pt="xs">
                  {/* sandbox="": no scripts, no same-origin, no forms, no navigation; the HTML was sanitised by the server */}
                  <iframe
                    title="Message (safe view)"
                    sandbox=""
                    srcDoc={frameCss + (m.rendering.html ?? '')}
                    style={{ width: '100%', height: 480, border: '1px solid var(--mantine-color-gray-3)', background: 'white' }}
                  />
                </Tabs.Panel>
                <Tabs.Panel value="text" pt="xs">
                  <ScrollArea h={480}>
                    <Code block style={{ whiteSpace: 'pre-wrap' }}>
                      {m.rendering.text}
                    </Code>
                  </ScrollArea>
                </Tabs.Panel>
                <Tabs.Panel value="links" pt="xs">
                  <Table striped fz="xs">
                    <Table.Tbody>
                      {m.links.map((l, i) => (
                        // biome-ignore lint/suspicious/noArrayIndexKey: links repeat; order is the identity
                        <Table.Tr key={i}>
                          <Table.Td>{l.text}</Table.Td>
                          <Table.Td style={{ wordBreak: 'break-all', color: 'var(--mantine-color-red-8)' }}>{l.href}</Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                </Tabs.Panel>
                <Tabs.Panel value="attachments" pt="xs">
                  <Table striped fz="xs">
                    <Table.Tbody>
                      {m.attachments.map((a, i) => (
                        // biome-ignore lint/suspicious/noArrayIndexKey: names repeat
                        <Table.Tr key={i}>
                          <Table.Td>{a.filename}</Table.Td>
                          <Table.Td>{a.mimeType}</Table.Td>
                          <Table.Td>{(a.size / 1024).toFixed(1)} KB</Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                </Tabs.Panel>
                <Tabs.Panel value="headers" pt="xs">
                  <ScrollArea h={480}>
                    <Table striped withTableBorder fz="xs">
                      <Table.Tbody>
                        {m.rendering.headers.map((h, i) => (
                          // biome-ignore lint/suspicious/noArrayIndexKey: headers repeat; order is the identity
                          <Table.Tr key={i}>
                            <Table.Td style={{ whiteSpace: 'nowrap', verticalAlign: 'top' }}>{h.name}</Table.Td>
                            <Table.Td style={{ wordBreak: 'break-all' }}>{h.value}</Table.Td>
                          </Table.Tr>
                        ))}
                      </Table.Tbody>
                    </Table>
                  </ScrollArea>
                </Tabs.Panel>
              </Tabs>
            </Grid.Col>
          </Grid>
        </Stack>
      )}
    </QueryState>
  );
}

export function PhishingPage() {
  const { data: me } = useMe();
  const canManage = hasPermission(me, 'phishing:manage');
  const [state, setState] = useState<string | null>('new');
  const [verdict, setVerdict] = useState<string | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const trend = useQuery({ queryKey: ['phishing', 'trend'], queryFn: () => request<{ days: DayRow[] }>('GET', '/api/phishing/trend?days=30') });
  const list = useInfiniteQuery({
    queryKey: ['phishing', 'list', state, verdict],
    queryFn: ({ pageParam }) => {
      const p = new URLSearchParams({ limit: '50' });
      if (state) p.set('state', state);
      if (verdict) p.set('verdict', verdict);
      if (pageParam) p.set('before', String(pageParam));
      return request<{ items: QueueItem[]; nextBefore: number | null }>('GET', `/api/phishing/queue?${p}`);
    },
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (last) => last.nextBefore ?? undefined,
  });
  if (list.isError && isStatus(list.error, 403)) return <Forbidden title="Phishing" />;
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Phishing</Title>
        <Text size="sm" c="dimmed">
          Reported by staff and quarantined by the gateway
        </Text>
      </Group>
      <Tabs defaultValue="trend" variant="outline">
        <Tabs.List>
          <Tabs.Tab value="trend">Last 30 days</Tabs.Tab>
          <Tabs.Tab value="blocklist">Blocklist</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="trend">
          <Paper withBorder p="sm">{trend.data ? <TrendChart days={trend.data.days} /> : trend.isError ? <ErrorAlert error={trend.error} /> : null}</Paper>
        </Tabs.Panel>
        <Tabs.Panel value="blocklist">
          <Paper withBorder p="sm">
            <Blocklist canManage={canManage} />
          </Paper>
        </Tabs.Panel>
      </Tabs>
      <Group>
        <Select
          label="State"
          clearable
          value={state}
          onChange={setState}
          data={Object.entries(stateLabel).map(([value, label]) => ({ value, label }))}
          w={180}
        />
        <Select label="Verdict" clearable value={verdict} onChange={setVerdict} data={['phishing', 'suspicious', 'clean']} w={180} />
      </Group>
      {list.isError && <ErrorAlert error={list.error} />}
      <Grid>
        <Grid.Col span={{ base: 12, md: 4 }}>
          <Paper withBorder>
            <ScrollArea h={760}>
              {items.length === 0 && !list.isPending && (
                <Text p="md" c="dimmed">
                  Nothing here.
                </Text>
              )}
              {items.map((m) => (
                <UnstyledButton
                  key={m.id}
                  onClick={() => setSelected(m.id)}
                  p="sm"
                  w="100%"
                  aria-current={selected === m.id}
                  style={{ borderBottom: '1px solid var(--mantine-color-gray-2)', background: selected === m.id ? 'var(--mantine-color-blue-0)' : undefined }}
                >
                  <Group justify="space-between" wrap="nowrap">
                    <Text size="sm" fw={600} truncate>
                      {m.fromAddress || '(no sender)'}
                    </Text>
                    <VerdictBadge verdict={m.verdict} score={m.score} />
                  </Group>
                  <Text size="sm" truncate>
                    {m.subject || '(no subject)'}
                  </Text>
                  <Group gap={4} wrap="nowrap">
                    <Badge size="xs" color={stateColor[m.state]} variant="light">
                      {stateLabel[m.state]}
                    </Badge>
                    <Text size="xs" c="dimmed" truncate>
                      {m.source} · {fmtDate(m.createdAt)}
                    </Text>
                  </Group>
                  <Tooltip label={m.reasons.map((r) => r.detail).join(' · ')} multiline w={320} disabled={m.reasons.length === 0}>
                    <Text size="xs" c="dimmed" truncate>
                      {m.reasons
                        .filter((r) => r.weight > 0)
                        .slice(0, 3)
                        .map((r) => r.signal)
                        .join(', ')}
                    </Text>
                  </Tooltip>
                </UnstyledButton>
              ))}
              {list.hasNextPage && (
                <Button variant="subtle" fullWidth onClick={() => list.fetchNextPage()} loading={list.isFetchingNextPage}>
                  Load more
                </Button>
              )}
            </ScrollArea>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 8 }}>
          <Paper withBorder p="md">
            {selected ? <MessageView id={selected} canManage={canManage} /> : <Text c="dimmed">Select a message.</Text>}
          </Paper>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}
