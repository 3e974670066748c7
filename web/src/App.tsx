import { Center, Loader } from '@mantine/core';
import type { ReactElement } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { hasPermission, useMe, useSetupStatus } from './auth.ts';
import { ErrorAlert } from './components/ErrorAlert.tsx';
import { Forbidden } from './components/Forbidden.tsx';
import { Shell } from './components/Shell.tsx';
import { nav, visibleNav } from './nav.ts';
import { ComingSoonPage } from './pages/ComingSoonPage.tsx';
import { EnrolPage } from './pages/EnrolPage.tsx';
import { LoginPage } from './pages/LoginPage.tsx';
import { NotFoundPage } from './pages/NotFoundPage.tsx';
import { SetupPage } from './pages/SetupPage.tsx';
import { TotpPage } from './pages/TotpPage.tsx';

function FullPageLoader() {
  return (
    <Center h="100vh">
      <Loader aria-label="Loading" />
    </Center>
  );
}

/** Signed-in area: not signed in → /login (or /setup); mustEnrol2fa → /enrol only. */
function Protected() {
  const me = useMe();
  const setup = useSetupStatus();
  const location = useLocation();

  if (me.isPending) return <FullPageLoader />;
  if (me.isError) {
    return (
      <Center h="100vh" p="md">
        <ErrorAlert error={me.error} title="Cannot load your account" />
      </Center>
    );
  }
  if (!me.data) {
    if (setup.isPending) return <FullPageLoader />;
    if (setup.data?.needsSetup) return <Navigate to="/setup" replace />;
    const from = location.pathname + location.search;
    return <Navigate to="/login" replace state={from === '/' ? undefined : { from }} />;
  }
  if (me.data.mustEnrol2fa && location.pathname !== '/enrol') return <Navigate to="/enrol" replace />;
  return <Shell me={me.data} />;
}

function Home() {
  const me = useMe();
  // Land on the first page that exists (placeholders are not a useful start page).
  const first = visibleNav(me.data?.permissions).find((e) => e.element);
  return <Navigate to={first?.path ?? '/account'} replace />;
}

function Guarded({
  permission,
  label,
  children,
}: {
  permission: string | null;
  label: string;
  children: ReactElement;
}) {
  const me = useMe();
  if (!hasPermission(me.data, permission)) return <Forbidden title={label} />;
  return children;
}

export function App() {
  return (
    <Routes>
      <Route path="/setup" element={<SetupPage />} />
      <Route path="/login" element={<LoginPage />} />
      <Route path="/login/totp" element={<TotpPage />} />
      <Route element={<Protected />}>
        <Route index element={<Home />} />
        <Route path="/enrol" element={<EnrolPage />} />
        {nav.map((e) => (
          <Route
            key={e.path}
            path={`${e.path}/*`}
            element={
              <Guarded permission={e.permission} label={e.label}>
                {e.element ?? <ComingSoonPage label={e.label} />}
              </Guarded>
            }
          />
        ))}
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
