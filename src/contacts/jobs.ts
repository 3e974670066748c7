// Background jobs of the contacts domain: the field-key re-encryption sweep,
// and the blind-index re-index sweep (same queue: `{ reindex: true }`).
// Job handlers get no dependencies from pg-boss, so serve/worker hand them the
// database and the vault once at start (configureContactJobs).
import type PgBoss from 'pg-boss';
import { systemActor } from '../audit/service.ts';
import type { Db } from '../db/client.ts';
import type { JobDefinition } from '../jobs/boss.ts';
import { legacyIndexCount, reindexEmailIndex } from './reindex.ts';
import { ROTATION_QUEUE, runningRotations, runRotation } from './rotation.ts';
import type { Vault } from './vault.ts';

let runtime: { db: Db; vault: Vault } | null = null;

export function configureContactJobs(db: Db, vault: Vault): void {
  runtime = { db, vault };
}

export const rotationJob: JobDefinition = {
  queue: ROTATION_QUEUE,
  options: { batchSize: 1 },
  async handler(jobs) {
    if (!runtime) throw new Error('contacts jobs are not configured (configureContactJobs)');
    for (const job of jobs) {
      const data = job.data as { rotationId?: number; reindex?: boolean };
      if (data.reindex) {
        await reindexEmailIndex(runtime.db, runtime.vault);
        continue;
      }
      const rotationId = data.rotationId!;
      await runRotation(runtime.db, runtime.vault, systemActor('key-rotation job'), rotationId);
    }
  },
};

/** Queue a sweep for a rotation (one job per rotation at a time). */
export async function enqueueRotation(boss: PgBoss, rotationId: number): Promise<void> {
  await boss.send(
    ROTATION_QUEUE,
    { rotationId },
    { singletonKey: `rotation-${rotationId}`, retryLimit: 10, retryDelay: 30, expireInSeconds: 6 * 3600 },
  );
}

/** At start: resume every rotation a crash left running, and re-index contacts under an older blind-index layout. */
export async function resumeRotationJobs(boss: PgBoss, db: Db): Promise<number> {
  const running = await runningRotations(db);
  for (const r of running) await enqueueRotation(boss, r.id);
  if ((await legacyIndexCount(db)) > 0)
    await boss.send(
      ROTATION_QUEUE,
      { reindex: true },
      { singletonKey: 'reindex-email', retryLimit: 10, retryDelay: 30, expireInSeconds: 6 * 3600 },
    );
  return running.length;
}
