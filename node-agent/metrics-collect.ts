/**
 * `node-agent metrics`: asks this peer's etcd and the cluster what the
 * alarms need (through etcdctl and etcd's own `/metrics`), turns it into
 * figures with the pure functions of `metrics.ts`, and publishes them:
 * always as one embedded-metric log line, and on AWS through PutMetricData.
 */
import { CloudWatchClient, PutMetricDataCommand, StandardUnit } from '@aws-sdk/client-cloudwatch';
import { X509Certificate } from 'crypto';
import { promises as fs } from 'fs';
import { request } from 'https';
import { request as plainRequest } from 'http';
import { dirname, join } from 'path';
import type { AgentConfig } from '../contract/agent-config';
import { METRIC_NAMESPACE, METRICS, MetricKey, MetricValues } from '../contract/metrics';
import { clientUrl, peerName } from '../contract/naming';
import type { Logger } from '../runtime/log';
import { AWS_RETRY, SDK_CLIENT_CONFIG, withRetry } from '../runtime/retry';
import type { BackupStore, MetricsSink } from './ports';
import { runEtcdctl } from './etcdctl';
import {
  daysLeft,
  dimensionSets,
  embeddedMetricDocument,
  Histogram,
  histogramDelta,
  histogramQuantileMs,
  MemberHealth,
  MemberListView,
  memberListsAgree,
  parseHistogram,
  parseSample,
  quorumMargin,
  quotaUsedPercent,
} from './metrics';

/** PutMetricData in namespace `EtcdCluster`, each value under its dimension sets. */
export class CloudWatchMetricsSink implements MetricsSink {
  constructor(
    private readonly clusterName: string,
    private readonly peerIndex: number,
    private readonly client = new CloudWatchClient(SDK_CLIENT_CONFIG),
  ) {}

  async publish(values: MetricValues, at: Date): Promise<void> {
    const data = (Object.keys(values) as MetricKey[])
      .filter((k) => Number.isFinite(values[k]))
      .flatMap((k) =>
        dimensionSets(k, this.clusterName, this.peerIndex).map((dims) => ({
          MetricName: METRICS[k].name,
          Unit: METRICS[k].unit as StandardUnit,
          Value: values[k],
          Timestamp: at,
          Dimensions: Object.entries(dims).map(([Name, Value]) => ({ Name, Value })),
        })),
      );
    // PutMetricData takes up to 1000 values per call; a peer publishes a few dozen.
    for (let i = 0; i < data.length; i += 500) {
      await withRetry(() => this.client.send(new PutMetricDataCommand({ Namespace: METRIC_NAMESPACE, MetricData: data.slice(i, i + 500) })), AWS_RETRY);
    }
  }
}

/** The histograms a quantile is taken of, by metric. */
const HISTOGRAMS = {
  walFsyncP99Ms: 'etcd_disk_wal_fsync_duration_seconds',
  backendCommitP99Ms: 'etcd_disk_backend_commit_duration_seconds',
} as const;

/** What the last run saw, so quantiles speak of the interval since. */
interface CollectorState {
  readonly histograms: Partial<Record<keyof typeof HISTOGRAMS, Histogram>>;
}

/** Where the collector keeps its state between runs: never on the data volume. */
export function metricsStateFile(config: AgentConfig): string {
  return config.mode === 'aws' ? '/run/etcd-node-agent/metrics-state.json' : join(dirname(config.etcdConfigFile), 'metrics-state.json');
}

/** Reads etcd's JSON with its 64-bit ids as strings (JSON.parse would round them). */
export function parseEtcdJson(text: string): any {
  return JSON.parse(text.replace(/"(ID|cluster_id|member_id|leader)":(\d+)/g, '"$1":"$2"'));
}

/** Fetches `url` (etcd's `/metrics`) with this peer's client certificate. */
export async function fetchText(config: AgentConfig, url: string): Promise<string> {
  const tls = config.tls
    ? {
        ca: await fs.readFile(join(config.pkiDir, 'ca.crt')),
        cert: await fs.readFile(join(config.pkiDir, 'peer.crt')),
        key: await fs.readFile(join(config.pkiDir, 'peer.key')),
      }
    : {};
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? request : plainRequest)(url, { ...tls, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Collects one set of figures; a figure etcd could not give is left out, never guessed. */
export async function collectMetrics(
  config: AgentConfig,
  deps: { prefix: string[]; store?: BackupStore; log: Logger; now?: () => Date; ownEndpoint?: string },
): Promise<MetricValues> {
  const now = (deps.now ?? (() => new Date()))();
  // This peer's own member answers (the timer runs after etcd); --cluster takes every other endpoint from its member list.
  const own = deps.ownEndpoint ?? clientUrl(config.domain, config.peerIndex, config.tls);
  const etcdctl = (endpoint: string, args: string[]) => runEtcdctl(config, deps.prefix, { endpoint }, args, { dial: '2s', command: '5s' });
  const values: MetricValues = {};
  const note = (what: string, error: unknown) => deps.log.warn('metric not collected', { what, error: (error as Error).message ?? String(error) });

  // The member list, and each member's health, as seen from here.
  try {
    const list = await etcdctl(own, ['member', 'list', '-w', 'json']);
    if (list.code !== 0) throw new Error(list.stderr.trim().split('\n').pop());
    const members = parseEtcdJson(list.stdout).members as Array<{ ID: string; clientURLs?: string[]; isLearner?: boolean }>;
    const health = await etcdctl(own, ['endpoint', 'health', '--cluster', '-w', 'json']);
    const healthy = new Set<string>();
    try {
      for (const h of JSON.parse(health.stdout) as Array<{ endpoint: string; health: boolean }>) if (h.health) healthy.add(h.endpoint);
    } catch {
      // No JSON at all: no member answered; every member counts as unhealthy.
    }
    const views: MemberHealth[] = members.map((m) => ({ id: m.ID, isLearner: m.isLearner === true, healthy: (m.clientURLs ?? []).some((u) => healthy.has(u)) }));
    values.quorumMargin = quorumMargin(views);
    values.membersHealthy = views.filter((v) => v.healthy).length;
    // Every member's own member list must name the same cluster and members.
    const lists: MemberListView[] = [];
    for (const m of members) {
      const url = m.clientURLs?.[0];
      if (!url) continue;
      const r = await etcdctl(url, ['member', 'list', '-w', 'json']);
      if (r.code !== 0) continue; // a member that does not answer is counted by the margin, not here
      const parsed = parseEtcdJson(r.stdout);
      lists.push({ clusterId: parsed.header.cluster_id, memberIds: (parsed.members as Array<{ ID: string }>).map((x) => x.ID) });
    }
    values.memberListAgrees = memberListsAgree(lists) ? 1 : 0;
  } catch (error) {
    note('member list and health', error);
  }

  try {
    const alarms = await etcdctl(own, ['alarm', 'list']);
    if (alarms.code !== 0) throw new Error(alarms.stderr.trim().split('\n').pop());
    values.nospaceAlarm = /alarm:NOSPACE/.test(alarms.stdout) ? 1 : 0;
  } catch (error) {
    note('alarms', error);
  }

  // This member's own figures, from its /metrics.
  try {
    const text = await fetchText(config, `${own}/metrics`);
    const dbSize = parseSample(text, 'etcd_mvcc_db_total_size_in_bytes') ?? parseSample(text, 'etcd_debugging_mvcc_db_total_size_in_bytes');
    const quota = parseSample(text, 'etcd_server_quota_backend_bytes');
    if (dbSize !== undefined) values.dbSizeBytes = dbSize;
    if (dbSize !== undefined && quota !== undefined) values.dbQuotaUsedPercent = quotaUsedPercent(dbSize, quota);
    const leaderChanges = parseSample(text, 'etcd_server_leader_changes_seen_total');
    if (leaderChanges !== undefined) values.leaderChanges = leaderChanges;
    const stateFile = metricsStateFile(config);
    const previous: CollectorState = await fs.readFile(stateFile, 'utf8').then((s) => JSON.parse(s), () => ({ histograms: {} }));
    const next: CollectorState = { histograms: {} };
    for (const [key, name] of Object.entries(HISTOGRAMS) as Array<[keyof typeof HISTOGRAMS, string]>) {
      const current = parseHistogram(text, name);
      if (!current) continue;
      (next.histograms as Record<string, Histogram>)[key] = current;
      const p99 = histogramQuantileMs(histogramDelta(previous.histograms[key], current), 0.99);
      if (p99 !== undefined) values[key] = Math.round(p99 * 100) / 100;
    }
    await fs.mkdir(dirname(stateFile), { recursive: true });
    await fs.writeFile(stateFile, JSON.stringify(next));
  } catch (error) {
    note('/metrics', error);
  }

  if (config.tls) {
    try {
      const cert = new X509Certificate(await fs.readFile(join(config.pkiDir, 'peer.crt')));
      values.certificateDaysLeft = daysLeft(new Date(cert.validTo), now);
    } catch (error) {
      note('certificate', error);
    }
  }

  if (deps.store) {
    try {
      const snapshots = await deps.store.listSnapshots();
      const newest = Math.max(...snapshots.map((s) => s.at));
      if (Number.isFinite(newest)) values.snapshotAgeSeconds = Math.max(0, Math.round((now.getTime() - newest) / 1000));
    } catch (error) {
      note('snapshot age', error);
    }
  }
  return values;
}

/** Logs the figures as one embedded-metric line (always) and hands them to the sink (AWS). */
export async function publishMetrics(config: AgentConfig, values: MetricValues, deps: { log: Logger; sink?: MetricsSink; at?: Date }): Promise<void> {
  const at = deps.at ?? new Date();
  deps.log.info('metrics', { peer: peerName(config.peerIndex), ...embeddedMetricDocument(config.clusterName, config.peerIndex, values, at.getTime()) });
  await deps.sink?.publish(values, at);
}
