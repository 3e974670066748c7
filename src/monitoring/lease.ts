// One detector per database. Detector state (sliding windows, baselines, open
// alert groups) is in memory, so with several processes on one PostgreSQL
// (serve, worker, a CLI ingest) each would see only its own share of the
// events and could open duplicate alerts. Instead, the process holding a
// session-level advisory lock (the "lease") runs the detectors:
//  - it writes the events it ingests itself with seen = true and runs the
//    detectors on them inline (the fast path);
//  - every other process only stores events (seen = false, ids from the
//    sequence at write time), and the lease holder reads them back by id
//    (`UnseenTail`) and runs the detectors on them — alerts a moment later;
//  - when the holder dies its connection closes, the lock is released, and
//    another process takes the lease within `LEASE_RETRY_MS`, rebuilding its
//    state from the last 24 hours of events like any starting monitor.
import type pg from 'pg';

/** Advisory lock key (any constant int8; scoped to the database by PostgreSQL). */
const LEASE_KEY = 0x6d77_6d6f_6e; // "mwmon"
export const LEASE_RETRY_MS = 5_000;

export class DetectorLease {
  private client: pg.PoolClient | undefined;
  constructor(
    private readonly pool: pg.Pool,
    private readonly onLost: (err: Error) => void,
  ) {}

  get held() {
    return this.client !== undefined;
  }

  /** Try once; the lock lives as long as this dedicated connection. */
  async tryAcquire(): Promise<boolean> {
    if (this.client) return true;
    const c = await this.pool.connect();
    try {
      const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LEASE_KEY]);
      if (!r.rows[0].ok) {
        c.release();
        return false;
      }
    } catch (err) {
      c.release(err as Error);
      throw err;
    }
    c.on('error', (err) => {
      // The connection is gone, and with it the lock: another process may already hold it.
      if (this.client !== c) return;
      this.client = undefined;
      c.release(err);
      this.onLost(err);
    });
    this.client = c;
    return true;
  }

  async release(): Promise<void> {
    const c = this.client;
    if (!c) return;
    this.client = undefined;
    try {
      await c.query('SELECT pg_advisory_unlock($1)', [LEASE_KEY]);
      c.release();
    } catch (err) {
      c.release(err as Error);
    }
  }
}

/**
 * Reads back the events other processes wrote (seen = false), in id order,
 * each once. Ids come from one sequence but commit out of order, so an id
 * skipped by a read may still appear: ids between two rows read that are
 * neither the lease holder's own (its reserved ids, `own`) nor read are kept
 * as gaps and looked up again (at most once a second) for `GAP_MS` — longer
 * than any event-writing transaction; an id still missing then was rolled
 * back or never used.
 */
export class UnseenTail {
  /** Highest id read so far. */
  private hi = 0;
  /** Missing ids → when first noticed (ms). */
  private gaps = new Map<number, number>();
  /** The lease holder's own reserved ids as sorted [lo, hi] runs. */
  private own: [number, number][] = [];

  private gapsCheckedAt = 0;

  constructor(
    private readonly gapMs = GAP_MS,
    /** Gaps are looked up at most this often (they are rare; a burst of them after a takeover need not be hammered). */
    private readonly gapCheckMs = 1000,
  ) {}

  /**
   * Start after the events already replayed: the last replayed page (ascending ids) gives gaps in it
   * a chance too; without one (nothing recent), after `maxId`, the highest id when the replay began.
   */
  startAfter(replayedIds: number[], maxId: number) {
    if (!replayedIds.length) {
      this.hi = maxId;
      return;
    }
    this.hi = replayedIds[0] - 1;
    this.note(replayedIds, Date.now());
    if (maxId > this.hi) this.hi = maxId;
  }

  /** Ids the lease holder reserved for its own writes (ascending). */
  addOwn(ids: number[]) {
    for (const id of ids) {
      const last = this.own[this.own.length - 1];
      if (last && id === last[1] + 1) last[1] = id;
      else this.own.push([id, id]);
    }
  }

  /** One poll: new unseen rows after `hi`, plus rows that filled earlier gaps, in id order. */
  async poll<R extends Record<string, unknown>>(
    query: <T>(sql: string, params?: unknown[]) => Promise<T[]>,
    limit = 5000,
  ): Promise<R[]> {
    const now = Date.now();
    for (const [id, t] of this.gaps) if (now - t > this.gapMs) this.gaps.delete(id);
    const checkGaps = this.gaps.size > 0 && now - this.gapsCheckedAt >= this.gapCheckMs;
    if (checkGaps) this.gapsCheckedAt = now;
    const filled = checkGaps
      ? await query<R>('SELECT * FROM security_events WHERE id = ANY($1::int8[]) AND NOT seen ORDER BY id', [
          [...this.gaps.keys()],
        ])
      : [];
    for (const r of filled) this.gaps.delete(Number(r.id));
    const fresh = await query<R>(
      'SELECT * FROM security_events WHERE NOT seen AND id > $1 ORDER BY id LIMIT $2',
      [this.hi, limit],
    );
    this.note(
      fresh.map((r) => Number(r.id)),
      now,
    );
    // Own runs entirely below every id still of interest are no longer needed.
    const floor = Math.min(this.hi, ...this.gaps.keys());
    while (this.own.length && this.own[0][1] < floor) this.own.shift();
    return filled.length ? [...filled, ...fresh].sort((a, b) => Number(a.id) - Number(b.id)) : fresh;
  }

  get pendingGaps() {
    return this.gaps.size;
  }

  /** Record ids read (ascending) and the gaps between them. */
  private note(ids: number[], now: number) {
    let run = 0;
    for (const id of ids) {
      for (let g = this.hi + 1; g < id; g++) {
        // Skip whole runs of own ids at once.
        while (run < this.own.length && this.own[run][1] < g) run++;
        if (run < this.own.length && this.own[run][0] <= g) {
          g = Math.min(this.own[run][1], id - 1);
          continue;
        }
        if (this.gaps.size < MAX_GAPS) this.gaps.set(g, now);
      }
      if (id > this.hi) this.hi = id;
    }
  }
}

const GAP_MS = 30_000;
/** Bounds memory and the size of the gap lookup if ids were burnt in bulk (e.g. a lease holder died with ids reserved). */
const MAX_GAPS = 50_000;
