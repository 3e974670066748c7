import { Stack, Title } from '@mantine/core';
import { useMe } from '../auth.ts';
import { PasswordSection } from '../components/account/PasswordSection.tsx';
import { ProfileSection } from '../components/account/ProfileSection.tsx';
import { SessionsSection } from '../components/account/SessionsSection.tsx';
import { TwoFactorSection } from '../components/account/TwoFactorSection.tsx';

export function AccountPage() {
  const me = useMe();
  if (!me.data) return null;
  return (
    <Stack maw={900}>
      <Title order={2}>My account</Title>
      <ProfileSection me={me.data} />
      <PasswordSection />
      <TwoFactorSection me={me.data} />
      <SessionsSection />
    </Stack>
  );
}
