// One campaign's delivery: live progress (polled every 2 s while sending) with
// pause / resume / cancel, and statistics with charts (human and automated
// engagement shown apart).
import { Badge, Button, Group, Paper, Progress, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { request } from '../../api.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { QueryState } from '../../components/QueryState.tsx';
import { BarChart } from './BarChart.tsx';

type DeliveryState =
  | 'queued'
  | 'sending'
  | 'sent'
  | 'deferred'
  | 'failed'
  | 'bounced'
  | 'suppressed'
  | 'cancelled';
type ProgressData = {
  campaignId: number;
  state: string;
  total: number;
  counts: Record<DeliveryState, number>;
  done: number;
  remaining: number;
  ratePerSecond: number;
  etaSeconds: number | null;
};
type Engagement = { human: number; automated: number; humanUnique: number; automatedUnique: number };
type Bucket = {
  t: string;
  sent: number;
  opensHuman: number;
  opensAutomated: number;
  clicksHuman: number;
  clicksAutomated: number;
  bounces: number;
  complaints: number;
  unsubscribes: number;
};
type Stats = {
  recipients: number;
  delivered: number;
  sent: number;
  opens: Engagement;
  clicks: Engagement;
  bounces: number;
  complaints: number;
  unsubscribes: number;
  bucketSeconds: number;
  series: Bucket[];
};

/** Ledger states in the progress bar, in order, with their colours. */
const SECTIONS: [DeliveryState, string, string][] = [
  ['sent', 'green', 'Sent'],
  ['bounced', 'orange', 'Bounced'],
  ['failed', 'red', 'Failed'],
  ['suppressed', 'gray', 'Suppressed'],
  ['cancelled', 'dark', 'Cancelled'],
  ['deferred', 'yellow', 'Deferred'],
  ['sending', 'blue', 'Sending'],
];

export function formatEta(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

const pct = (n: number, of: number) => (of > 0 ? `${((100 * n) / of).toFixed(1)} %` : '—');

function Figure({ label, value, hint }: { label: string; value: string | number; hint?: string }) {
  return (
    <Paper withBorder p="sm">
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={700} size="xl">
        {value}
      </Text>
      {hint && (
        <Text size="xs" c="dimmed">
          {hint}
        </Text>
      )}
    </Paper>
  );
}

export function CampaignDelivery({ campaignId, onClose }: { campaignId: number; onClose: () => void }) {
  const qc = useQueryClient();
  const progress = useQuery({
    queryKey: ['campaign-progress', campaignId],
    queryFn: () => request<ProgressData>('GET', `/api/campaigns/${campaignId}/progress`),
    // Live while the campaign sends; a paused or finished one does not change by itself.
    refetchInterval: (q) => (q.state.data?.state === 'sending' ? 2000 : false),
  });
  const sending = progress.data?.state === 'sending';
  const stats = useQuery({
    queryKey: ['campaign-stats', campaignId],
    queryFn: () => request<Stats>('GET', `/api/campaigns/${campaignId}/stats`),
    refetchInterval: sending ? 10_000 : false,
  });
  const act = useMutation({
    mutationFn: (t: 'pause' | 'resume' | 'cancel') => request('POST', `/api/campaigns/${campaignId}/${t}`),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['campaign-progress', campaignId] });
      void qc.invalidateQueries({ queryKey: ['campaigns'] });
    },
  });

  return (
    <Paper withBorder p="md" aria-label="Campaign delivery">
      <Stack>
        <Group justify="space-between">
          <Title order={3}>Delivery of campaign #{campaignId}</Title>
          <Button size="xs" variant="subtle" onClick={onClose}>
            Close
          </Button>
        </Group>
        <QueryState query={progress}>
          {(p) => (
            <Stack gap="xs">
              <Group gap="xs">
                <Badge variant="light">{p.state}</Badge>
                <Text size="sm">
                  {p.done.toLocaleString()} of {p.total.toLocaleString()} done ·{' '}
                  {p.counts.sent.toLocaleString()} sent · {p.counts.deferred.toLocaleString()} deferred ·{' '}
                  {p.counts.failed.toLocaleString()} failed · {p.remaining.toLocaleString()} to go
                </Text>
              </Group>
              <Progress.Root size="xl" aria-label="Delivery progress">
                {SECTIONS.map(([state, color, label]) =>
                  p.counts[state] > 0 && p.total > 0 ? (
                    <Progress.Section
                      key={state}
                      value={(100 * p.counts[state]) / p.total}
                      color={color}
                      title={`${label}: ${p.counts[state]}`}
                    />
                  ) : null,
                )}
              </Progress.Root>
              <Group gap="lg">
                <Text size="sm">
                  Rate: <strong>{p.ratePerSecond.toLocaleString()} msg/s</strong> (last minute)
                </Text>
                <Text size="sm">
                  ETA: <strong>{formatEta(p.etaSeconds)}</strong>
                </Text>
              </Group>
              <Group gap="xs">
                {(p.state === 'sending' || p.state === 'scheduled') && (
                  <Button
                    size="xs"
                    variant="default"
                    onClick={() => act.mutate('pause')}
                    loading={act.isPending}
                  >
                    Pause
                  </Button>
                )}
                {p.state === 'paused' && (
                  <Button size="xs" onClick={() => act.mutate('resume')} loading={act.isPending}>
                    Resume
                  </Button>
                )}
                {['sending', 'scheduled', 'paused'].includes(p.state) && (
                  <Button
                    size="xs"
                    color="red"
                    variant="subtle"
                    onClick={() => act.mutate('cancel')}
                    loading={act.isPending}
                  >
                    Cancel
                  </Button>
                )}
              </Group>
              <ErrorAlert error={act.error} />
            </Stack>
          )}
        </QueryState>
        <QueryState query={stats}>
          {(s) => (
            <Stack>
              <SimpleGrid cols={{ base: 2, sm: 3, md: 6 }}>
                <Figure
                  label="Delivered"
                  value={s.delivered.toLocaleString()}
                  hint={`of ${s.recipients.toLocaleString()} recipients`}
                />
                <Figure
                  label="Opened (people)"
                  value={s.opens.humanUnique.toLocaleString()}
                  hint={`${pct(s.opens.humanUnique, s.delivered)} · ${s.opens.automatedUnique} by machines`}
                />
                <Figure
                  label="Clicked (people)"
                  value={s.clicks.humanUnique.toLocaleString()}
                  hint={`${pct(s.clicks.humanUnique, s.delivered)} · ${s.clicks.automatedUnique} by scanners`}
                />
                <Figure label="Bounced" value={s.bounces.toLocaleString()} hint={pct(s.bounces, s.sent)} />
                <Figure
                  label="Complaints"
                  value={s.complaints.toLocaleString()}
                  hint={pct(s.complaints, s.delivered)}
                />
                <Figure
                  label="Unsubscribed"
                  value={s.unsubscribes.toLocaleString()}
                  hint={pct(s.unsubscribes, s.delivered)}
                />
              </SimpleGrid>
              <Text size="xs" c="dimmed">
                Opens and clicks by security scanners, link prefetchers and privacy proxies are counted as
                automated and kept apart. Total events: opens {s.opens.human} human / {s.opens.automated}{' '}
                automated, clicks {s.clicks.human} human / {s.clicks.automated} automated.
              </Text>
              {s.series.length === 0 ? (
                <Text size="sm" c="dimmed">
                  Nothing sent yet.
                </Text>
              ) : (
                <>
                  <BarChart
                    title="Sent"
                    buckets={s.series}
                    series={[{ key: 'sent', label: 'Sent', color: '#2f9e44' }]}
                  />
                  <BarChart
                    title="Opens and clicks"
                    buckets={s.series}
                    series={[
                      { key: 'opensHuman', label: 'Opens (human)', color: '#1c7ed6' },
                      { key: 'opensAutomated', label: 'Opens (automated)', color: '#a5d8ff' },
                      { key: 'clicksHuman', label: 'Clicks (human)', color: '#7048e8' },
                      { key: 'clicksAutomated', label: 'Clicks (automated)', color: '#d0bfff' },
                    ]}
                  />
                  <BarChart
                    title="Bounces, complaints, unsubscribes"
                    buckets={s.series}
                    series={[
                      { key: 'bounces', label: 'Bounces', color: '#f76707' },
                      { key: 'complaints', label: 'Complaints', color: '#e03131' },
                      { key: 'unsubscribes', label: 'Unsubscribes', color: '#868e96' },
                    ]}
                  />
                </>
              )}
            </Stack>
          )}
        </QueryState>
      </Stack>
    </Paper>
  );
}
