// Batched writes: events in one multi-row INSERT … SELECT FROM unnest(…) per
// chunk, and alerts grouped per incident with batched inserts and updates.
import type { Database } from '../db/client.ts';
import type { MonitorEvent, StoredEvent } from './events.ts';

const CHUNK = 5000;

/** Insert events (one statement per 5,000; ids given or from the sequence) and return them with their ids, in order. */
export async function insertEvents(database: Pick<Database, 'query' | 'kind'>, events: (MonitorEvent & { id?: number })[]): Promise<StoredEvent[]> {
  // On PostgreSQL, batches with their ids go in as parallel chunks on separate pool connections.
  const parallel = database.kind === 'postgres' && events.length > 1000 && events.every((e) => e.id != null);
  if (parallel) {
    const size = Math.ceil(events.length / PARALLEL);
    const parts = await Promise.all(Array.from({ length: PARALLEL }, (_, k) => insertChunks(database, events.slice(k * size, (k + 1) * size))));
    return parts.flat();
  }
  return insertChunks(database, events);
}

const PARALLEL = 2;

async function insertChunks(database: Pick<Database, 'query'>, events: (MonitorEvent & { id?: number })[]): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for (let i = 0; i < events.length; i += CHUNK) {
    const part = events.slice(i, i + CHUNK);
    const col = <T>(f: (e: MonitorEvent) => T) => part.map(f);
    const withIds = part.every((e) => e.id != null);
    const rows = await database.query<{ id: number }>(
      `INSERT INTO security_events (${withIds ? 'id, ' : ''}at, type, source, actor_type, actor_id, actor, target, outcome, ip, user_agent, country, city, lat, lon, asn, size, count, details)
       SELECT * FROM unnest(${withIds ? '$19::int8[], ' : ''}$1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
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
        col((e) => JSON.stringify(e.details)),
        ...(withIds ? [col((e) => (e as { id: number }).id)] : []),
      ],
    );
    part.forEach((e, j) => {
      out.push({ ...e, id: withIds ? (e.id as number) : Number(rows[j].id) });
    });
  }
  return out;
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
