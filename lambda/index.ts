/**
 * DNS updater Lambda: keeps `peer-N.<domain>` pointing at peer N's live
 * instance. The only writer of those records. Level-triggered: every event
 * is answered from current state, so duplicates and late events are harmless.
 */
import { peerFqdn, peerIndices } from '../contract/naming';
import { UpdaterSettings, updaterSettingsFromEnv } from '../contract/updater-settings';
import { jsonLogger, Logger } from '../runtime/log';
import { AwsUpdaterPort } from './aws';
import type { UpdaterPort } from './port';

export type { UpdaterSettings };
import { classifyEvent } from './events';
import { decidePeerRecord, RecordDecision } from './reconcile';

/** What one invocation did. */
export interface UpdaterResult {
  readonly trigger: string;
  readonly decisions: RecordDecision[];
  readonly lifecycleCompleted: boolean;
}

/** Handles one event through `port`. Throws only when a write failed, so Lambda's retry runs again. */
export async function handleEvent(event: unknown, settings: UpdaterSettings, port: UpdaterPort, log: Logger): Promise<UpdaterResult> {
  const trigger = classifyEvent(event, settings.clusterName);
  if (trigger.kind === 'ignore') {
    log.warn('event ignored', { reason: trigger.reason, detailType: (event as { 'detail-type'?: unknown } | null)?.['detail-type'] });
    return { trigger: 'ignore', decisions: [], lifecycleCompleted: false };
  }

  let decisions: RecordDecision[];
  if (trigger.kind === 'peer') {
    const instances = await port.describePeerInstances({ groupName: trigger.groupName });
    const fqdn = peerFqdn(settings.domain, trigger.peerIndex);
    const records = await port.readPeerRecords(fqdn);
    decisions = [decidePeerRecord(settings.domain, trigger.peerIndex, instances, records.get(fqdn), settings.recordTtl)];
  } else {
    const instances = await port.describePeerInstances({ all: true });
    const records = await port.readPeerRecords();
    decisions = peerIndices(settings.peerCount).map((i) => {
      return decidePeerRecord(settings.domain, i, instances, records.get(peerFqdn(settings.domain, i)), settings.recordTtl);
    });
  }

  const changes = decisions.filter((d) => d.action === 'upsert');
  if (changes.length > 0) {
    await port.upsertPeerRecords(
      changes.map((d) => ({ fqdn: d.fqdn, ip: d.desired! })),
      settings.recordTtl,
      `etcd dns updater: ${trigger.kind === 'peer' ? trigger.detailType : trigger.reason}`,
    );
  }
  for (const d of decisions) {
    log.info('peer record', {
      peer: d.peerIndex,
      name: d.fqdn,
      instanceId: d.instanceId,
      current: d.current,
      desired: d.desired,
      action: d.action,
      changed: d.action === 'upsert',
      trigger: trigger.kind === 'peer' ? trigger.detailType : trigger.reason,
    });
  }

  let lifecycleCompleted = false;
  if (trigger.kind === 'peer' && trigger.lifecycleAction) {
    const action = trigger.lifecycleAction;
    const chosen = decisions[0].instanceId;
    if (chosen === action.instanceId) {
      // Completed only after the record points at this instance; a failed write threw above and the hook times out.
      await port.completeLifecycleAction(action);
      lifecycleCompleted = true;
      log.info('lifecycle action completed', { peer: trigger.peerIndex, instanceId: action.instanceId });
    } else if (chosen === undefined) {
      // EC2's view is eventually consistent: the new instance may not be listed yet. Fail so Lambda retries.
      throw new Error(`peer ${trigger.peerIndex}: launching instance ${action.instanceId} is not visible in EC2 yet; retrying`);
    } else {
      log.warn('lifecycle action left to time out', {
        peer: trigger.peerIndex,
        instanceId: action.instanceId,
        reason: `a newer instance ${chosen} is the peer`,
      });
    }
  }
  return { trigger: trigger.kind, decisions, lifecycleCompleted };
}

let cached: { settings: UpdaterSettings; port: UpdaterPort; log: Logger } | undefined;

/** The Lambda entry point. */
export async function handler(event: unknown): Promise<UpdaterResult> {
  if (!cached) {
    const settings = updaterSettingsFromEnv();
    cached = {
      settings,
      port: new AwsUpdaterPort({ clusterName: settings.clusterName, hostedZoneId: settings.hostedZoneId }),
      log: jsonLogger({ cluster: settings.clusterName }),
    };
  }
  return handleEvent(event, cached.settings, cached.port, cached.log);
}
