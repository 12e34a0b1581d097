/**
 * What a peer measures about itself and its cluster, as pure functions of
 * what etcd said: histograms from its `/metrics`, quorum margin from the
 * health of the voting members, agreement of the member lists. The adapter
 * (`metrics-collect.ts`) asks etcd; the sinks publish.
 */
import { METRIC_DIMENSIONS, METRIC_NAMESPACE, METRICS, MetricKey, MetricValues } from '../contract/metrics';
import { peerName } from '../contract/naming';
import { quorumOf } from '../contract/topology';

/** One cumulative Prometheus histogram: bucket upper bounds (seconds) with their cumulative counts. */
export interface Histogram {
  readonly buckets: ReadonlyArray<{ readonly le: number; readonly count: number }>;
  readonly count: number;
}

/** Reads histogram `name` from Prometheus text exposition; `undefined` when absent. */
export function parseHistogram(text: string, name: string): Histogram | undefined {
  const buckets: { le: number; count: number }[] = [];
  let count: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}_bucket{`)) {
      const le = /le="([^"]+)"/.exec(line)?.[1];
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (le !== undefined && Number.isFinite(value)) buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: value });
    } else if (line.startsWith(`${name}_count`)) {
      count = Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  if (buckets.length === 0 || count === undefined) return undefined;
  buckets.sort((a, b) => a.le - b.le);
  return { buckets, count };
}

/** Reads a plain gauge or counter (`name value` or `name{…} value`); `undefined` when absent. */
export function parseSample(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (Number.isFinite(value)) return value;
    }
  }
  return undefined;
}

/**
 * The observations between two scrapes of a cumulative histogram, so a
 * quantile speaks of the last interval, not of the process's whole life.
 * A restarted etcd (counts went down) starts over from `current`.
 */
export function histogramDelta(previous: Histogram | undefined, current: Histogram): Histogram {
  if (!previous || current.count < previous.count) return current;
  const before = new Map(previous.buckets.map((b) => [b.le, b.count]));
  return {
    count: current.count - previous.count,
    buckets: current.buckets.map((b) => ({ le: b.le, count: b.count - (before.get(b.le) ?? 0) })),
  };
}

/**
 * Quantile `q` of a histogram in milliseconds, interpolated linearly inside
 * the bucket that holds it, as Prometheus' `histogram_quantile` does;
 * `undefined` without observations. Past the last finite bucket it answers
 * that bucket's bound: the histogram cannot say more.
 */
export function histogramQuantileMs(histogram: Histogram, q: number): number | undefined {
  if (histogram.count <= 0) return undefined;
  const rank = q * histogram.count;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const { le, count } of histogram.buckets) {
    if (count >= rank) {
      if (le === Infinity) return lowerBound * 1000;
      const inBucket = count - lowerCount;
      const fraction = inBucket > 0 ? (rank - lowerCount) / inBucket : 1;
      return (lowerBound + (le - lowerBound) * fraction) * 1000;
    }
    if (le !== Infinity) lowerBound = le;
    lowerCount = count;
  }
  return lowerBound * 1000;
}

/** What the cluster looks like from one peer. */
export interface MemberHealth {
  readonly id: string;
  readonly isLearner: boolean;
  readonly healthy: boolean;
}

/** Healthy voting members minus quorum of the voting members: 0 means one more failure loses quorum; negative, lost. */
export function quorumMargin(members: readonly MemberHealth[]): number {
  const voters = members.filter((m) => !m.isLearner);
  return voters.filter((m) => m.healthy).length - quorumOf(voters.length);
}

/** One member's own answer to `member list`: its cluster id and the member ids it knows. */
export interface MemberListView {
  readonly clusterId: string;
  readonly memberIds: readonly string[];
}

/** True when every answering member names the same cluster and the same members (order aside). */
export function memberListsAgree(views: readonly MemberListView[]): boolean {
  const key = (v: MemberListView) => `${v.clusterId}:${[...v.memberIds].sort().join(',')}`;
  return views.length > 0 && views.every((v) => key(v) === key(views[0]));
}

/** Database size as a share of the quota, in percent (one decimal). */
export function quotaUsedPercent(dbSizeBytes: number, quotaBytes: number): number | undefined {
  if (!(quotaBytes > 0)) return undefined;
  return Math.round((dbSizeBytes / quotaBytes) * 1000) / 10;
}

/** Whole days from `now` until `notAfter` (negative once expired). */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / 86_400_000);
}

/** The dimension sets one value is published under: the cluster always, the peer too for per-peer metrics. */
export function dimensionSets(key: MetricKey, clusterName: string, peerIndex: number): Array<Record<string, string>> {
  const cluster = { [METRIC_DIMENSIONS.cluster]: clusterName };
  return METRICS[key].perPeer ? [cluster, { ...cluster, [METRIC_DIMENSIONS.peer]: peerName(peerIndex) }] : [cluster];
}

/**
 * The values as one CloudWatch embedded-metric-format document: a JSON log
 * line CloudWatch Logs turns into metrics, and a line any log reader can
 * parse (the local cluster's reports read these).
 */
export function embeddedMetricDocument(clusterName: string, peerIndex: number, values: MetricValues, timestampMs: number): Record<string, unknown> {
  const keys = (Object.keys(values) as MetricKey[]).filter((k) => Number.isFinite(values[k]));
  const doc: Record<string, unknown> = {
    _aws: {
      Timestamp: timestampMs,
      CloudWatchMetrics: [
        {
          Namespace: METRIC_NAMESPACE,
          Dimensions: [[METRIC_DIMENSIONS.cluster], [METRIC_DIMENSIONS.cluster, METRIC_DIMENSIONS.peer]],
          Metrics: keys.map((k) => ({ Name: METRICS[k].name, Unit: METRICS[k].unit })),
        },
      ],
    },
    [METRIC_DIMENSIONS.cluster]: clusterName,
    [METRIC_DIMENSIONS.peer]: peerName(peerIndex),
  };
  for (const k of keys) doc[METRICS[k].name] = values[k];
  return doc;
}
