/**
 * The pure half of bench:handoff: one row per replacement measured, folded
 * into one line per (role, path) with the targets checked against the
 * figures of the same run, and the README's table.
 */

/** The replaced peer's role when it was replaced. */
export type HandoffRole = 'leader' | 'follower';
/** `hand-off`: the terminate hook's planned hand-off; `crash`: terminated without the hook (today's path on a failure). */
export type HandoffPath = 'hand-off' | 'crash';

/** One measured replacement. */
export interface HandoffRow {
  readonly round: number;
  readonly role: HandoffRole;
  readonly path: HandoffPath;
  readonly peer: string;
  /** The longest time without an acknowledged write from the termination to 1 s after every member was healthy again. */
  readonly gapSeconds: number;
  /** The same, from the termination until the old instance was gone (the hand-off's or the kill's own part). */
  readonly gapWhileStoppingSeconds: number;
  /** The longest time without an acknowledged write over the quiet seconds just before: this run's noise floor. */
  readonly quietGapSeconds: number;
  /**
   * The same two figures for one writer that writes, one put at a time, to a member that is not replaced: the
   * cluster's own write unavailability, without the load's failover (a 1 s attempt timeout on a member that is gone).
   */
  readonly probeGapSeconds: number;
  readonly probeQuietGapSeconds: number;
  /** From the termination to every member healthy again. */
  readonly replacementSeconds: number;
  /** Writes that no member acknowledged within the load's deadline, over the same time. */
  readonly failedWrites: number;
  readonly leaderBefore?: string;
  readonly leaderAfter?: string;
  /** What the hand-off did with leadership (`moved to peer-N`, `not the leader`, ...); `–` on the crash path. */
  readonly leadership: string;
}

/** One (role, path) over every round. */
export interface HandoffSummary {
  readonly role: HandoffRole;
  readonly path: HandoffPath;
  readonly rounds: number;
  readonly gapMedianSeconds: number;
  readonly gapMaxSeconds: number;
  readonly gapsSeconds: number[];
  readonly probeGapMedianSeconds: number;
  readonly probeGapMaxSeconds: number;
  readonly failedWrites: number;
}

/** The targets for a planned replacement: the leader's adds at most 0.3 s; a follower's none measurable (above the quiet gaps). */
export const LEADER_TARGET_SECONDS = 0.3;

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** One line per (role, path), in the table's order: leader before follower, hand-off before crash. */
export function summarizeHandoff(rows: readonly HandoffRow[]): HandoffSummary[] {
  const out: HandoffSummary[] = [];
  for (const role of ['leader', 'follower'] as const) {
    for (const path of ['hand-off', 'crash'] as const) {
      const mine = rows.filter((r) => r.role === role && r.path === path);
      if (!mine.length) continue;
      const gaps = mine.map((r) => r.gapSeconds);
      const probe = mine.map((r) => r.probeGapSeconds);
      out.push({
        role,
        path,
        rounds: mine.length,
        gapMedianSeconds: round2(median(gaps)),
        gapMaxSeconds: round2(Math.max(...gaps)),
        gapsSeconds: gaps,
        probeGapMedianSeconds: round2(median(probe)),
        probeGapMaxSeconds: round2(Math.max(...probe)),
        failedWrites: mine.reduce((n, r) => n + r.failedWrites, 0),
      });
    }
  }
  return out;
}

/**
 * Whether each target is met in this run, in words. A leader's planned replacement meets its target when its gap
 * is at most the quiet gap plus 0.3 s in every round; a follower's when its gap is no more than the quiet gaps
 * measured in the same run (nothing measurable above the noise).
 */
export function handoffVerdicts(rows: readonly HandoffRow[], measure: 'load' | 'probe' = 'load'): { leader: string; follower: string } {
  const gap = (r: HandoffRow) => (measure === 'load' ? r.gapSeconds : r.probeGapSeconds);
  const quietOf = (r: HandoffRow) => (measure === 'load' ? r.quietGapSeconds : r.probeQuietGapSeconds);
  const quiet = Math.max(0, ...rows.map(quietOf));
  const verdict = (role: HandoffRole, limit: (r: HandoffRow) => number, what: string) => {
    const mine = rows.filter((r) => r.role === role && r.path === 'hand-off');
    if (!mine.length) return 'not measured';
    const met = mine.filter((r) => gap(r) <= limit(r)).length;
    return `${met === mine.length ? 'met' : met === 0 ? 'missed' : 'missed in part'}: ${met} of ${mine.length} planned ${role} replacements ${what}`;
  };
  return {
    leader: verdict('leader', (r) => quietOf(r) + LEADER_TARGET_SECONDS, `within their quiet gap + ${LEADER_TARGET_SECONDS} s`),
    follower: verdict('follower', () => quiet, `within the run's largest quiet gap (${quiet.toFixed(2)} s)`),
  };
}

/** The README's table: one line per (role, path). */
export function renderHandoffTable(rows: readonly HandoffRow[]): string {
  const quiet = rows.map((r) => r.quietGapSeconds);
  const probeQuiet = rows.map((r) => r.probeQuietGapSeconds);
  const stat = (values: number[], f: (v: number[]) => number) => (values.length ? round2(f(values)).toFixed(2) : '–');
  return [
    '| replaced | path | rounds | load: longest write gap, median s | max s | every round s | probe: median s | max s | failed writes |',
    '|---|---|---:|---:|---:|---|---:|---:|---:|',
    ...summarizeHandoff(rows).map(
      (s) =>
        `| ${s.role} | ${s.path === 'hand-off' ? 'planned hand-off' : 'crash (no hook)'} | ${s.rounds} | ${s.gapMedianSeconds.toFixed(2)} | ${s.gapMaxSeconds.toFixed(2)} | ${s.gapsSeconds.map((g) => g.toFixed(2)).join(', ')} | ${s.probeGapMedianSeconds.toFixed(2)} | ${s.probeGapMaxSeconds.toFixed(2)} | ${s.failedWrites} |`,
    ),
    `| (quiet, before each) | – | ${quiet.length} | ${stat(quiet, median)} | ${stat(quiet, (v) => Math.max(...v))} | ${quiet.map((g) => g.toFixed(2)).join(', ')} | ${stat(probeQuiet, median)} | ${stat(probeQuiet, (v) => Math.max(...v))} | – |`,
  ].join('\n');
}

/**
 * The peer a round replaces: the leader, or a follower, a different one each round (the peers after the leader in
 * turn, never the leader itself, whatever `round` and `peers`).
 */
export function victimPeer(role: HandoffRole, leader: number, round: number, peers: number): number {
  if (role === 'leader') return leader;
  return (leader + 1 + ((round - 1) % (peers - 1))) % peers;
}
