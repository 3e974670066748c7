import { Badge, Group, Paper, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { type Me, roleLabel } from '../../api.ts';

function Field({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <Stack gap={2}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
        {label}
      </Text>
      <Text>{children}</Text>
    </Stack>
  );
}

export function ProfileSection({ me }: { me: Me }) {
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="profile-heading">
      <Stack>
        <Title order={3} id="profile-heading">
          Profile
        </Title>
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <Field label="Name">{me.name}</Field>
          <Field label="Email">{me.email}</Field>
          <Field label="Role">
            <Group component="span" gap={4}>
              <Badge variant="light">{roleLabel(me.role)}</Badge>
            </Group>
          </Field>
        </SimpleGrid>
        <Text size="sm" c="dimmed">
          Ask an administrator to change your name or role.
        </Text>
      </Stack>
    </Paper>
  );
}
