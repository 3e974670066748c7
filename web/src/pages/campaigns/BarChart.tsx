// A small stacked bar chart in plain SVG: one bar per time bucket, one coloured
// section per series. Enough for campaign statistics without a charting
// library in the bundle; values are in <title> for hover and screen readers.
import { Group, Text } from '@mantine/core';

export type ChartSeries<K extends string> = { key: K; label: string; color: string };

type Props<K extends string> = {
  title: string;
  buckets: ({ t: string } & Record<K, number>)[];
  series: ChartSeries<K>[];
  height?: number;
};

const timeFmt = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});

export function BarChart<K extends string>({ title, buckets, series, height = 140 }: Props<K>) {
  const width = 640;
  const pad = { top: 8, bottom: 18, left: 36 };
  const totals = buckets.map((b) => series.reduce((a, s) => a + (b[s.key] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const plotH = height - pad.top - pad.bottom;
  const slot = (width - pad.left) / Math.max(1, buckets.length);
  const barW = Math.max(1, slot * 0.8);
  const y = (v: number) => pad.top + plotH - (v / max) * plotH;
  return (
    <figure style={{ margin: 0 }}>
      <Group justify="space-between" mb={4}>
        <Text fw={600} size="sm">
          {title}
        </Text>
        <Group gap="sm">
          {series.map((s) => (
            <Group key={s.key} gap={4}>
              <svg width="10" height="10" aria-hidden="true">
                <rect width="10" height="10" fill={s.color} rx="2" />
              </svg>
              <Text size="xs">{s.label}</Text>
            </Group>
          ))}
        </Group>
      </Group>
      <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label={title}>
        <line x1={pad.left} x2={width} y1={y(0)} y2={y(0)} stroke="#ced4da" />
        <text x={pad.left - 4} y={y(max) + 4} fontSize="10" textAnchor="end" fill="#868e96">
          {max}
        </text>
        <text x={pad.left - 4} y={y(0)} fontSize="10" textAnchor="end" fill="#868e96">
          0
        </text>
        {buckets.map((b, i) => {
          let base = 0;
          const x = pad.left + i * slot + (slot - barW) / 2;
          const label = timeFmt.format(new Date(b.t));
          return (
            <g key={b.t}>
              <title>{`${label}: ${series.map((s) => `${s.label} ${b[s.key] ?? 0}`).join(', ')}`}</title>
              {series.map((s) => {
                const v = b[s.key] ?? 0;
                if (v === 0) return null;
                const top = y(base + v);
                const h = y(base) - top;
                base += v;
                return <rect key={s.key} x={x} y={top} width={barW} height={h} fill={s.color} />;
              })}
            </g>
          );
        })}
        {buckets.length > 0 && (
          <>
            <text x={pad.left} y={height - 4} fontSize="10" fill="#868e96">
              {timeFmt.format(new Date(buckets[0].t))}
            </text>
            <text x={width} y={height - 4} fontSize="10" textAnchor="end" fill="#868e96">
              {timeFmt.format(new Date(buckets[buckets.length - 1].t))}
            </text>
          </>
        )}
      </svg>
    </figure>
  );
}
