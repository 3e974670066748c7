// Live progress and statistics of one campaign, straight from the ledger
// (campaign_recipients, by its primary key prefix campaign_id) and
// engagement_events (index (campaign_id, type)). Set-based aggregates: one
// statement each, whatever the campaign's size.
import { eq, sql } from 'drizzle-orm';
import { campaigns, deliveryStates, type DeliveryState, engagementTypeCodes } from '../campaigns/schema.ts';
import { rows, type Tx } from '../db/client.ts';

/** The window of the send rate. */
export const RATE_WINDOW_SECONDS = 60;

export type Progress = {
  campaignId: number;
  state: string;
  total: number;
  counts: Record<DeliveryState, number>;
  /** sent + bounced + failed + suppressed + cancelled: nothing more will happen to them. */
  done: number;
  /** queued + sending + deferred. */
  remaining: number;
  /** Messages accepted per second over the last RATE_WINDOW_SECONDS (from sent_at). */
  ratePerSecond: number;
  /** Seconds until the remaining rows are sent at the current rate; null when not sending or no rate yet. */
  etaSeconds: number | null;
  at: Date;
};

const OPEN_STATES: DeliveryState[] = ['queued', 'sending', 'deferred'];

export async function campaignProgress(db: Tx, campaignId: number): Promise<Progress | null> {
  const [campaign] = await db
    .select({ state: campaigns.state })
    .from(campaigns)
    .where(eq(campaigns.id, campaignId));
  if (!campaign) return null;
  const byState = await rows<{ state: DeliveryState; n: number; recent: number; now: Date }>(
    db,
    sql`SELECT state, count(*)::int AS n,
               count(*) FILTER (WHERE sent_at >= now() - make_interval(secs => ${RATE_WINDOW_SECONDS}))::int AS recent,
               now() AS now
          FROM campaign_recipients WHERE campaign_id = ${campaignId} GROUP BY state`,
  );
  const counts = Object.fromEntries(deliveryStates.map((s) => [s, 0])) as Record<DeliveryState, number>;
  let recent = 0;
  for (const r of byState) {
    counts[r.state] = Number(r.n);
    recent += Number(r.recent);
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const remaining = OPEN_STATES.reduce((a, s) => a + counts[s], 0);
  const ratePerSecond = recent / RATE_WINDOW_SECONDS;
  const sending = campaign.state === 'sending';
  return {
    campaignId,
    state: campaign.state,
    total,
    counts,
    done: total - remaining,
    remaining,
    ratePerSecond: Math.round(ratePerSecond * 100) / 100,
    etaSeconds:
      sending && remaining > 0 && ratePerSecond > 0
        ? Math.ceil(remaining / ratePerSecond)
        : sending && remaining === 0
          ? 0
          : null,
    at: byState[0]?.now ? new Date(byState[0].now) : new Date(),
  };
}

export type EngagementCount = {
  human: number;
  automated: number;
  humanUnique: number;
  automatedUnique: number;
};

export type StatsBucket = {
  t: Date;
  sent: number;
  opensHuman: number;
  opensAutomated: number;
  clicksHuman: number;
  clicksAutomated: number;
  bounces: number;
  complaints: number;
  unsubscribes: number;
};

export type CampaignStats = {
  campaignId: number;
  recipients: number;
  /** Accepted by the receiving side and not bounced since (ledger 'sent'). */
  delivered: number;
  sent: number;
  opens: EngagementCount;
  clicks: EngagementCount;
  /** Distinct recipients. */
  bounces: number;
  complaints: number;
  unsubscribes: number;
  bucketSeconds: number;
  series: StatsBucket[];
};

/** Bucket widths to choose from: the smallest giving ≤ MAX_BUCKETS over the campaign's span. */
const WIDTHS = [60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400];
const MAX_BUCKETS = 60;

export function bucketWidth(spanSeconds: number): number {
  return WIDTHS.find((w) => spanSeconds / w <= MAX_BUCKETS) ?? WIDTHS[WIDTHS.length - 1];
}

const emptyBucket = (t: Date): StatsBucket => ({
  t,
  sent: 0,
  opensHuman: 0,
  opensAutomated: 0,
  clicksHuman: 0,
  clicksAutomated: 0,
  bounces: 0,
  complaints: 0,
  unsubscribes: 0,
});

export async function campaignStats(db: Tx, campaignId: number): Promise<CampaignStats | null> {
  const [campaign] = await db
    .select({ id: campaigns.id })
    .from(campaigns)
    .where(eq(campaigns.id, campaignId));
  if (!campaign) return null;
  const T = engagementTypeCodes;
  const [ledger] = await rows<{
    recipients: number;
    delivered: number;
    sent: number;
    first: Date | null;
    last: Date | null;
  }>(
    db,
    sql`SELECT count(*)::int AS recipients,
               count(*) FILTER (WHERE state = 'sent')::int AS delivered,
               count(sent_at)::int AS sent,
               min(sent_at) AS first, max(sent_at) AS last
          FROM campaign_recipients WHERE campaign_id = ${campaignId}`,
  );
  const byType = await rows<{
    type: number;
    automated: boolean;
    n: number;
    u: number;
    first: Date | null;
    last: Date | null;
  }>(
    db,
    sql`SELECT type, automated, count(*)::int AS n, count(DISTINCT contact_id)::int AS u, min(at) AS first, max(at) AS last
          FROM engagement_events WHERE campaign_id = ${campaignId} GROUP BY type, automated`,
  );
  const count = (type: number, automated: boolean) =>
    byType.find((r) => r.type === type && r.automated === automated);
  const engagement = (type: number): EngagementCount => ({
    human: count(type, false)?.n ?? 0,
    automated: count(type, true)?.n ?? 0,
    humanUnique: count(type, false)?.u ?? 0,
    automatedUnique: count(type, true)?.u ?? 0,
  });
  const unique = (type: number) => (count(type, false)?.u ?? 0) + (count(type, true)?.u ?? 0);

  // The time axis spans the first send (or event) to the last.
  const times = [ledger.first, ledger.last, ...byType.flatMap((r) => [r.first, r.last])]
    .filter((d): d is Date => d != null)
    .map((d) => new Date(d).getTime());
  const series: StatsBucket[] = [];
  let width = 60;
  if (times.length) {
    const start = Math.min(...times);
    const end = Math.max(...times);
    width = bucketWidth((end - start) / 1000);
    const bucketOf = (ms: number) => Math.floor(ms / 1000 / width) * width;
    const first = bucketOf(start);
    for (let b = first; b <= bucketOf(end); b += width) series.push(emptyBucket(new Date(b * 1000)));
    const at = (epoch: number) => series[Math.round((epoch - first) / width)];
    const sent = await rows<{ b: number; n: number }>(
      db,
      sql`SELECT (floor(extract(epoch FROM sent_at) / ${width}) * ${width})::bigint AS b, count(*)::int AS n
            FROM campaign_recipients WHERE campaign_id = ${campaignId} AND sent_at IS NOT NULL GROUP BY 1`,
    );
    for (const r of sent) {
      const bucket = at(Number(r.b));
      if (bucket) bucket.sent += Number(r.n);
    }
    const events = await rows<{ b: number; type: number; automated: boolean; n: number }>(
      db,
      sql`SELECT (floor(extract(epoch FROM at) / ${width}) * ${width})::bigint AS b, type, automated, count(*)::int AS n
            FROM engagement_events WHERE campaign_id = ${campaignId} GROUP BY 1, 2, 3`,
    );
    for (const r of events) {
      const bucket = at(Number(r.b));
      if (!bucket) continue;
      const n = Number(r.n);
      if (r.type === T.opened) bucket[r.automated ? 'opensAutomated' : 'opensHuman'] += n;
      else if (r.type === T.clicked) bucket[r.automated ? 'clicksAutomated' : 'clicksHuman'] += n;
      else if (r.type === T.bounced) bucket.bounces += n;
      else if (r.type === T.complained) bucket.complaints += n;
      else if (r.type === T.unsubscribed) bucket.unsubscribes += n;
    }
  }
  return {
    campaignId,
    recipients: ledger.recipients,
    delivered: ledger.delivered,
    sent: ledger.sent,
    opens: engagement(T.opened),
    clicks: engagement(T.clicked),
    bounces: unique(T.bounced),
    complaints: unique(T.complained),
    unsubscribes: unique(T.unsubscribed),
    bucketSeconds: width,
    series,
  };
}
