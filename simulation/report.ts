/** The scenario report: a table for people, JSON for machines, an SVG of availability over time. */
import type { ScenarioResult } from './scenarios';

/** The figures the JSON report carries (the timeline goes to the picture). */
export function figures(r: ScenarioResult) {
  const { timeline: _timeline, ...rest } = r;
  return rest;
}

/** A short table of one or more runs. */
export function renderTable(results: ScenarioResult[]): string {
  const rows: [string, (r: ScenarioResult) => string][] = [
    ['acknowledged writes', (r) => String(r.acked)],
    ['failed writes (after retry)', (r) => String(r.failed)],
    ['lost writes', (r) => String(r.lost)],
    ['unavailability window (s)', (r) => r.maxUnavailableSeconds.toFixed(2)],
    ['failure to all healthy (s)', (r) => r.recoverySeconds.toFixed(2)],
    ['last etcd start to all healthy (s)', (r) => r.healthyAfterLastEtcdStartSeconds.toFixed(2)],
    ['agent time per peer, median (ms)', (r) => String(r.agentMsMedian)],
    ['member ids changed', (r) => (r.memberIdsChanged.length ? r.memberIdsChanged.join(' ') : 'none')],
    ['reads that failed', (r) => String(r.readFailures)],
    ['snapshot timers: taken / skipped', (r) => `${r.snapshot.taken} / ${r.snapshot.skipped}`],
    ['bootstrap to all healthy (s)', (r) => r.bootstrapSeconds.toFixed(2)],
  ];
  if (results.some((r) => r.recoveryPoint)) {
    const rp = (f: (p: NonNullable<ScenarioResult['recoveryPoint']>) => string) => (r: ScenarioResult) => (r.recoveryPoint ? f(r.recoveryPoint) : '–');
    rows.push(
      ['restored from snapshot at revision', rp((p) => `${p.snapshotRevision} (${p.restoredPeers} peers)`)],
      ['recovery point: writes after it, gone', rp((p) => `${p.lostAfterSnapshot} of ${p.writesAfterSnapshot} in ${p.secondsFromSnapshotToLoss.toFixed(1)} s`)],
    );
  }
  const header = ['', ...results.map((r) => `${r.scenario} (${r.peers}/${r.zones})`)];
  const body = rows.map(([label, f]) => [label, ...results.map(f)]);
  const widths = header.map((_, c) => Math.max(...[header, ...body].map((row) => row[c].length)));
  const line = (row: string[]) => '| ' + row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ') + ' |';
  return [line(header), '|' + widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|', ...body.map(line), '', `etcd ${results[0]?.etcdVersion ?? '?'}`].join('\n');
}

/** Writes per second, failed attempts and healthy members over time, with the scenario's marks. */
export function renderSvg(r: ScenarioResult): string {
  const { startedAt, load, healthy, marks } = r.timeline;
  const end = Math.max(...load.map((e) => e.at), ...healthy.map((h) => h.at), startedAt + 1000);
  // Whole seconds only: a last, partial second would draw a false drop to zero.
  const seconds = Math.max(1, Math.floor((end - startedAt) / 1000));
  const acks = new Array(seconds + 1).fill(0);
  const failures = new Array(seconds + 1).fill(0);
  for (const e of load) {
    const s = Math.floor((e.at - startedAt) / 1000);
    if (s > seconds) continue;
    if (e.kind === 'ack') acks[s]++;
    if (e.kind === 'retry' || e.kind === 'write-failed' || e.kind === 'read-failed') failures[s]++;
  }
  const W = 900, H = 340, L = 50, R = 50, T = 56, B = 40;
  const x = (s: number) => L + (s / Math.max(1, seconds)) * (W - L - R);
  const maxRate = Math.max(1, ...acks, ...failures);
  const y = (v: number) => H - B - (v / maxRate) * (H - T - B);
  const yh = (v: number) => H - B - (v / r.peers) * (H - T - B);
  const path = acks.map((v, s) => `${s === 0 ? 'M' : 'L'}${x(s).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const bars = failures
    .map((v, s) => (v ? `<rect x="${x(s).toFixed(1)}" y="${y(v).toFixed(1)}" width="${Math.max(1, x(1) - x(0) - 1).toFixed(1)}" height="${(H - B - y(v)).toFixed(1)}" fill="#d62728" opacity="0.6"/>` : ''))
    .join('');
  const health = healthy.map((h, i) => `${i === 0 ? 'M' : 'L'}${x((h.at - startedAt) / 1000).toFixed(1)},${yh(h.healthy).toFixed(1)}`).join(' ');
  // Labels of marks close in time go on lower rows instead of overprinting each other.
  const rowEnds: number[] = [];
  const markLines = marks
    .map((m) => {
      const at = x((m.at - startedAt) / 1000);
      const half = (m.what.length * 5.6) / 2;
      let row = rowEnds.findIndex((end) => at - half > end + 4);
      if (row < 0) row = rowEnds.length;
      rowEnds[row] = at + half;
      const mx = at.toFixed(1);
      return `<line x1="${mx}" x2="${mx}" y1="${T}" y2="${H - B}" stroke="#555" stroke-dasharray="4 3"/><text x="${mx}" y="${T - 6 + row * 12}" font-size="10" text-anchor="middle">${escapeXml(m.what)}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${L}" y="14" font-size="12" font-weight="bold">${r.scenario}: ${r.peers} peers / ${r.zones} zones, etcd ${escapeXml(r.etcdVersion)} — ${r.acked} acked, ${r.failed} failed, ${r.lost} lost</text>
<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#000"/>
<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#000"/>
<line x1="${W - R}" x2="${W - R}" y1="${T}" y2="${H - B}" stroke="#1f77b4"/>
<text x="${L - 6}" y="${y(maxRate) + 4}" font-size="10" text-anchor="end">${maxRate}</text>
<text x="${L - 6}" y="${H - B}" font-size="10" text-anchor="end">0</text>
<text x="${W - R + 6}" y="${yh(r.peers) + 4}" font-size="10" fill="#1f77b4">${r.peers}</text>
<text x="${W - R + 6}" y="${H - B}" font-size="10" fill="#1f77b4">0</text>
<text x="${(W / 2).toFixed(0)}" y="${H - 8}" font-size="11" text-anchor="middle">seconds since the load started</text>
${[0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${x(f * seconds).toFixed(1)}" y="${H - B + 14}" font-size="10" text-anchor="middle">${Math.round(f * seconds)}</text>`).join('')}
${bars}
<path d="${path}" fill="none" stroke="#2ca02c" stroke-width="1.5"/>
<path d="${health}" fill="none" stroke="#1f77b4" stroke-width="2"/>
${markLines}
<g font-size="11"><rect x="${L}" y="24" width="10" height="3" fill="#2ca02c"/><text x="${L + 14}" y="29">acknowledged writes per second</text>
<rect x="${L + 200}" y="21" width="10" height="8" fill="#d62728" opacity="0.6"/><text x="${L + 214}" y="29">failed attempts per second (each retried)</text>
<rect x="${L + 450}" y="24" width="10" height="3" fill="#1f77b4"/><text x="${L + 464}" y="29">healthy members (right axis)</text></g>
</svg>
`;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
