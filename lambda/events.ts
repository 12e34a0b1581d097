/**
 * What an incoming event asks the updater to do. Level-triggered: the event
 * only says *which* peer to look at; the record is computed from current state.
 */
import { AUTO_SCALING_DETAIL_TYPES, AUTO_SCALING_SOURCE, SCHEDULE_SOURCE, SCHEDULED_DETAIL_TYPE } from '../contract/events';
import { peerIndexOfGroup } from '../contract/naming';

/** A launch lifecycle action to complete once the record is right. */
export interface LifecycleAction {
  readonly groupName: string;
  readonly hookName: string;
  readonly token: string;
  readonly instanceId: string;
}

/** The updater's reading of one event. */
export type Trigger =
  | { readonly kind: 'peer'; readonly peerIndex: number; readonly groupName: string; readonly detailType: string; readonly lifecycleAction?: LifecycleAction }
  | { readonly kind: 'all'; readonly reason: string }
  | { readonly kind: 'ignore'; readonly reason: string };

const GROUP_DETAIL_TYPES = new Set<string>(Object.values(AUTO_SCALING_DETAIL_TYPES));

/** Classifies an EventBridge event for a cluster of `peerCount` peers; never throws, whatever the input. */
export function classifyEvent(event: unknown, clusterName: string, peerCount: number): Trigger {
  if (typeof event !== 'object' || event === null) return { kind: 'ignore', reason: 'event is not an object' };
  const e = event as Record<string, unknown>;
  const detailType = e['detail-type'];
  if (e.source === SCHEDULE_SOURCE && detailType === SCHEDULED_DETAIL_TYPE) return { kind: 'all', reason: 'scheduled reconcile' };
  if (e.source !== AUTO_SCALING_SOURCE) return { kind: 'ignore', reason: `unexpected source ${JSON.stringify(e.source)}` };
  if (typeof detailType !== 'string' || !GROUP_DETAIL_TYPES.has(detailType)) {
    return { kind: 'ignore', reason: `unhandled detail-type ${JSON.stringify(detailType)}` };
  }
  const detail = e.detail as Record<string, unknown> | undefined;
  const groupName = detail?.AutoScalingGroupName;
  if (typeof groupName !== 'string') return { kind: 'ignore', reason: 'detail.AutoScalingGroupName missing' };
  const peerIndex = peerIndexOfGroup(clusterName, groupName);
  if (peerIndex === undefined) return { kind: 'ignore', reason: `group ${groupName} is not a peer group of ${clusterName}` };
  // The rule and the IAM policy name only the cluster's groups; a group beyond them is never the updater's to write.
  if (peerIndex >= peerCount) {
    return { kind: 'ignore', reason: `group ${groupName} is beyond the cluster's ${peerCount} peers (peer-0 to peer-${peerCount - 1})` };
  }

  if (detailType === AUTO_SCALING_DETAIL_TYPES.launchLifecycleAction) {
    if (detail?.Event === 'autoscaling:TEST_NOTIFICATION') return { kind: 'ignore', reason: 'lifecycle hook test notification' };
    const token = detail?.LifecycleActionToken;
    const hookName = detail?.LifecycleHookName;
    const instanceId = detail?.EC2InstanceId;
    if (typeof token !== 'string' || typeof hookName !== 'string' || typeof instanceId !== 'string') {
      return { kind: 'ignore', reason: 'lifecycle action without token, hook name or instance id' };
    }
    return { kind: 'peer', peerIndex, groupName, detailType, lifecycleAction: { groupName, hookName, token, instanceId } };
  }
  return { kind: 'peer', peerIndex, groupName, detailType };
}
