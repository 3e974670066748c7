// Event writes. The monitor's hot path is `writeEvents`: COPY … FROM STDIN on
// PostgreSQL, a multi-row INSERT … SELECT FROM unnest(…) per 5,000 on PGlite.
import type pg from 'pg';
import type { Database } from '../db/client.ts';
import { copyFrom } from '../db/copy.ts';
import type { MonitorEvent, StoredEvent } from './events.ts';

const CHUNK = 5000;
const PARALLEL = 2;

/** Insert events (one statement per 5,000; ids given or from the sequence) and return them with their ids, in order. */
export async function insertEvents(
  database: Pick<Database, 'query' | 'kind'>,
  events: (MonitorEvent & { id?: number })[],
): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for (let i = 0; i < events.length; i += CHUNK) {
    const part = events.slice(i, i + CHUNK);
    const withIds = part.every((e) => e.id != null);
    const rows = await insertChunk(database, part, withIds, true);
    part.forEach((e, j) => {
      out.push({ ...e, id: withIds ? (e.id as number) : Number(rows[j].id) });
    });
  }
  return out;
}

/**
 * Store events, return nothing. On PostgreSQL a batch goes in by COPY … FROM
 * STDIN (text format), split over two pool connections when large so both
 * server cores work on it; COPY skips the per-statement array parsing of
 * INSERT … unnest. PGlite has no COPY from a client stream here, so it keeps
 * the batched INSERT. Events either all carry ids (reserved by the lease
 * holder) or none (taken from the sequence as written). `seen`: written by
 * the lease holder, which ran the detectors on them (see lease.ts).
 */
export async function writeEvents(
  database: Pick<Database, 'query' | 'kind' | 'pool'>,
  events: MonitorEvent[],
  via: 'copy' | 'insert' = 'copy',
  seen = true,
): Promise<void> {
  const withIds = events.length > 0 && events[0].id != null;
  if (database.kind === 'postgres' && database.pool) {
    const pool = database.pool;
    const parts = events.length > 1000 ? PARALLEL : 1;
    const size = Math.ceil(events.length / parts);
    await Promise.all(
      Array.from({ length: parts }, (_, k) => {
        const [from, to] = [k * size, Math.min(events.length, (k + 1) * size)];
        // `insert` is the bench's anchor: the same split, through INSERT … unnest.
        return via === 'copy'
          ? copyEvents(pool, events, from, to, withIds, seen)
          : insertChunk(database, events.slice(from, to), withIds, seen);
      }),
    );
    return;
  }
  for (let i = 0; i < events.length; i += CHUNK)
    await insertChunk(database, events.slice(i, i + CHUNK), withIds, seen);
}

async function insertChunk(
  database: Pick<Database, 'query'>,
  part: MonitorEvent[],
  withIds: boolean,
  seen: boolean,
): Promise<{ id: number }[]> {
  const col = <T>(f: (e: MonitorEvent) => T) => part.map(f);
  return database.query<{ id: number }>(
    `INSERT INTO security_events (${withIds ? 'id, ' : ''}at, type, source, actor_type, actor_id, actor, target, outcome, ip, user_agent, country, city, lat, lon, asn, size, count, details, seen)
     SELECT *, ${seen ? 'true' : 'false'} FROM unnest(${withIds ? '$19::int8[], ' : ''}$1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                          $11::text[], $12::text[], $13::float8[], $14::float8[], $15::int[], $16::int8[], $17::int[], $18::jsonb[])
     ${withIds ? '' : 'RETURNING id'}`,
    [
      col((e) => e.at.toISOString()),
      col((e) => e.type),
      col((e) => e.source),
      col((e) => e.actorType),
      col((e) => e.actorId),
      col((e) => e.actor),
      col((e) => e.target),
      col((e) => e.outcome),
      col((e) => e.ip),
      col((e) => e.userAgent),
      col((e) => e.country),
      col((e) => e.city),
      col((e) => e.lat),
      col((e) => e.lon),
      col((e) => e.asn),
      col((e) => e.size),
      col((e) => e.count),
      col((e) => detailsJson(e.details)),
      ...(withIds ? [col((e) => (e as { id: number }).id)] : []),
    ],
  );
}

// Most events carry no details: skip JSON.stringify for them.
const detailsJson = (d: Record<string, unknown>) => {
  for (const _ in d) return JSON.stringify(d);
  return '{}';
};

const COPY_COLUMNS =
  'at, type, source, actor_type, actor_id, actor, target, outcome, ip, user_agent, country, city, lat, lon, asn, size, count, details, seen';

/** COPY text format: NULL is \N; backslash, tab, newline and carriage return are escaped. */
const SPECIAL = /[\\\t\n\r]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
function text(v: string | null): string {
  if (v == null) return '\\N';
  return SPECIAL.test(v) ? v.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]) : v;
}
const num = (v: number | null) => (v == null ? '\\N' : String(v));

/** Rows [from, to) of `events` as COPY text, sent on one pooled connection. */
async function copyEvents(
  pool: pg.Pool,
  events: MonitorEvent[],
  from: number,
  to: number,
  withIds: boolean,
  seen: boolean,
): Promise<void> {
  const tail = seen ? 't\n' : 'f\n';
  let body = '';
  for (let i = from; i < to; i++) {
    const e = events[i];
    if (withIds) body += `${e.id}\t`;
    body += `${e.at.toISOString()}\t${text(e.type)}\t${text(e.source)}\t${text(e.actorType)}\t${text(e.actorId)}\t${text(e.actor)}\t${text(e.target)}\t${text(e.outcome)}\t${text(e.ip)}\t${text(e.userAgent)}\t${text(e.country)}\t${text(e.city)}\t${num(e.lat)}\t${num(e.lon)}\t${num(e.asn)}\t${num(e.size)}\t${num(e.count)}\t${text(detailsJson(e.details))}\t${tail}`;
  }
  const client = await pool.connect();
  try {
    await copyFrom(
      client,
      `COPY security_events (${withIds ? 'id, ' : ''}${COPY_COLUMNS}) FROM STDIN`,
      Buffer.from(body),
    );
  } finally {
    client.release();
  }
}

/** Delete events older than the retention (the only delete the append-only trigger lets through). */
export async function pruneEvents(database: Database, retentionDays: number): Promise<number> {
  const sql = `WITH gone AS (DELETE FROM security_events WHERE at < now() - make_interval(days => $1) RETURNING 1) SELECT count(*)::int AS n FROM gone`;
  if (database.kind === 'postgres') {
    const client = await database.pool!.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('mailwarden.events_prune', 'on', true)`);
      const r = await client.query(sql, [retentionDays]);
      await client.query('COMMIT');
      return r.rows[0].n;
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
  }
  const pg = database.pglite!;
  return pg.transaction(async (tx) => {
    await tx.query(`SELECT set_config('mailwarden.events_prune', 'on', true)`);
    const r = await tx.query<{ n: number }>(sql, [retentionDays]);
    return r.rows[0].n;
  });
}
