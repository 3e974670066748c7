import { Alert, Button, Checkbox, Code, CopyButton, Group, SimpleGrid, Stack } from '@mantine/core';
import { useState } from 'react';

function download(codes: string[]) {
  const blob = new Blob([`mailwarden recovery codes\n\n${codes.join('\n')}\n`], { type: 'text/plain' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = 'mailwarden-recovery-codes.txt';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** One-time display of recovery codes; `onDone` only after the user acknowledges. */
export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const [ack, setAck] = useState(false);
  return (
    <Stack>
      <Alert color="yellow" variant="light" title="Save your recovery codes">
        Each code signs you in once if you lose your authenticator. They are shown only now.
      </Alert>
      <SimpleGrid cols={2} spacing="xs" aria-label="Recovery codes" role="list">
        {codes.map((c) => (
          <Code key={c} role="listitem" fz="md" ta="center" p="xs">
            {c}
          </Code>
        ))}
      </SimpleGrid>
      <Group>
        <CopyButton value={codes.join('\n')}>
          {({ copied, copy }) => (
            <Button variant="default" onClick={copy}>
              {copied ? 'Copied' : 'Copy codes'}
            </Button>
          )}
        </CopyButton>
        <Button variant="default" onClick={() => download(codes)}>
          Download codes
        </Button>
      </Group>
      <Checkbox
        label="I have stored these recovery codes somewhere safe"
        checked={ack}
        onChange={(e) => setAck(e.currentTarget.checked)}
      />
      <Group justify="flex-end">
        <Button disabled={!ack} onClick={onDone}>
          Continue
        </Button>
      </Group>
    </Stack>
  );
}
