import '@mantine/core/styles.css';
import '@mantine/notifications/styles.css';
import { createTheme, MantineProvider } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router-dom';
import { App } from './App.tsx';
import { ApiError, onUnauthorized } from './api.ts';
import { meKey } from './auth.ts';

const theme = createTheme({ primaryColor: 'blue', defaultRadius: 'md' });

const noRetryStatuses = new Set([400, 401, 403, 404, 409, 422, 429]);
const queryClient = new QueryClient({
  queryCache: new QueryCache(),
  mutationCache: new MutationCache(),
  defaultOptions: {
    queries: {
      refetchOnWindowFocus: false,
      retry: (count, err) => !(err instanceof ApiError && noRetryStatuses.has(err.status)) && count < 2,
    },
    mutations: { retry: false },
  },
});

// Any 401 from a signed-in API call means the session ended: re-check who we are (the guard redirects).
onUnauthorized(() => {
  void queryClient.invalidateQueries({ queryKey: meKey });
});

const root = document.getElementById('root');
if (!root) throw new Error('#root missing');

createRoot(root).render(
  <StrictMode>
    <MantineProvider theme={theme} defaultColorScheme="light">
      <Notifications position="top-right" />
      <QueryClientProvider client={queryClient}>
        <BrowserRouter>
          <App />
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
