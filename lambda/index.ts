/**
 * DNS updater Lambda: keeps `peer-N.<domain>` pointing at peer N's live
 * instance. The only writer of those records. Level-triggered: every event
 * is answered from current state, so duplicates and late events are harmless.
 */
import { peerFqdn, peerIndices } from '../contract/naming';
import { UpdaterSettings, updaterSettingsFromEnv } from '../contract/updater-settings';
import { jsonLogger, Logger } from '../runtime/log';
import { AwsUpdaterPort } from './aws';
import { PeerRecordWrite, RecordChangeRejected, UpdaterPort } from './port';

export type { UpdaterSettings };
import { classifyEvent } from './events';
import { decideLifecycleAction, decidePeerRecord, LifecycleDecision, RecordDecision } from './reconcile';

/** What one invocation did. */
export interface UpdaterResult {
  readonly trigger: string;
  readonly decisions: RecordDecision[];
  /** True when this invocation completed the launch hook. */
  readonly lifecycleCompleted: boolean;
  /** What became of the launch hook, for a lifecycle event. */
  readonly lifecycle?: LifecycleDecision['action'] | 'already-completed';
}

/**
 * Handles one event through `port`. Throws when a write failed or a hook must
 * be looked at again, so Lambda's retry runs it again from fresh reads.
 */
export async function handleEvent(event: unknown, settings: UpdaterSettings, port: UpdaterPort, log: Logger): Promise<UpdaterResult> {
  const trigger = classifyEvent(event, settings.clusterName, settings.peerCount);
  if (trigger.kind === 'ignore') {
    log.warn('event ignored', { reason: trigger.reason, detailType: (event as { 'detail-type'?: unknown } | null)?.['detail-type'] });
    return { trigger: 'ignore', decisions: [], lifecycleCompleted: false };
  }
  const why = trigger.kind === 'peer' ? trigger.detailType : trigger.reason;
  const peers = trigger.kind === 'peer' ? [trigger.peerIndex] : peerIndices(settings.peerCount);
  const launching = trigger.kind === 'peer' ? trigger.lifecycleAction?.instanceId : undefined;

  // Route 53 is read before EC2 and every write is conditional on the record read: a write decided on
  // instances seen before a replacement lands only if no write for the replacement came in between.
  const records = await port.readPeerRecords(trigger.kind === 'peer' ? peerFqdn(settings.domain, trigger.peerIndex) : undefined);
  const instances = await port.describePeerInstances(trigger.kind === 'peer' ? { groupName: trigger.groupName } : { all: true });
  const decisions = peers.map((i) => decidePeerRecord(settings.domain, i, instances, records.get(peerFqdn(settings.domain, i)), settings.recordTtl, launching));

  const writes = decisions
    .filter((d) => d.action === 'upsert')
    .map((d): PeerRecordWrite => ({ fqdn: d.fqdn, ip: d.desired!, ttl: settings.recordTtl, expected: records.get(d.fqdn) }));
  const rejected = await writeRecords(port, writes, `etcd dns updater: ${why}`, log);
  for (const d of decisions) {
    log[d.action === 'ambiguous' || rejected.has(d.fqdn) ? 'warn' : 'info']('peer record', {
      peer: d.peerIndex,
      name: d.fqdn,
      instanceId: d.instanceId,
      current: d.current,
      desired: d.desired,
      action: d.action,
      changed: d.action === 'upsert' && !rejected.has(d.fqdn),
      rejected: rejected.get(d.fqdn),
      candidates: d.candidates,
      trigger: why,
    });
  }

  let lifecycle: UpdaterResult['lifecycle'];
  if (trigger.kind === 'peer' && trigger.lifecycleAction) {
    const action = trigger.lifecycleAction;
    const decision = decideLifecycleAction(action.instanceId, instances, decisions[0]);
    const fields = { peer: trigger.peerIndex, instanceId: action.instanceId };
    if (decision.action === 'retry') throw new Error(`peer ${trigger.peerIndex}: ${decision.reason}; retrying`);
    if (decision.action === 'complete' && !rejected.has(decisions[0].fqdn)) {
      // Completed only once the record points at this instance; a failed write threw or is rejected, and the hook waits.
      const outcome = await port.completeLifecycleAction(action);
      lifecycle = outcome === 'completed' ? 'complete' : 'already-completed';
      log.info(outcome === 'completed' ? 'lifecycle action completed' : 'lifecycle action already completed', fields);
    } else if (decision.action === 'not-needed') {
      lifecycle = 'not-needed';
      log.info('lifecycle action not needed', { ...fields, reason: decision.reason });
    } else if (decision.action === 'leave') {
      lifecycle = 'leave';
      log.warn('lifecycle action left to time out', { ...fields, reason: decision.reason });
    }
  }
  if (rejected.size > 0) {
    const list = [...rejected].map(([fqdn, reason]) => `${fqdn} (${reason})`).join('; ');
    throw new Error(`Route 53 refused the change of ${list}; the other records were written, and the next run reads again`);
  }
  return { trigger: trigger.kind, decisions, lifecycleCompleted: lifecycle === 'complete', lifecycle };
}

/**
 * Writes in one batch; if Route 53 refuses the batch, writes each record on
 * its own so one bad or changed record does not keep the others wrong.
 * Returns the refused records with the reason.
 */
async function writeRecords(port: UpdaterPort, writes: PeerRecordWrite[], comment: string, log: Logger): Promise<Map<string, string>> {
  const rejected = new Map<string, string>();
  if (writes.length === 0) return rejected;
  const attempt = async (batch: PeerRecordWrite[]): Promise<boolean> => {
    try {
      await port.writePeerRecords(batch, comment);
      return true;
    } catch (error) {
      if (!(error instanceof RecordChangeRejected)) throw error;
      if (batch.length === 1) rejected.set(batch[0].fqdn, error.message);
      else log.warn('change batch refused; writing the records one by one', { records: batch.length, error: error.message });
      return false;
    }
  };
  if (!(await attempt(writes)) && writes.length > 1) {
    for (const write of writes) await attempt([write]);
  }
  return rejected;
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
