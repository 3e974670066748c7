// The selected case: subject, verdict and state, who reported it (and how often), analyst
// actions, the reasons next to the safe rendering, and the sender's and domain's history.
import { Badge, Button, Grid, Group, Paper, Stack, Text, Textarea, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorMessage, request } from '../../api.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { QueryState } from '../../components/QueryState.tsx';
import { fmtDate } from '../../format.ts';
import { ReportBadges, VerdictBadge } from './badges.tsx';
import { MessageRendering } from './MessageRendering.tsx';
import { ReasonsPanel } from './ReasonsPanel.tsx';
import { Reporters } from './Reporters.tsx';
import { type Detail, stateColor, stateLabel } from './types.ts';

export function MessageView({ id, canManage }: { id: number; canManage: boolean }) {
  const qc = useQueryClient();
  const [note, setNote] = useState('');
  const query = useQuery({
    queryKey: ['phishing', 'item', id],
    queryFn: () => request<Detail>('GET', `/api/phishing/queue/${id}`),
  });
  const act = useMutation({
    mutationFn: ({ path, body }: { path: string; body: unknown }) =>
      request('POST', `/api/phishing/queue/${id}/${path}`, body),
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
              <ReportBadges item={m} size="sm" />
              <VerdictBadge verdict={m.verdict} score={m.score} />
              <Badge color={stateColor[m.state]}>{stateLabel[m.state]}</Badge>
            </Group>
          </Group>
          <Text size="sm">
            <b>From</b> {m.fromName ? `${m.fromName} <${m.fromAddress}>` : m.fromAddress || '(none)'} ·{' '}
            <b>Source</b> {m.source}
            {m.reporter ? ` · reported by ${m.reporter}` : ''}
            {m.extraction ? ` (${m.extraction})` : ''}
          </Text>
          <Text size="xs" c="dimmed">
            received {fmtDate(m.createdAt)} · {(m.size / 1024).toFixed(1)} KB
            {m.truncated ? ' (stored truncated)' : ''}
            {m.envelopeTo?.length ? ` · envelope ${m.envelopeFrom || '<>'} → ${m.envelopeTo.join(', ')}` : ''}
            {m.auth
              ? ` · SPF ${m.auth.spf}, DKIM ${m.auth.dkim}, DMARC ${m.auth.dmarc} (${m.auth.source})`
              : ''}
            {m.decidedAt ? ` · decided ${fmtDate(m.decidedAt)} by ${m.analyst}` : ''}
          </Text>
          {m.current.score !== m.score && (
            <Text size="xs">
              With today’s model and blocklist this message scores{' '}
              <VerdictBadge verdict={m.current.verdict} score={m.current.score} />
            </Text>
          )}
          {canManage && (
            <Paper withBorder p="xs">
              <Stack gap={6}>
                <Textarea
                  placeholder="Note for the audit trail (optional)"
                  value={note}
                  onChange={(e) => setNote(e.currentTarget.value)}
                  autosize
                  minRows={1}
                  maxLength={2000}
                />
                <Group gap="xs">
                  <Button
                    size="xs"
                    color="red"
                    loading={act.isPending}
                    onClick={() => act.mutate({ path: 'confirm', body: { note: note || undefined } })}
                  >
                    Confirm phishing
                  </Button>
                  <Button
                    size="xs"
                    color="green"
                    variant="light"
                    loading={act.isPending}
                    onClick={() => act.mutate({ path: 'legitimate', body: { note: note || undefined } })}
                  >
                    Mark legitimate
                  </Button>
                  {m.canRelease && (
                    <Button
                      size="xs"
                      color="teal"
                      variant="light"
                      loading={act.isPending}
                      onClick={() => act.mutate({ path: 'release', body: { note: note || undefined } })}
                    >
                      Release to mailbox
                    </Button>
                  )}
                  <Button
                    size="xs"
                    color="dark"
                    variant="outline"
                    disabled={!m.fromAddress}
                    onClick={() => act.mutate({ path: 'block', body: { kind: 'sender' } })}
                  >
                    Block sender
                  </Button>
                  <Button
                    size="xs"
                    color="dark"
                    variant="outline"
                    disabled={!m.senderDomain}
                    onClick={() => act.mutate({ path: 'block', body: { kind: 'domain' } })}
                  >
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
          {m.source !== 'gateway' && <Reporters m={m} />}
          <Grid>
            <Grid.Col span={{ base: 12, lg: 5 }}>
              <ReasonsPanel m={m} />
            </Grid.Col>
            <Grid.Col span={{ base: 12, lg: 7 }}>
              <MessageRendering m={m} />
            </Grid.Col>
          </Grid>
        </Stack>
      )}
    </QueryState>
  );
}
