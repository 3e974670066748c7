import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from 'react-router-dom';
import { api, type Me } from './api.ts';

export const meKey = ['me'] as const;
export const setupKey = ['setup-status'] as const;

export function useMe() {
  return useQuery({ queryKey: meKey, queryFn: api.me, staleTime: 30_000 });
}

export function useSetupStatus() {
  return useQuery({ queryKey: setupKey, queryFn: api.setupStatus, staleTime: Number.POSITIVE_INFINITY });
}

export function hasPermission(me: Me | null | undefined, permission: string | null | undefined): boolean {
  if (!permission) return Boolean(me);
  return Boolean(me?.permissions?.includes(permission));
}

/** Refetch the current user, then go to `to`. */
export function useAfterSignIn() {
  const qc = useQueryClient();
  const navigate = useNavigate();
  return async (to: string) => {
    await qc.fetchQuery({ queryKey: meKey, queryFn: api.me, staleTime: 0 });
    navigate(to, { replace: true });
  };
}

export function useSignOut() {
  const qc = useQueryClient();
  const navigate = useNavigate();
  return async () => {
    try {
      await api.logout();
    } catch {
      // Signing out locally regardless.
    }
    qc.removeQueries({ predicate: (q) => q.queryKey[0] !== setupKey[0] });
    qc.setQueryData(meKey, null);
    navigate('/login', { replace: true });
  };
}
