/** The scenario report: a table for people, JSON for machines, an SVG of availability over time. */
import type { ScenarioResult } from './scenarios';
import { highest, lowest, PeerMetrics } from './peer-metrics';

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
  // What the peers published at the end (the alarms' view), and during the failure where a scenario measured it.
  const fig = (v: number | undefined) => (v === undefined ? '–' : String(v));
  const top = (m: PeerMetrics | undefined, metric: string) => {
    const h = m ? highest(m, metric) : undefined;
    return h ? `${h.value} (${h.peer})` : '–';
  };
  rows.push(
    ['quorum margin at the end, lowest', (r) => fig(lowest(r.metrics ?? {}, 'QuorumMargin'))],
    ['WAL fsync p99 at the end, highest (ms)', (r) => top(r.metrics, 'WalFsyncP99Ms')],
  );
  if (results.some((r) => r.metricsDuringFailure)) rows.push(['WAL fsync p99 during the failure, highest (ms)', (r) => top(r.metricsDuringFailure, 'WalFsyncP99Ms')]);
  if (results.some((r) => r.recoveryPoint)) {
    const rp = (f: (p: NonNullable<ScenarioResult['recoveryPoint']>) => string) => (r: ScenarioResult) => (r.recoveryPoint ? f(r.recoveryPoint) : '–');
    rows.push(
      ['restored from snapshot at revision', rp((p) => `${p.snapshotRevision} (${p.restoredPeers} peers)`)],
      ['recovery point: writes after it, gone', rp((p) => `${p.lostAfterSnapshot} of ${p.writesAfterSnapshot} in ${p.secondsFromSnapshotToLoss.toFixed(1)} s`)],
    );
  }
  if (results.some((r) => r.nospaceRaised !== undefined || r.defragmented)) {
    const mib = (b?: number) => (b === undefined ? '?' : (b / 1048576).toFixed(1));
    rows.push(
      ['NOSPACE: writable again after (s)', (r) => (r.writableAgainSeconds === undefined ? '–' : r.writableAgainSeconds.toFixed(2))],
      ['largest database before → after (MiB)', (r) => (r.dbSizeBytesBefore === undefined ? '–' : `${mib(r.dbSizeBytesBefore)} → ${mib(r.dbSizeBytesAfter)}`)],
      ['members defragmented / overlapping', (r) => (r.defragmented ? `${Object.keys(r.defragmented).length} / ${r.defragOverlaps?.length ?? '?'}` : '–')],
    );
  }
  if (results.some((r) => r.rollSteps)) {
    rows.push(
      ['roller: replacements, end', (r) => (r.rollSteps ? `${r.rollSteps.length}, ${r.rollerStopped ? `stopped at ${r.stoppedAtPeer}` : 'done'}` : '–')],
      ['longest gap in a replacement (s)', (r) => (r.stepUnavailableSeconds?.length ? Math.max(...r.stepUnavailableSeconds).toFixed(2) : '–')],
    );
  }
  const header = ['', ...results.map((r) => `${r.scenario} (${r.peers}/${r.zones})`)];
  const body = rows.map(([label, f]) => [label, ...results.map(f)]);
  const widths = header.map((_, c) => Math.max(...[header, ...body].map((row) => row[c].length)));
  const line = (row: string[]) => '| ' + row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ') + ' |';
  return [line(header), '|' + widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|', ...body.map(line), '', `etcd ${results[0]?.etcdVersion ?? '?'}`].join('\n');
}

/** The width of one bucket of the availability pictures: fine enough that a line changes where the table says it does. */
export const BUCKET_MS = 100;

/** Counts of events per `bucketMs` bucket from `startedAt`, whole buckets up to `end` only (a last, partial one would draw a false drop). */
export function bucketCounts(ats: readonly number[], startedAt: number, end: number, bucketMs = BUCKET_MS): number[] {
  const counts = new Array(Math.max(1, Math.floor((end - startedAt) / bucketMs))).fill(0);
  for (const at of ats) {
    const b = Math.floor((at - startedAt) / bucketMs);
    if (b >= 0 && b < counts.length) counts[b]++;
  }
  return counts;
}

/**
 * The corners of a step line, as [ms since start, value]: each bucket's value
 * holds flat over its own interval and changes with a vertical edge, so the
 * line never slopes into an interval whose events have not happened yet.
 */
export function stepPoints(values: readonly number[], bucketMs = BUCKET_MS): [number, number][] {
  const points: [number, number][] = [];
  values.forEach((v, i) => {
    // A run of equal buckets is one flat stretch: extend it instead of adding corners.
    if (i > 0 && values[i - 1] === v) points[points.length - 1][0] = (i + 1) * bucketMs;
    else points.push([i * bucketMs, v], [(i + 1) * bucketMs, v]);
  });
  return points;
}

/** The corners of a sampled level (healthy members) as steps: each sample holds until the next one is taken. */
export function sampleSteps(samples: readonly { at: number; value: number }[], startedAt: number, end: number): [number, number][] {
  return samples.flatMap((s, i): [number, number][] => [
    [s.at - startedAt, s.value],
    [(i + 1 < samples.length ? samples[i + 1].at : end) - startedAt, s.value],
  ]);
}

/** Writes per second, failed attempts and healthy members over time, with the scenario's marks; steps of {@link BUCKET_MS}. */
export function renderSvg(r: ScenarioResult): string {
  const { startedAt, load, healthy, marks } = r.timeline;
  const end = Math.max(...load.map((e) => e.at), ...healthy.map((h) => h.at), startedAt + 1000);
  const acks = bucketCounts(load.filter((e) => e.kind === 'ack').map((e) => e.at), startedAt, end);
  const failures = bucketCounts(load.filter((e) => e.kind === 'retry' || e.kind === 'write-failed' || e.kind === 'read-failed').map((e) => e.at), startedAt, end);
  // Counts per bucket as rates per second, so the axis reads as before.
  const perSecond = 1000 / BUCKET_MS;
  const spanMs = acks.length * BUCKET_MS;
  const seconds = spanMs / 1000;
  const W = 900, H = 340, L = 50, R = 50, T = 56, B = 40;
  const xMs = (ms: number) => L + (Math.min(Math.max(ms, 0), spanMs) / spanMs) * (W - L - R);
  const x = (s: number) => xMs(s * 1000);
  const maxRate = Math.max(1, ...acks, ...failures) * perSecond;
  const y = (v: number) => H - B - (v / maxRate) * (H - T - B);
  const yh = (v: number) => H - B - (v / r.peers) * (H - T - B);
  const polyline = (points: [number, number][], yOf: (v: number) => number) => points.map(([ms, v], i) => `${i === 0 ? 'M' : 'L'}${xMs(ms).toFixed(1)},${yOf(v).toFixed(1)}`).join(' ');
  const path = polyline(stepPoints(acks.map((v) => v * perSecond)), y);
  const bars = failures
    .map((v, b) => (v ? `<rect x="${xMs(b * BUCKET_MS).toFixed(1)}" y="${y(v * perSecond).toFixed(1)}" width="${(xMs((b + 1) * BUCKET_MS) - xMs(b * BUCKET_MS)).toFixed(2)}" height="${(H - B - y(v * perSecond)).toFixed(1)}" fill="#d62728" opacity="0.6"/>` : ''))
    .join('');
  const health = polyline(sampleSteps(healthy.map((h) => ({ at: h.at, value: h.healthy })), startedAt, startedAt + spanMs), yh);
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
<text x="${(W / 2).toFixed(0)}" y="${H - 8}" font-size="11" text-anchor="middle">seconds since the load started (steps of ${BUCKET_MS} ms)</text>
${[0, 0.25, 0.5, 0.75, 1].map((f) => Math.round(f * seconds)).map((s) => `<text x="${x(s).toFixed(1)}" y="${H - B + 14}" font-size="10" text-anchor="middle">${s}</text>`).join('')}
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
