import { AppShell, Burger, Button, Group, NavLink, ScrollArea, Text } from '@mantine/core';
import { useDisclosure, useDocumentTitle } from '@mantine/hooks';
import { Link, Outlet, useLocation } from 'react-router-dom';
import { type Me, roleLabel } from '../api.ts';
import { useSignOut } from '../auth.ts';
import { type NavEntry, visibleNav } from '../nav.ts';

function groupBySection(entries: NavEntry[]): [string, NavEntry[]][] {
  const groups = new Map<string, NavEntry[]>();
  for (const e of entries) groups.set(e.section, [...(groups.get(e.section) ?? []), e]);
  return [...groups.entries()];
}

export function Shell({ me }: { me: Me }) {
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  const signOut = useSignOut();
  // While 2FA enrolment is mandatory, no other page is reachable.
  const entries = me.mustEnrol2fa ? [] : visibleNav(me.permissions);
  const current = entries.find(
    (e) => location.pathname === e.path || location.pathname.startsWith(`${e.path}/`),
  );
  useDocumentTitle(current ? `${current.label} · mailwarden` : 'mailwarden');

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 240, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label="Toggle navigation"
            />
            <Text fw={700} fz="lg" component={Link} to="/">
              mailwarden
            </Text>
          </Group>
          <Group gap="sm" wrap="nowrap">
            <Text size="sm" c="dimmed" visibleFrom="xs">
              {me.name} · {roleLabel(me.role)}
            </Text>
            <Button variant="subtle" size="compact-sm" onClick={signOut}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main navigation">
        <ScrollArea>
          {me.mustEnrol2fa && (
            <Text size="sm" c="dimmed" p="xs">
              Set up two-factor authentication to continue.
            </Text>
          )}
          {groupBySection(entries).map(([section, items]) => (
            <div key={section}>
              <Text size="xs" fw={700} c="dimmed" tt="uppercase" px="sm" pt="sm" pb={4}>
                {section}
              </Text>
              {items.map((e) => (
                <NavLink
                  key={e.path}
                  component={Link}
                  to={e.path}
                  label={e.label}
                  active={e === current}
                  aria-current={location.pathname === e.path ? 'page' : undefined}
                  onClick={close}
                />
              ))}
            </div>
          ))}
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
