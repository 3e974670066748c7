// Small badges shared by the queue and the case detail: verdict/score, and the report count
// with a warning when the (first) reporter is not known staff.
import { Badge, Tooltip } from '@mantine/core';
import { type QueueItem, type Verdict, verdictColor } from './types.ts';

export function VerdictBadge({ verdict, score }: { verdict: Verdict; score: number }) {
  return (
    <Badge color={verdictColor[verdict]} variant="filled">
      {verdict} · {score}
    </Badge>
  );
}

export function reportsLabel(n: number): string {
  return `${n} ${n === 1 ? 'report' : 'reports'}`;
}

/**
 * "3 reports" for a reported case (gateway quarantines are not reports), and "unverified
 * reporter" when the reporter is not a known staff address or workspace domain.
 */
export function ReportBadges({
  item,
  size = 'xs',
}: {
  item: Pick<QueueItem, 'source' | 'reportCount' | 'reporterVerified'>;
  size?: 'xs' | 'sm';
}) {
  return (
    <>
      {item.source !== 'gateway' && (
        <Badge size={size} color="gray" variant="light">
          {reportsLabel(item.reportCount)}
        </Badge>
      )}
      {item.reporterVerified === false && (
        <Tooltip
          label="Reported from an address that is not a known staff member or workspace domain"
          multiline
          w={260}
        >
          <Badge size={size} color="yellow" variant="filled">
            unverified reporter
          </Badge>
        </Tooltip>
      )}
    </>
  );
}
