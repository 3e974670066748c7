// The message of a case, rendered safely: the HTML was sanitised by the server (links disarmed,
// remote content blocked) and is shown in a sandboxed frame; plus text, links, attachments and
// headers.
import { Alert, Code, ScrollArea, Table, Tabs } from '@mantine/core';
import type { Detail } from './types.ts';

const frameCss =
  '<style>body{font-family:sans-serif;font-size:14px}.mw-link{background:#fff3bf;text-decoration:underline dotted}.mw-link-target{color:#c92a2a;font-family:monospace;font-size:12px;word-break:break-all}</style>';

export function MessageRendering({ m }: { m: Pick<Detail, 'rendering' | 'links' | 'attachments'> }) {
  return (
    <>
      {m.rendering.error && <Alert color="yellow">{m.rendering.error}</Alert>}
      {(m.rendering.remoteContentBlocked > 0 || m.rendering.disarmedLinks > 0) && (
        <Alert color="blue" variant="light" py={4} mb={4}>
          {m.rendering.disarmedLinks} link(s) disarmed (real target shown in red),{' '}
          {m.rendering.remoteContentBlocked} remote image(s) blocked.
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
            style={{
              width: '100%',
              height: 480,
              border: '1px solid var(--mantine-color-gray-3)',
              background: 'white',
            }}
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
                  <Table.Td style={{ wordBreak: 'break-all', color: 'var(--mantine-color-red-8)' }}>
                    {l.href}
                  </Table.Td>
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
    </>
  );
}
