/**
 * The picture of `npm run bench:latency`: single-client p50 write latency and
 * the throughput of the concurrent clients against the added round-trip time,
 * one line per cluster size, solid against the leader, dashed against a follower.
 */
import { LatencyRow, TARGETS } from './bench-latency-figures';

const COLORS = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e', '#e6ab02'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface Panel {
  readonly title: string;
  readonly value: (r: LatencyRow) => number;
  readonly x0: number;
}

/** A round upper bound for an axis: the first of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten at or above `max`. */
export function niceCeiling(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  return [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => +(m * power).toPrecision(6)).find((c) => c >= max)!;
}

/** The SVG document; `caption` says when, where and on which etcd the figures were measured. */
export function renderLatencySvg(rows: readonly LatencyRow[], caption: string, clients: number): string {
  const width = 860;
  const height = 390;
  const top = 64;
  const plotW = 330;
  const plotH = 230;
  const rtts = [...new Set(rows.map((r) => r.rttMs))].sort((a, b) => a - b);
  const peers = [...new Set(rows.map((r) => r.peers))].sort((a, b) => a - b);
  const panels: Panel[] = [
    { title: 'single-client write latency, p50 (ms)', value: (r) => r.p50Ms, x0: 60 },
    { title: `writes per second, ${clients} concurrent clients`, value: (r) => r.writesPerSecond, x0: 490 },
  ];
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">etcd write cost by cluster size and added round-trip time between zones</text>`,
    `<text x="${width / 2}" y="36" text-anchor="middle" fill="#555">${esc(caption)}</text>`,
  ];
  for (const panel of panels) {
    const yMax = niceCeiling(Math.max(...rows.map(panel.value).filter(Number.isFinite)));
    const x = (rtt: number) => panel.x0 + (rtts.length === 1 ? plotW / 2 : ((rtt - rtts[0]) / (rtts[rtts.length - 1] - rtts[0])) * plotW);
    const y = (v: number) => top + plotH - (v / yMax) * plotH;
    out.push(`<text x="${panel.x0 + plotW / 2}" y="${top - 10}" text-anchor="middle">${esc(panel.title)}</text>`);
    out.push(`<rect x="${panel.x0}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
    for (let i = 0; i <= 4; i++) {
      const v = (yMax * i) / 4;
      out.push(`<line x1="${panel.x0}" x2="${panel.x0 + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
      out.push(`<text x="${panel.x0 - 4}" y="${y(v) + 4}" text-anchor="end">${+v.toFixed(2)}</text>`);
    }
    for (const rtt of rtts) out.push(`<text x="${x(rtt)}" y="${top + plotH + 16}" text-anchor="middle">${rtt}</text>`);
    out.push(`<text x="${panel.x0 + plotW / 2}" y="${top + plotH + 32}" text-anchor="middle">added round-trip time between zones (ms)</text>`);
    peers.forEach((n, i) => {
      for (const target of TARGETS) {
        const points = rows.filter((r) => r.peers === n && r.target === target && Number.isFinite(panel.value(r))).sort((a, b) => a.rttMs - b.rttMs);
        if (!points.length) continue;
        const path = points.map((r) => `${x(r.rttMs).toFixed(1)},${y(panel.value(r)).toFixed(1)}`).join(' ');
        const dash = target === 'follower' ? ' stroke-dasharray="6 4"' : '';
        out.push(`<polyline points="${path}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"${dash}/>`);
        for (const r of points) out.push(`<circle cx="${x(r.rttMs).toFixed(1)}" cy="${y(panel.value(r)).toFixed(1)}" r="3" fill="${COLORS[i % COLORS.length]}"/>`);
      }
    });
  }
  const legendY = height - 24;
  peers.forEach((n, i) => {
    const lx = 60 + i * 120;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${legendY}" y2="${legendY}" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 30}" y="${legendY + 4}">${n} peers</text>`);
  });
  const lx = 60 + peers.length * 120;
  out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${legendY}" y2="${legendY}" stroke="#333" stroke-width="2"/><text x="${lx + 30}" y="${legendY + 4}">to the leader</text>`);
  out.push(`<line x1="${lx + 140}" x2="${lx + 164}" y1="${legendY}" y2="${legendY}" stroke="#333" stroke-width="2" stroke-dasharray="6 4"/><text x="${lx + 170}" y="${legendY + 4}">to a follower in another zone</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
