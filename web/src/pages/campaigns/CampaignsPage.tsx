// Campaign wizard: details → review (every guardrail's result) → submit /
// approve / launch; plus the approval queue.
import {
  Badge,
  Button,
  Group,
  NativeSelect,
  Paper,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { request } from '../../api.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { QueryState } from '../../components/QueryState.tsx';
import { CampaignDelivery } from './CampaignDelivery.tsx';

type Guardrail = { id: string; title: string; status: 'pass' | 'fail' | 'needs_approval'; detail: string };
type Campaign = {
  id: number;
  name: string;
  state: string;
  templateId: number | null;
  segmentId: number | null;
  recipientCount: number | null;
  guardrails: Guardrail[] | null;
};
type Named = { id: number; name: string };
type Domain = { id: number; domain: string; verified: boolean };

const color = { pass: 'green', fail: 'red', needs_approval: 'yellow' } as const;

export function GuardrailList({ results }: { results: Guardrail[] }) {
  return (
    <Stack gap="xs" aria-label="Guardrails">
      {results.map((g) => (
        <Group key={g.id} align="flex-start" wrap="nowrap">
          <Badge color={color[g.status]} w={130}>
            {g.status.replace('_', ' ')}
          </Badge>
          <div>
            <Text fw={600} size="sm">
              {g.title}
            </Text>
            <Text size="sm">{g.detail}</Text>
          </div>
        </Group>
      ))}
    </Stack>
  );
}

export function CampaignsPage() {
  const qc = useQueryClient();
  const campaigns = useQuery({
    queryKey: ['campaigns'],
    queryFn: () => request<{ items: Campaign[] }>('GET', '/api/campaigns'),
  });
  const templates = useQuery({
    queryKey: ['templates'],
    queryFn: () => request<{ items: Named[] }>('GET', '/api/templates'),
    retry: false,
  });
  const segments = useQuery({
    queryKey: ['segments'],
    queryFn: () => request<{ items: Named[] }>('GET', '/api/segments'),
    retry: false,
  });
  const domains = useQuery({
    queryKey: ['sending-domains'],
    queryFn: () => request<{ items: Domain[] }>('GET', '/api/sending-domains'),
  });
  const [form, setForm] = useState({
    name: '',
    templateId: '',
    segmentId: '',
    sendingDomainId: '',
    tracking: true,
  });
  const [selected, setSelected] = useState<number | null>(null);
  const [delivery, setDelivery] = useState<number | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: ['campaigns'] });
  const create = useMutation({
    mutationFn: () =>
      request<Campaign>('POST', '/api/campaigns', {
        name: form.name,
        templateId: Number(form.templateId) || null,
        segmentId: Number(form.segmentId) || null,
        sendingDomainId: Number(form.sendingDomainId) || null,
        tracking: form.tracking,
      }),
    onSuccess: (c) => {
      setSelected(c.id);
      void refresh();
    },
  });
  const review = useMutation({
    mutationFn: (id: number) =>
      request<{ guardrails: Guardrail[] }>('POST', `/api/campaigns/${id}/guardrails`),
  });
  const act = useMutation({
    mutationFn: ({ id, t }: { id: number; t: string }) => request('POST', `/api/campaigns/${id}/${t}`),
    onSuccess: refresh,
  });
  const opts = (items: Named[] | undefined) => [
    { value: '', label: '—' },
    ...(items ?? []).map((x) => ({ value: String(x.id), label: x.name })),
  ];

  return (
    <Stack>
      <Paper withBorder p="md">
        <Stack maw={560}>
          <Title order={3}>1. Details</Title>
          <TextInput
            label="Name"
            value={form.name}
            onChange={(e) => setForm({ ...form, name: e.currentTarget.value })}
          />
          <NativeSelect
            label="Template"
            data={opts(templates.data?.items)}
            value={form.templateId}
            onChange={(e) => setForm({ ...form, templateId: e.currentTarget.value })}
          />
          <NativeSelect
            label="Segment"
            data={opts(segments.data?.items)}
            value={form.segmentId}
            onChange={(e) => setForm({ ...form, segmentId: e.currentTarget.value })}
          />
          <NativeSelect
            label="Sending domain"
            data={[
              { value: '', label: '—' },
              ...(domains.data?.items ?? []).map((d) => ({
                value: String(d.id),
                label: `${d.domain}${d.verified ? '' : ' (unverified)'}`,
              })),
            ]}
            value={form.sendingDomainId}
            onChange={(e) => setForm({ ...form, sendingDomainId: e.currentTarget.value })}
          />
          <Switch
            label="Open and click tracking"
            checked={form.tracking}
            onChange={(e) => setForm({ ...form, tracking: e.currentTarget.checked })}
          />
          <Button onClick={() => create.mutate()} disabled={!form.name} loading={create.isPending}>
            Create draft
          </Button>
          <ErrorAlert error={create.error} />
        </Stack>
      </Paper>
      {selected && (
        <Paper withBorder p="md">
          <Stack>
            <Title order={3}>2. Review campaign #{selected}</Title>
            <Button
              variant="default"
              onClick={() => review.mutate(selected)}
              loading={review.isPending}
              w={200}
            >
              Check guardrails
            </Button>
            <ErrorAlert error={review.error} />
            {review.data && <GuardrailList results={review.data.guardrails} />}
          </Stack>
        </Paper>
      )}
      {delivery && <CampaignDelivery campaignId={delivery} onClose={() => setDelivery(null)} />}
      <ErrorAlert error={act.error} />
      <QueryState query={campaigns}>
        {(data) => (
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Campaign</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Recipients</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((c) => (
                <Table.Tr key={c.id}>
                  <Table.Td>{c.name}</Table.Td>
                  <Table.Td>
                    <Badge variant="light">{c.state.replace('_', ' ')}</Badge>
                  </Table.Td>
                  <Table.Td>{c.recipientCount ?? '—'}</Table.Td>
                  <Table.Td>
                    <Group gap="xs">
                      <Button size="xs" variant="default" onClick={() => setSelected(c.id)}>
                        Review
                      </Button>
                      {['sending', 'scheduled', 'paused', 'completed', 'cancelled'].includes(c.state) && (
                        <Button size="xs" variant="light" onClick={() => setDelivery(c.id)}>
                          Progress &amp; stats
                        </Button>
                      )}
                      {c.state === 'draft' && (
                        <Button size="xs" onClick={() => act.mutate({ id: c.id, t: 'submit' })}>
                          Submit for review
                        </Button>
                      )}
                      {c.state === 'approved' && (
                        <Button size="xs" color="green" onClick={() => act.mutate({ id: c.id, t: 'launch' })}>
                          Launch
                        </Button>
                      )}
                      {(c.state === 'sending' || c.state === 'scheduled') && (
                        <Button
                          size="xs"
                          variant="default"
                          onClick={() => act.mutate({ id: c.id, t: 'pause' })}
                        >
                          Pause
                        </Button>
                      )}
                      {c.state === 'paused' && (
                        <Button
                          size="xs"
                          variant="default"
                          onClick={() => act.mutate({ id: c.id, t: 'resume' })}
                        >
                          Resume
                        </Button>
                      )}
                      {!['completed', 'cancelled'].includes(c.state) && (
                        <Button
                          size="xs"
                          color="red"
                          variant="subtle"
                          onClick={() => act.mutate({ id: c.id, t: 'cancel' })}
                        >
                          Cancel
                        </Button>
                      )}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </QueryState>
    </Stack>
  );
}

/** Approval queue: campaigns in review (with their guardrails) and templates using sensitive fields. */
export function ApprovalsPage() {
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: ['approvals'],
    queryFn: () =>
      request<{ campaigns: Campaign[]; templates: (Named & { sensitiveFields: string[] })[] }>(
        'GET',
        '/api/approvals',
      ),
  });
  const act = useMutation({
    mutationFn: (path: string) => request('POST', path),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['approvals'] }),
  });
  return (
    <Stack>
      <ErrorAlert error={act.error} />
      <QueryState query={q}>
        {(data) => (
          <Stack>
            <Title order={3}>Campaigns in review</Title>
            {data.campaigns.length === 0 && <Text c="dimmed">Nothing to approve.</Text>}
            {data.campaigns.map((c) => (
              <Paper withBorder p="md" key={c.id}>
                <Stack>
                  <Text fw={600}>{c.name}</Text>
                  {c.guardrails && <GuardrailList results={c.guardrails} />}
                  <Group>
                    <Button color="green" onClick={() => act.mutate(`/api/campaigns/${c.id}/approve`)}>
                      Approve
                    </Button>
                    <Button variant="default" onClick={() => act.mutate(`/api/campaigns/${c.id}/reject`)}>
                      Send back
                    </Button>
                  </Group>
                </Stack>
              </Paper>
            ))}
            <Title order={3}>Templates using sensitive fields</Title>
            {data.templates.map((t) => (
              <Group key={t.id}>
                <Text>
                  {t.name} — {t.sensitiveFields.join(', ')}
                </Text>
                <Button size="xs" onClick={() => act.mutate(`/api/templates/${t.id}/approve`)}>
                  Approve
                </Button>
              </Group>
            ))}
          </Stack>
        )}
      </QueryState>
    </Stack>
  );
}
