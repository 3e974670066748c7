// Bulk access to customer data: exports and unmasked reads, by absolute
// volume or against the user's own baseline.
import { type DetectorDef, FireMemo, Keyed, Window } from './types.ts';

function volumeDetector(id: string, type: string, what: string, absRows: number): DetectorDef {
  return {
    id,
    title: `Mass ${what}`,
    logic: `Per user: rows ${what === 'export' ? 'exported' : 'read unmasked'} within \`windowMinutes\` ≥ \`absRows\` fires; so does one ${what} of ≥ \`minRows\` rows that is ≥ \`k\` × the user's own mean over their last 20 (once \`minHistory\` are known).`,
    limits: `Slow exfiltration below both thresholds; data taken by other means (screenshots, copying pages); a user whose baseline is already large.`,
    types: [type],
    severity: 'high',
    params: { absRows, windowMinutes: 60, k: 10, minRows: 500, minHistory: 3 },
    responses: ['revoke_sessions', 'lock_account', 'revoke_api_key'],
    create() {
      const st = new Keyed(() => ({ w: new Window<{ id: number; rows: number }>(), sum: 0, hist: [] as number[] }));
      const memo = new FireMemo();
      return {
        observe(e, { params, emit }) {
          const user = e.actor;
          const rows = e.count ?? 0;
          if (!user || rows <= 0) return;
          const s = st.get(user);
          const t = e.at.getTime();
          const span = params.windowMinutes * 60_000;
          s.w.push(t, { id: e.id, rows });
          s.sum += rows;
          s.w.evict(t - span, (x) => {
            s.sum -= x.rows;
          });
          const mean = s.hist.length ? s.hist.reduce((a, b) => a + b, 0) / s.hist.length : 0;
          const overBaseline = s.hist.length >= params.minHistory && rows >= params.minRows && rows >= params.k * mean;
          s.hist.push(rows);
          if (s.hist.length > 20) s.hist.shift();
          if (s.sum < params.absRows && !overBaseline) return;
          const again = memo.recent(user, t, span);
          const ids = again ? [e.id] : s.w.values().map((x) => x.id);
          emit({
            entityType: 'user',
            entity: user,
            title: s.sum >= params.absRows ? `${user}: ${s.sum} rows (${what}) within ${params.windowMinutes} min` : `${user}: ${what} of ${rows} rows, ${Math.round(rows / Math.max(mean, 1))}× their usual`,
            at: e.at,
            eventIds: ids,
            since: again ? t : s.w.first,
            details: { rows, windowRows: s.sum, baselineMean: Math.round(mean) },
          });
        },
      };
    },
  };
}

export const massExport = volumeDetector('mass_export', 'data.export', 'export', 10_000);
export const massUnmasked = volumeDetector('mass_unmasked_read', 'data.unmasked_read', 'unmasked read', 2_000);
export const dataDetectors = [massExport, massUnmasked];
