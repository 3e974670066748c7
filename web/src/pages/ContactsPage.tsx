// Contacts console: list with exact-match filters, detail with timeline and
// privacy requests, companies, lists, attribute definitions, import wizard
// (mapping, preview, live progress) and the export dialog.
import { Badge, Button, Checkbox, Drawer, Group, Modal, NativeSelect, Progress, Stack, Table, Tabs, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorMessage } from '../api.ts';
import { type AttributeDef, contactsApi, type Filters, type ImportRecord } from '../contactsApi.ts';

const CORE = ['email', 'firstName', 'lastName', 'phone', 'country', 'timeZone', 'notes'];

function ContactDetail({ id, onClose }: { id: string; onClose: () => void }) {
  const qc = useQueryClient();
  const contact = useQuery({ queryKey: ['contact', id], queryFn: () => contactsApi.get(id) });
  const timeline = useQuery({ queryKey: ['contact', id, 'activities'], queryFn: () => contactsApi.activities(id) });
  const [note, setNote] = useState('');
  const [reason, setReason] = useState('');
  const [msg, setMsg] = useState<string | null>(null);
  const addNote = useMutation({
    mutationFn: () => contactsApi.addActivity(id, 'note', note),
    onSuccess: () => {
      setNote('');
      qc.invalidateQueries({ queryKey: ['contact', id, 'activities'] });
    },
  });
  const c = contact.data;
  return (
    <Drawer opened onClose={onClose} position="right" size="lg" title="Contact">
      {contact.error && <Text c="red">{errorMessage(contact.error)}</Text>}
      {c && (
        <Stack>
          <Title order={4}>
            {[c.firstName, c.lastName].filter(Boolean).join(' ') || '—'} {c.suppressed && <Badge color="red">suppressed</Badge>}
          </Title>
          <Text>{c.email}</Text>
          <Text>{c.phone ?? 'no phone'}</Text>
          {c.maskedFields.length > 0 && <Text size="sm" c="dimmed">Masked for your role: {c.maskedFields.join(', ')}</Text>}
          <Text size="sm">Tags: {c.tags.join(', ') || '—'} · Lists: {c.lists.map((l) => l.name).join(', ') || '—'}</Text>
          <Text size="sm">Consent: {c.consents.map((x) => `${x.purpose}: ${x.state}`).join(', ') || 'none recorded'}</Text>
          <Table>
            <Table.Tbody>
              {Object.entries(c.attributes).map(([k, v]) => (
                <Table.Tr key={k}>
                  <Table.Td>{k}</Table.Td>
                  <Table.Td>{String(v)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          <Title order={5}>Timeline</Title>
          {(timeline.data ?? []).map((a) => (
            <Text key={a.id} size="sm">
              {new Date(a.at).toLocaleString()} · <b>{a.kind}</b> {a.body ?? ''} {a.actorLabel ? `(${a.actorLabel})` : ''}
            </Text>
          ))}
          <Group>
            <TextInput placeholder="Add a note" value={note} onChange={(e) => setNote(e.currentTarget.value)} />
            <Button disabled={!note} onClick={() => addNote.mutate()}>
              Add note
            </Button>
          </Group>
          <Title order={5}>Privacy requests</Title>
          <TextInput label="Reason (required, audited)" value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
          <Group>
            <Button variant="light" disabled={reason.length < 3} onClick={() => contactsApi.privacyExport(id, reason).catch((e) => setMsg(errorMessage(e)))}>
              Export everything (JSON)
            </Button>
            <Button
              color="red"
              disabled={reason.length < 3}
              onClick={() =>
                contactsApi.erase(id, reason).then(
                  () => {
                    qc.invalidateQueries({ queryKey: ['contacts'] });
                    onClose();
                  },
                  (e) => setMsg(errorMessage(e)),
                )
              }
            >
              Erase contact
            </Button>
          </Group>
          {msg && <Text c="red">{msg}</Text>}
        </Stack>
      )}
    </Drawer>
  );
}

function ExportDialog({ filters, attrs, onClose }: { filters: Filters; attrs: AttributeDef[]; onClose: () => void }) {
  const all = [...CORE, 'jobTitle', 'tags', 'createdAt', ...attrs.map((a) => `attributes.${a.key}`)];
  const [fields, setFields] = useState<string[]>(['email', 'firstName', 'lastName']);
  const [format, setFormat] = useState<'csv' | 'jsonl'>('csv');
  const [reason, setReason] = useState('');
  const [err, setErr] = useState<string | null>(null);
  return (
    <Modal opened onClose={onClose} title="Export contacts">
      <Stack>
        <Checkbox.Group label="Fields" value={fields} onChange={setFields}>
          <Group>
            {all.map((f) => (
              <Checkbox key={f} value={f} label={f} />
            ))}
          </Group>
        </Checkbox.Group>
        <NativeSelect label="Format" data={['csv', 'jsonl']} value={format} onChange={(e) => setFormat(e.currentTarget.value as 'csv' | 'jsonl')} />
        <Textarea label="Reason (required; the export is audited with its row count)" value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
        {err && <Text c="red">{err}</Text>}
        <Button
          disabled={reason.trim().length < 3 || fields.length === 0}
          onClick={() => contactsApi.exportContacts({ format, fields, reason, filter: filters }).then(onClose, (e) => setErr(errorMessage(e)))}
        >
          Export
        </Button>
      </Stack>
    </Modal>
  );
}

function ContactsTab() {
  const [draft, setDraft] = useState<Filters>({});
  const [filters, setFilters] = useState<Filters>({});
  const [open, setOpen] = useState<string | null>(null);
  const [exporting, setExporting] = useState(false);
  const list = useQuery({ queryKey: ['contacts', filters], queryFn: () => contactsApi.list(filters) });
  const attrs = useQuery({ queryKey: ['attributes'], queryFn: contactsApi.attributes });
  const set = (k: keyof Filters) => (e: { currentTarget: { value: string } }) => setDraft({ ...draft, [k]: e.currentTarget.value });
  return (
    <Stack>
      <Group align="end">
        <TextInput label="Exact email" value={draft.email ?? ''} onChange={set('email')} />
        <TextInput label="Exact phone" value={draft.phone ?? ''} onChange={set('phone')} />
        <TextInput label="Tag" value={draft.tag ?? ''} onChange={set('tag')} />
        <TextInput label="List id" value={draft.listId ?? ''} onChange={set('listId')} />
        <TextInput label="Owner id" value={draft.ownerUserId ?? ''} onChange={set('ownerUserId')} />
        <TextInput label="Attribute (key:value)" value={draft.attribute ?? ''} onChange={set('attribute')} />
        <Button onClick={() => setFilters(draft)}>Search</Button>
        <Button variant="light" onClick={() => setExporting(true)}>
          Export…
        </Button>
      </Group>
      {list.error && <Text c="red">{errorMessage(list.error)}</Text>}
      <Table highlightOnHover>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Email</Table.Th>
            <Table.Th>Name</Table.Th>
            <Table.Th>Phone</Table.Th>
            <Table.Th>Tags</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(list.data?.items ?? []).map((c) => (
            <Table.Tr key={c.id} onClick={() => setOpen(c.id)} style={{ cursor: 'pointer' }}>
              <Table.Td>
                {c.email} {c.suppressed && <Badge color="red">suppressed</Badge>}
              </Table.Td>
              <Table.Td>{[c.firstName, c.lastName].filter(Boolean).join(' ')}</Table.Td>
              <Table.Td>{c.phone}</Table.Td>
              <Table.Td>{c.tags.join(', ')}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {open && <ContactDetail id={open} onClose={() => setOpen(null)} />}
      {exporting && <ExportDialog filters={filters} attrs={attrs.data ?? []} onClose={() => setExporting(false)} />}
    </Stack>
  );
}

function ImportWizard() {
  const attrs = useQuery({ queryKey: ['attributes'], queryFn: contactsApi.attributes });
  const [file, setFile] = useState<File | null>(null);
  const [sample, setSample] = useState('');
  const [headers, setHeaders] = useState<string[]>([]);
  const [mapping, setMapping] = useState<Record<string, string>>({});
  const [list, setList] = useState('');
  const [onDuplicate, setOnDuplicate] = useState<'update' | 'skip'>('skip');
  const [preview, setPreview] = useState<Awaited<ReturnType<typeof contactsApi.preview>> | null>(null);
  const [progress, setProgress] = useState<ImportRecord | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const format: 'csv' | 'jsonl' = file && /\.(jsonl|ndjson)$/i.test(file.name) ? 'jsonl' : 'csv';
  const targets = ['', ...CORE, ...(attrs.data ?? []).map((a) => a.key)];

  async function pick(f: File | null) {
    setFile(f);
    setPreview(null);
    setProgress(null);
    if (!f) return;
    const text = await f.slice(0, 64 * 1024).text();
    setSample(text);
    const first = text.split(/\r?\n/)[0] ?? '';
    const cols = format === 'jsonl' || /\.(jsonl|ndjson)$/i.test(f.name) ? Object.keys(JSON.parse(first || '{}')) : first.split(',').map((h) => h.trim().replace(/^"|"$/g, ''));
    setHeaders(cols);
    const guess: Record<string, string> = {};
    for (const h of cols) {
      const t = targets.find((x) => x && x.toLowerCase() === h.toLowerCase().replace(/[\s_]/g, ''));
      if (t) guess[h] = t;
    }
    setMapping(guess);
  }
  const cleanMapping = () => Object.fromEntries(Object.entries(mapping).filter(([, v]) => v));

  async function start() {
    if (!file) return;
    setErr(null);
    try {
      const imp = await contactsApi.createImport({ filename: file.name, format, mapping: cleanMapping(), list: list || undefined, onDuplicate });
      setProgress(imp);
      const timer = setInterval(() => contactsApi.importStatus(imp.id).then(setProgress, () => {}), 1000);
      try {
        setProgress(await contactsApi.uploadImport(imp.id, file, format));
      } finally {
        clearInterval(timer);
      }
    } catch (e) {
      setErr(errorMessage(e));
    }
  }

  return (
    <Stack>
      <input type="file" accept=".csv,.jsonl,.ndjson" onChange={(e) => pick(e.currentTarget.files?.[0] ?? null)} />
      {headers.length > 0 && (
        <Table>
          <Table.Tbody>
            {headers.map((h) => (
              <Table.Tr key={h}>
                <Table.Td>{h}</Table.Td>
                <Table.Td>
                  <NativeSelect data={targets} value={mapping[h] ?? ''} onChange={(e) => setMapping({ ...mapping, [h]: e.currentTarget.value })} />
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {file && (
        <Group align="end">
          <TextInput label="Add to list" value={list} onChange={(e) => setList(e.currentTarget.value)} />
          <NativeSelect label="On duplicate" data={['skip', 'update']} value={onDuplicate} onChange={(e) => setOnDuplicate(e.currentTarget.value as 'update' | 'skip')} />
          <Button variant="light" onClick={() => contactsApi.preview({ format, sample, mapping: cleanMapping() }).then(setPreview, (e) => setErr(errorMessage(e)))}>
            Preview
          </Button>
          <Button onClick={start} disabled={!Object.values(mapping).includes('email')}>
            Import
          </Button>
        </Group>
      )}
      {preview && (
        <Stack gap={2}>
          {preview.error && <Text c="red">{preview.error}</Text>}
          <Text size="sm">
            Preview: {preview.good.length} valid, {preview.bad.length} rejected
          </Text>
          {preview.bad.map((b) => (
            <Text size="sm" c="red" key={b.line}>
              line {b.line}: {b.reason}
            </Text>
          ))}
        </Stack>
      )}
      {progress && (
        <Stack gap={4}>
          <Progress value={progress.state === 'completed' ? 100 : file ? Math.min(99, (progress.rowsDone / Math.max(1, file.size / 80)) * 100) : 0} />
          <Text size="sm">
            {progress.state}: {progress.rowsDone} rows · {progress.inserted} new · {progress.updated} updated · {progress.skipped} skipped · {progress.failed} rejected ·{' '}
            {progress.suppressed} suppressed
          </Text>
          {progress.failed > 0 && progress.state === 'completed' && <a href={`/api/contacts/imports/${progress.id}/errors.csv`}>Download the error file</a>}
        </Stack>
      )}
      {err && <Text c="red">{err}</Text>}
    </Stack>
  );
}

function SimpleTab<T extends { id?: number; key?: string }>(props: { queryKey: string; load: () => Promise<T[]>; columns: (keyof T)[]; create: (v: string, v2: string) => Promise<unknown>; labels: [string, string?] }) {
  const qc = useQueryClient();
  const data = useQuery({ queryKey: [props.queryKey], queryFn: props.load });
  const [a, setA] = useState('');
  const [b, setB] = useState('');
  const [err, setErr] = useState<string | null>(null);
  return (
    <Stack>
      <Group align="end">
        <TextInput label={props.labels[0]} value={a} onChange={(e) => setA(e.currentTarget.value)} />
        {props.labels[1] && <TextInput label={props.labels[1]} value={b} onChange={(e) => setB(e.currentTarget.value)} />}
        <Button
          onClick={() =>
            props.create(a, b).then(
              () => {
                setA('');
                setB('');
                qc.invalidateQueries({ queryKey: [props.queryKey] });
              },
              (e) => setErr(errorMessage(e)),
            )
          }
        >
          Add
        </Button>
      </Group>
      {err && <Text c="red">{err}</Text>}
      <Table>
        <Table.Tbody>
          {(data.data ?? []).map((row, i) => (
            <Table.Tr key={String(row.id ?? row.key ?? i)}>
              {props.columns.map((c) => (
                <Table.Td key={String(c)}>{String(row[c] ?? '')}</Table.Td>
              ))}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

function KeysCard() {
  const keys = useQuery({ queryKey: ['keys'], queryFn: contactsApi.keys, refetchInterval: 2000, retry: false });
  if (!keys.data) return null;
  const r = keys.data.rotation;
  return (
    <Stack gap={4}>
      <Text size="sm">Data keys: {keys.data.keys.map((k) => `${k.purpose} v${k.version} (${k.state})`).join(', ')}</Text>
      {r && (
        <>
          <Text size="sm">
            Rotation v{r.fromVersion} → v{r.toVersion}: {r.state}, {r.done}/{r.total} rows
          </Text>
          <Progress value={r.total ? (r.done / r.total) * 100 : 100} />
        </>
      )}
    </Stack>
  );
}

export function ContactsPage() {
  return (
    <Tabs defaultValue="contacts">
      <Tabs.List>
        <Tabs.Tab value="contacts">Contacts</Tabs.Tab>
        <Tabs.Tab value="companies">Companies</Tabs.Tab>
        <Tabs.Tab value="lists">Lists</Tabs.Tab>
        <Tabs.Tab value="attributes">Attributes</Tabs.Tab>
        <Tabs.Tab value="import">Import</Tabs.Tab>
        <Tabs.Tab value="keys">Encryption</Tabs.Tab>
      </Tabs.List>
      <Tabs.Panel value="contacts" pt="md">
        <ContactsTab />
      </Tabs.Panel>
      <Tabs.Panel value="companies" pt="md">
        <SimpleTab queryKey="companies" load={contactsApi.companies} columns={['name', 'domain']} create={(n, d) => contactsApi.createCompany(n, d)} labels={['Name', 'Domain']} />
      </Tabs.Panel>
      <Tabs.Panel value="lists" pt="md">
        <SimpleTab queryKey="lists" load={contactsApi.lists} columns={['id', 'name', 'members']} create={(n) => contactsApi.createList(n)} labels={['Name']} />
      </Tabs.Panel>
      <Tabs.Panel value="attributes" pt="md">
        <SimpleTab
          queryKey="attributes"
          load={contactsApi.attributes}
          columns={['key', 'label', 'type', 'sensitive']}
          create={(key, spec) => {
            // spec: "type[,sensitive][,opt1|opt2]" e.g. "enum,sensitive,free|pro"
            const [type, ...rest] = spec.split(',');
            const options = rest.find((r) => r.includes('|'))?.split('|');
            return contactsApi.createAttribute({ key, label: key, type: (type || 'text') as AttributeDef['type'], sensitive: rest.includes('sensitive'), options });
          }}
          labels={['Key', 'Type (text|number|date|boolean|enum[,sensitive][,a|b])']}
        />
      </Tabs.Panel>
      <Tabs.Panel value="import" pt="md">
        <ImportWizard />
      </Tabs.Panel>
      <Tabs.Panel value="keys" pt="md">
        <KeysCard />
      </Tabs.Panel>
    </Tabs>
  );
}
