// A small grouped bar chart (SVG) for the phishing page: reported, confirmed phishing and
// legitimate per day.
import { Group, Stack, Text } from '@mantine/core';
import type { DayRow } from './types.ts';

/** A small grouped bar chart (SVG): reported, confirmed phishing and legitimate per day. */
export function TrendChart({ days }: { days: DayRow[] }) {
  const max = Math.max(1, ...days.flatMap((d) => [d.reported, d.confirmed, d.legitimate]));
  const w = 720;
  const h = 140;
  const slot = w / Math.max(1, days.length);
  const bar = Math.max(1, (slot - 2) / 3);
  const series = [
    { key: 'reported' as const, color: 'var(--mantine-color-blue-5)', label: 'Reported / quarantined' },
    { key: 'confirmed' as const, color: 'var(--mantine-color-red-6)', label: 'Confirmed phishing' },
    { key: 'legitimate' as const, color: 'var(--mantine-color-green-6)', label: 'Legitimate' },
  ];
  return (
    <Stack gap={4}>
      <svg viewBox={`0 0 ${w} ${h + 16}`} width="100%" role="img" aria-label="Phishing reports per day">
        <title>Phishing reports per day</title>
        {days.map((d, i) =>
          series.map((s, j) => {
            const v = d[s.key];
            const bh = (v / max) * h;
            return (
              <rect
                key={`${d.day}-${s.key}`}
                x={i * slot + 1 + j * bar}
                y={h - bh}
                width={bar}
                height={bh}
                fill={s.color}
              >
                <title>{`${d.day}: ${v} ${s.label.toLowerCase()}`}</title>
              </rect>
            );
          }),
        )}
        <line x1={0} y1={h} x2={w} y2={h} stroke="var(--mantine-color-gray-4)" />
        {days.length > 0 && (
          <>
            <text x={0} y={h + 13} fontSize={10} fill="gray">
              {days[0].day}
            </text>
            <text x={w} y={h + 13} fontSize={10} fill="gray" textAnchor="end">
              {days[days.length - 1].day}
            </text>
          </>
        )}
      </svg>
      <Group gap="md">
        {series.map((s) => (
          <Group key={s.key} gap={4}>
            <div style={{ width: 10, height: 10, background: s.color }} />
            <Text size="xs">{s.label}</Text>
          </Group>
        ))}
        <Text size="xs" c="dimmed">
          max {max}/day
        </Text>
      </Group>
    </Stack>
  );
}
