/**
 * The metrics each peer publishes, read locally: the agent's `metrics` timer
 * fired on every running peer at once, and the embedded-metric log line it
 * writes (the one CloudWatch Logs turns into metrics on AWS) read back into
 * figures by metric name (`QuorumMargin`, `WalFsyncP99Ms`, …).
 */
import { peerName } from '../contract/naming';
import type { LocalCluster } from './cluster';

/** One peer's figures: metric name → value. */
export type PeerFigures = Record<string, number>;
/** Every peer's figures: peer name → its figures. */
export type PeerMetrics = Record<string, PeerFigures>;

/** The figures of the agent's `metrics` line in its output; `undefined` without one. */
export function readMetricsLine(stdout: string): PeerFigures | undefined {
  for (const line of stdout.split('\n')) {
    let entry: Record<string, unknown> & { msg?: string; _aws?: { CloudWatchMetrics?: { Metrics?: { Name: string }[] }[] } };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (entry.msg !== 'metrics') continue;
    const names = (entry._aws?.CloudWatchMetrics ?? []).flatMap((d) => d.Metrics ?? []).map((m) => m.Name);
    return Object.fromEntries(names.filter((n) => typeof entry[n] === 'number').map((n) => [n, entry[n] as number]));
  }
  return undefined;
}

/**
 * Fires every running peer's metrics timer and reads what each published: an empty set where it published none
 * (a run that timed out on a busy machine leaves that peer's figures out; it does not fail the scenario).
 */
export async function collectPeerMetrics(cluster: Pick<LocalCluster, 'onEveryPeer'>, progress?: (line: string) => void): Promise<PeerMetrics> {
  const runs = await cluster.onEveryPeer('metrics');
  for (const { peer, output } of runs) if (output.code !== 0) progress?.(`metrics on ${peerName(peer)} failed: ${output.stderr.trim().split('\n').pop()}`);
  return Object.fromEntries(runs.map(({ peer, output }) => [peerName(peer), readMetricsLine(output.stdout) ?? {}]));
}

/** The peer with the highest value of `metric`, and that value; `undefined` when no peer has it. */
export function highest(metrics: PeerMetrics, metric: string): { peer: string; value: number } | undefined {
  let best: { peer: string; value: number } | undefined;
  for (const [peer, figures] of Object.entries(metrics)) {
    const value = figures[metric];
    if (value !== undefined && (!best || value > best.value)) best = { peer, value };
  }
  return best;
}

/** The lowest value of `metric` over the peers; `undefined` when no peer has it. */
export function lowest(metrics: PeerMetrics, metric: string): number | undefined {
  const values = Object.values(metrics).map((f) => f[metric]).filter((v): v is number => v !== undefined);
  return values.length ? Math.min(...values) : undefined;
}
