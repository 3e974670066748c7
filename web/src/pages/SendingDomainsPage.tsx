// Sending domains and their DKIM keys (/api/sending-domains). The private keys
// never leave the server: this page shows the DNS TXT record to publish for
// each key, and verifies that it is published (or lets an admin confirm it
// where the server cannot resolve DNS). One RSA and one Ed25519 key can be
// active together: messages are then signed with both.
import {
  Alert,
  Badge,
  Button,
  Card,
  Checkbox,
  Code,
  CopyButton,
  Group,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { fieldError, request } from '../api.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { QueryState } from '../components/QueryState.tsx';

interface DkimKey {
  id: number;
  selector: string;
  algorithm: string;
  state: string;
  dnsName: string;
  txt: string;
}

interface Domain {
  id: number;
  domain: string;
  verified: boolean;
  verifiedAt: string | null;
  dkim: DkimKey[];
}

const key = ['sending-domains'] as const;

function DomainCard({ d }: { d: Domain }) {
  const qc = useQueryClient();
  const [algorithm, setAlgorithm] = useState<'ed25519' | 'rsa'>('ed25519');
  const [force, setForce] = useState(false);
  const refresh = () => void qc.invalidateQueries({ queryKey: key });
  const generate = useMutation({
    mutationFn: () => request('POST', `/api/sending-domains/${d.id}/dkim`, { algorithm }),
    onSuccess: () => {
      notifications.show({
        color: 'green',
        message: `New ${algorithm === 'rsa' ? 'RSA-2048' : 'Ed25519'} key for ${d.domain}: publish its record, then verify`,
      });
      refresh();
    },
  });
  const verify = useMutation({
    mutationFn: () => request('POST', `/api/sending-domains/${d.id}/verify`, { force }),
    onSuccess: () => {
      notifications.show({ color: 'green', message: `${d.domain} verified` });
      refresh();
    },
  });
  const active = d.dkim.filter((k) => k.state === 'active');
  return (
    <Card withBorder>
      <Stack gap="sm">
        <Group justify="space-between">
          <Group gap="xs">
            <Title order={4}>{d.domain}</Title>
            {d.verified ? <Badge color="green">verified</Badge> : <Badge color="yellow">not verified</Badge>}
          </Group>
          <Group gap="xs">
            <Select
              aria-label="Key algorithm"
              value={algorithm}
              onChange={(v) => setAlgorithm((v as 'ed25519' | 'rsa') ?? 'ed25519')}
              data={[
                { value: 'ed25519', label: 'Ed25519 (RFC 8463)' },
                { value: 'rsa', label: 'RSA-2048' },
              ]}
              w={200}
            />
            <Button variant="light" loading={generate.isPending} onClick={() => generate.mutate()}>
              Generate DKIM key
            </Button>
          </Group>
        </Group>
        <ErrorAlert error={generate.error ?? verify.error} />
        {active.length === 0 ? (
          <Text c="dimmed">No DKIM key yet: generate one, publish its TXT record, then verify.</Text>
        ) : (
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Selector</Table.Th>
                <Table.Th>Algorithm</Table.Th>
                <Table.Th>Publish this TXT record</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {active.map((k) => (
                <Table.Tr key={k.id}>
                  <Table.Td>{k.selector}</Table.Td>
                  <Table.Td>{k.algorithm}</Table.Td>
                  <Table.Td>
                    <Stack gap={4}>
                      <Code>{k.dnsName}</Code>
                      <Group gap="xs" wrap="nowrap" align="flex-start">
                        <Code block style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap', flex: 1 }}>
                          {k.txt}
                        </Code>
                        <CopyButton value={k.txt}>
                          {({ copied, copy }) => (
                            <Button size="xs" variant="subtle" onClick={copy}>
                              {copied ? 'Copied' : 'Copy'}
                            </Button>
                          )}
                        </CopyButton>
                      </Group>
                    </Stack>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        {active.length > 0 && (
          <Group>
            <Button loading={verify.isPending} onClick={() => verify.mutate()}>
              Verify DNS records
            </Button>
            <Checkbox
              label="The server cannot resolve DNS: I confirm the records are published (audited)"
              checked={force}
              onChange={(e) => setForce(e.currentTarget.checked)}
            />
          </Group>
        )}
      </Stack>
    </Card>
  );
}

export function SendingDomainsPage() {
  const qc = useQueryClient();
  const domains = useQuery({
    queryKey: key,
    queryFn: () => request<{ items: Domain[] }>('GET', '/api/sending-domains'),
  });
  const [domain, setDomain] = useState('');
  const add = useMutation({
    mutationFn: () => request('POST', '/api/sending-domains', { domain }),
    onSuccess: () => {
      setDomain('');
      void qc.invalidateQueries({ queryKey: key });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate();
  };
  return (
    <Stack>
      <Title order={2}>Sending domains</Title>
      <Alert variant="light">
        Campaigns and transactional mail are sent only from a verified domain with a DKIM key generated here.
        Publish each key's TXT record at your DNS provider (long RSA values may need splitting into
        255-character strings), then verify.
      </Alert>
      <form onSubmit={submit} noValidate>
        <Group align="flex-end">
          <TextInput
            label="Add a domain"
            placeholder="mail.example.com"
            value={domain}
            onChange={(e) => setDomain(e.currentTarget.value)}
            error={fieldError(add.error, 'domain')}
            w={320}
          />
          <Button type="submit" loading={add.isPending}>
            Add
          </Button>
        </Group>
      </form>
      <ErrorAlert error={add.error} />
      <QueryState query={domains}>
        {(data) =>
          data.items.length === 0 ? (
            <Text c="dimmed">No sending domain yet.</Text>
          ) : (
            <Stack>
              {data.items.map((d) => (
                <DomainCard key={d.id} d={d} />
              ))}
            </Stack>
          )
        }
      </QueryState>
    </Stack>
  );
}
