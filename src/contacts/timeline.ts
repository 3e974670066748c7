// Contact timeline: activity rows (notes and calls encrypted), plus the
// import that created a contact, read from contact_imports (an import does not
// write one activity row per contact it creates).
import { desc, eq, sql } from 'drizzle-orm';
import type { Actor } from '../audit/service.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import { rows, type Tx } from '../db/client.ts';
import { type ActivityKind, contactActivities } from './schema.ts';
import { decText, encText, uuidv7, WORKSPACE_ID } from './vault.ts';

export interface Changed {
  actor: Actor;
  userId?: number | null;
}

function actorColumns(actor: Actor) {
  return {
    actorUserId: actor.type === 'user' && actor.id != null ? Number(actor.id) : null,
    actorLabel: actor.label ?? actor.type,
  };
}

export async function addActivity(
  db: Tx,
  kr: Keyring,
  actor: Actor,
  a: {
    contactId: string;
    kind: ActivityKind;
    body?: string | null;
    details?: Record<string, unknown>;
    at?: Date;
  },
): Promise<string> {
  const id = uuidv7();
  await db.insert(contactActivities).values({
    id,
    workspaceId: WORKSPACE_ID,
    contactId: a.contactId,
    kind: a.kind,
    details: a.details ?? {},
    keyVersion: a.body ? kr.activeVersion : null,
    bodyEnc: a.body ? encText(kr, 'contact_activities', 'body', id, a.body) : null,
    ...actorColumns(actor),
    at: a.at ?? new Date(),
  });
  return id;
}

export interface Activity {
  id: string;
  kind: ActivityKind;
  body: string | null;
  details: Record<string, unknown>;
  actorLabel: string | null;
  at: Date;
}

export async function listActivities(
  db: Tx,
  kr: Keyring,
  contactId: string,
  limit = 200,
): Promise<Activity[]> {
  const r = await db
    .select()
    .from(contactActivities)
    .where(eq(contactActivities.contactId, contactId))
    .orderBy(desc(contactActivities.at), desc(contactActivities.id))
    .limit(limit);
  const out: Activity[] = r.map((a) => ({
    id: a.id,
    kind: a.kind,
    body: decText(kr, 'contact_activities', 'body', a.id, a.bodyEnc),
    details: a.details,
    actorLabel: a.actorLabel,
    at: a.at,
  }));
  // A contact created by an import has no activity row of its own (one per
  // contact would double the import's writes): its entry comes from the import.
  const [created] = await rows<{
    id: string;
    filename: string;
    created_by: string | null;
    created_at: string | Date;
  }>(
    db,
    sql`SELECT i.id, i.filename, i.created_by, i.created_at FROM contacts c JOIN contact_imports i ON i.id = c.import_id
        WHERE c.id = ${contactId}`,
  );
  if (created) {
    const at = new Date(created.created_at);
    const entry: Activity = {
      id: created.id,
      kind: 'import',
      body: null,
      details: { importId: created.id, file: created.filename, action: 'inserted' },
      actorLabel: created.created_by,
      at,
    };
    const i = out.findIndex((a) => a.at < at);
    if (i < 0) {
      if (out.length < limit) out.push(entry);
    } else {
      out.splice(i, 0, entry);
      if (out.length > limit) out.pop();
    }
  }
  return out;
}
