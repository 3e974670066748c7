// Template editor: Liquid (strict) over HTML or MJML, live preview in a
// sandboxed frame with the text part, analysis (sensitive fields), test sends.
import { Alert, Badge, Button, Group, Paper, SegmentedControl, Stack, Table, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { request } from '../../api.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { QueryState } from '../../components/QueryState.tsx';

type Template = { id: number; name: string; subject: string; format: 'html' | 'mjml'; body: string; sensitiveFields: string[]; needsApproval: boolean };
type Preview = { subject: string; html: string; text: string; warnings: string[]; analysis: { sensitive: string[]; unknown: string[]; unavailable: string[] } };

const starter = `<p>Hello {{ contact.first_name | default: "there" }},</p>
<p>…</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ workspace.postal_address }}</p>`;

export function TemplatesPage() {
  const qc = useQueryClient();
  const list = useQuery({ queryKey: ['templates'], queryFn: () => request<{ items: Template[] }>('GET', '/api/templates') });
  const [id, setId] = useState<number | null>(null);
  const [name, setName] = useState('');
  const [subject, setSubject] = useState('');
  const [format, setFormat] = useState<'html' | 'mjml'>('html');
  const [body, setBody] = useState(starter);
  const [seed, setSeed] = useState('');
  const preview = useMutation({ mutationFn: () => request<Preview>('POST', '/api/templates/preview', { subject, format, body }) });
  const save = useMutation({
    mutationFn: () => (id ? request('PATCH', `/api/templates/${id}`, { name, subject, format, body }) : request('POST', '/api/templates', { name, subject, format, body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['templates'] }),
  });
  const testSend = useMutation({ mutationFn: () => request('POST', `/api/templates/${id}/test-send`, { to: seed.split(/[,\s]+/).filter(Boolean) }) });
  const load = (t: Template) => {
    setId(t.id);
    setName(t.name);
    setSubject(t.subject);
    setFormat(t.format);
    setBody(t.body);
  };

  return (
    <Stack>
      <Paper withBorder p="md">
        <Stack>
          <Title order={3}>{id ? `Edit template #${id}` : 'New template'}</Title>
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <TextInput label="Subject" value={subject} onChange={(e) => setSubject(e.currentTarget.value)} />
          <SegmentedControl value={format} onChange={(v) => setFormat(v as 'html' | 'mjml')} data={[{ value: 'html', label: 'HTML' }, { value: 'mjml', label: 'MJML' }]} />
          <Textarea label="Body (Liquid)" autosize minRows={10} ff="monospace" value={body} onChange={(e) => setBody(e.currentTarget.value)} />
          <Group>
            <Button variant="default" onClick={() => preview.mutate()}>
              Preview
            </Button>
            <Button onClick={() => save.mutate()} disabled={!name || !subject} loading={save.isPending}>
              Save
            </Button>
            <TextInput placeholder="seed@yourcompany.com" value={seed} onChange={(e) => setSeed(e.currentTarget.value)} aria-label="Seed addresses" />
            <Button variant="default" disabled={!id || !seed} onClick={() => testSend.mutate()}>
              Test send
            </Button>
          </Group>
          <ErrorAlert error={preview.error ?? save.error ?? testSend.error} />
          {testSend.isSuccess && <Text size="sm">Test sends queued in the outbox.</Text>}
          {preview.data && (
            <Stack>
              {preview.data.analysis.sensitive.length > 0 && (
                <Alert color="yellow">Uses sensitive fields ({preview.data.analysis.sensitive.join(', ')}): a second person must approve this template.</Alert>
              )}
              {preview.data.warnings.map((w) => (
                <Text key={w} size="sm" c="orange">
                  {w}
                </Text>
              ))}
              <Text fw={600}>Subject: {preview.data.subject}</Text>
              <iframe title="HTML preview" sandbox="" srcDoc={preview.data.html} style={{ width: '100%', height: 400, border: '1px solid #ddd' }} />
              <Textarea label="Text part" readOnly autosize value={preview.data.text} />
            </Stack>
          )}
        </Stack>
      </Paper>
      <QueryState query={list}>
        {(data) => (
          <Table>
            <Table.Tbody>
              {data.items.map((t) => (
                <Table.Tr key={t.id}>
                  <Table.Td>{t.name}</Table.Td>
                  <Table.Td>{t.needsApproval ? <Badge color="yellow">needs approval</Badge> : t.sensitiveFields.length ? <Badge color="green">approved</Badge> : null}</Table.Td>
                  <Table.Td>
                    <Button size="xs" variant="default" onClick={() => load(t)}>
                      Edit
                    </Button>
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
