/** A live line chart in plain SVG: C2D sends and completions per second over the last minute. */

import type { RatePoint } from '../hub-events.js';

const W = 600;
const H = 160;
const PAD = 28;

function line(points: RatePoint[], key: 'sent' | 'completed', max: number, t0: number, span: number): string {
  return points
    .map((p) => {
      const x = PAD + ((p.t - t0) / span) * (W - PAD - 8);
      const y = H - PAD - (p[key] / max) * (H - PAD - 8);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}

export function RateChart({ points }: { points: RatePoint[] }) {
  const last = points[points.length - 1];
  const max = Math.max(1, ...points.flatMap((p) => [p.sent, p.completed]));
  const t0 = points[0]?.t ?? 0;
  const span = Math.max(1000, (last?.t ?? 0) - t0);
  const summary = last
    ? `${last.sent.toFixed(1)} sends and ${last.completed.toFixed(1)} completions per second`
    : 'waiting for the first samples';
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`C2D rates: ${summary}`}>
        <line class="axis" x1={PAD} y1={H - PAD} x2={W - 8} y2={H - PAD} />
        <line class="axis" x1={PAD} y1={8} x2={PAD} y2={H - PAD} />
        <text class="tick" x={PAD - 4} y={12} text-anchor="end">
          {max.toFixed(max < 10 ? 1 : 0)}
        </text>
        <text class="tick" x={PAD - 4} y={H - PAD} text-anchor="end">
          0
        </text>
        <text class="tick" x={W - 8} y={H - 8} text-anchor="end">
          now
        </text>
        <text class="tick" x={PAD} y={H - 8}>
          {points.length > 1 ? `−${Math.round(span / 1000)} s` : ''}
        </text>
        {points.length > 1 && <polyline class="sent" points={line(points, 'sent', max, t0, span)} />}
        {points.length > 1 && <polyline class="completed" points={line(points, 'completed', max, t0, span)} />}
      </svg>
      <figcaption>
        <span class="key sent">sends/s {last ? last.sent.toFixed(1) : '—'}</span>
        <span class="key completed">completions/s {last ? last.completed.toFixed(1) : '—'}</span>
      </figcaption>
    </figure>
  );
}
