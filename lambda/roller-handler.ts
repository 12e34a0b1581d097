/**
 * The roller Lambda: on a schedule, replaces the next out-of-date peer (a
 * launch template change) once the whole cluster is healthy, one at a time,
 * the leader last (`decideRoll` in roller.ts). Level-triggered: each run
 * decides from Auto Scaling and the peers' published statuses as they are now.
 */
import { DEFAULT_ROLL_POLICY, decideRoll, RollDecision, RollPeer } from './roller';
import { METRIC_DIMENSIONS, METRIC_NAMESPACE, METRICS } from '../contract/metrics';
import { peerIndices } from '../contract/naming';
import { RollerSettings, rollerSettingsFromEnv } from '../contract/roller-settings';
import { jsonLogger, Logger } from '../runtime/log';
import type { RollerPort } from './port';
import { AwsRollerPort } from './roller-aws';

/** The metric a stopped roll raises (an embedded-metric log line: Lambda's logs carry it to CloudWatch). */
export const ROLLER_STOPPED_METRIC = METRICS.rollerStopped.name;

/** One run: reads, decides, replaces at most one peer, and logs the decision with the figure of the stop metric. */
export async function handleRoll(settings: RollerSettings, port: RollerPort, log: Logger, now: () => number = Date.now): Promise<RollDecision> {
  const [instances, statuses, newestSnapshotAt] = await Promise.all([port.describePeerInstances(), port.readPeerStatuses(), port.newestSnapshotAt()]);
  const byPeer = new Map(statuses.map((s) => [s.peer, s]));
  const peers: RollPeer[] = peerIndices(settings.peerCount).map((index) => ({ index, instance: instances.get(index), status: byPeer.get(index) }));
  const decision = decideRoll({
    peers,
    targetVersion: settings.targetVersion,
    now: now(),
    newestSnapshotAt,
    policy: { ...DEFAULT_ROLL_POLICY, replaceDeadlineSeconds: settings.replaceDeadlineSeconds },
  });
  if (decision.action === 'replace') await port.replace(decision.peer, decision.instanceId);
  const emf = {
    _aws: {
      Timestamp: now(),
      CloudWatchMetrics: [{ Namespace: METRIC_NAMESPACE, Dimensions: [[METRIC_DIMENSIONS.cluster]], Metrics: [{ Name: ROLLER_STOPPED_METRIC, Unit: 'Count' }] }],
    },
    [METRIC_DIMENSIONS.cluster]: settings.clusterName,
    [ROLLER_STOPPED_METRIC]: decision.action === 'stop' ? 1 : 0,
  };
  log[decision.action === 'stop' ? 'error' : 'info']('roll', { ...decision, targetVersion: settings.targetVersion, ...emf });
  return decision;
}

/** Lambda entry point. */
export async function handler(): Promise<RollDecision> {
  const settings = rollerSettingsFromEnv();
  return handleRoll(settings, new AwsRollerPort(settings), jsonLogger({ component: 'etcd-roller', cluster: settings.clusterName }));
}
