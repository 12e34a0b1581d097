/**
 * `node-agent maintain`, one run of the maintenance timer: reads the cluster,
 * asks the decisions of `maintenance.ts`, and either skips, defragments this
 * peer's own member under the cluster-wide lock, or (on the leader) gets the
 * cluster out of NOSPACE. Each run ends in exactly one JSON log line.
 */
import type { AgentConfig } from '../contract/agent-config';
import { embeddedMetricDocument } from './metrics';
import { peerName } from '../contract/naming';
import type { Logger } from '../runtime/log';
import { clusterUnfit, decideMaintenance, MemberDb, nospaceCompaction, nospaceVerdict, planNospace } from './maintenance';
import type { MaintenancePort, MaintenanceRead } from './ports';

/** The lock's lease: a holder that dies frees the lock this many seconds later. */
const LOCK_TTL_SECONDS = 60;

/** One defragmentation, with its own timestamps (no two may overlap across the cluster). */
export interface DefragRecord {
  readonly member: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly dbSizeBefore?: number;
  readonly dbSizeAfter?: number;
}

/** What one run did: the body of its log line. */
export interface MaintainOutcome {
  readonly action: 'skipped' | 'defragmented' | 'nospace-recovered' | 'nospace-left' | 'failed';
  readonly reason: string;
  readonly defragmentations: DefragRecord[];
  readonly compactedTo?: number;
  /** Bytes the defragmentations of this run gave back. */
  readonly freedBytes: number;
  readonly durationMs: number;
}

/** Dependencies of {@link maintain}; the clock is injectable for tests. */
export interface MaintainDeps {
  readonly etcd: MaintenancePort;
  readonly now?: () => number;
  /** How often the lock's lease is renewed while a defragmentation lasts. */
  readonly keepAliveEveryMs?: number;
}

const sizeOf = (read: MaintenanceRead, name: string): MemberDb | undefined => read.members.find((m) => m.name === name);

async function defragmentOne(name: string, before: MaintenanceRead, deps: MaintainDeps): Promise<DefragRecord> {
  const now = deps.now ?? Date.now;
  const started = now();
  await deps.etcd.defragment(name);
  const finished = now();
  const after = sizeOf(await deps.etcd.read(), name);
  return {
    member: name,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    durationMs: finished - started,
    dbSizeBefore: sizeOf(before, name)?.dbSize,
    dbSizeAfter: after?.dbSize,
  };
}

const freed = (records: readonly DefragRecord[]) =>
  records.reduce((sum, r) => sum + (r.dbSizeBefore !== undefined && r.dbSizeAfter !== undefined ? Math.max(0, r.dbSizeBefore - r.dbSizeAfter) : 0), 0);

/** Defragments this peer's own member while holding the lock, renewing its lease meanwhile. */
async function defragmentOwn(self: string, config: AgentConfig, deps: MaintainDeps): Promise<Omit<MaintainOutcome, 'durationMs'>> {
  const attempt = await deps.etcd.tryLock(self, LOCK_TTL_SECONDS);
  if (!attempt.taken) return { action: 'skipped', reason: `${attempt.holder} holds the maintenance lock`, defragmentations: [], freedBytes: 0 };
  try {
    // Decide again under the lock: the cluster may have changed while another peer held it.
    const read = await deps.etcd.read();
    const decision = decideMaintenance(read, self, config.database);
    if (decision.kind !== 'defragment') return { action: 'skipped', reason: decision.reason, defragmentations: [], freedBytes: 0 };
    const renew = setInterval(() => void attempt.lock.keepAlive().catch(() => undefined), deps.keepAliveEveryMs ?? (LOCK_TTL_SECONDS * 1000) / 4);
    try {
      const record = await defragmentOne(self, read, deps);
      return { action: 'defragmented', reason: decision.reason, defragmentations: [record], freedBytes: freed([record]) };
    } finally {
      clearInterval(renew);
    }
  } finally {
    await attempt.lock.release();
  }
}

/**
 * The leader's NOSPACE recovery. The lock cannot be taken (NOSPACE refuses
 * lease grants and puts), so it only checks that nobody holds it; no new
 * holder can appear while the alarm stands.
 */
async function recoverNospace(config: AgentConfig, first: MaintenanceRead, deps: MaintainDeps): Promise<Omit<MaintainOutcome, 'durationMs'>> {
  const holder = await deps.etcd.lockHolder();
  if (holder) return { action: 'skipped', reason: `NOSPACE raised, but ${holder} holds the maintenance lock: its defragmentation finishes first`, defragmentations: [], freedBytes: 0 };
  const compaction = nospaceCompaction(config.database.compaction);
  let compactedTo: number | undefined;
  if (compaction.compact) {
    await deps.etcd.compact(first.revision);
    compactedTo = first.revision;
  }
  let read = await deps.etcd.read();
  const plan = planNospace(read.members, config.database);
  if (plan.kind === 'at-quota') return { action: 'nospace-left', reason: plan.reason, defragmentations: [], compactedTo, freedBytes: 0 };
  const records: DefragRecord[] = [];
  for (const name of plan.members) {
    // Before each member: every member must still be healthy (one paused member must cost nothing more).
    const unfit = clusterUnfit(read);
    if (unfit) return { action: 'nospace-left', reason: `stopped before ${name}: ${unfit}`, defragmentations: records, compactedTo, freedBytes: freed(records) };
    records.push(await defragmentOne(name, read, deps));
    read = await deps.etcd.read();
  }
  const verdict = nospaceVerdict(read.members, config.database.quotaBackendBytes, read.otherAlarms);
  if (verdict.disarm) await deps.etcd.disarmNospace();
  const steps = `${compaction.compact ? `compacted to revision ${compactedTo}` : compaction.reason}; defragmented ${records.map((r) => r.member).join(', ') || 'no member'}`;
  return { action: verdict.disarm ? 'nospace-recovered' : 'nospace-left', reason: `${steps}; ${verdict.reason}${verdict.disarm ? ': alarm disarmed' : ''}`, defragmentations: records, compactedTo, freedBytes: freed(records) };
}

/** One maintenance run; never throws: a failure is the outcome `failed`, with the error as its reason. */
export async function maintain(config: AgentConfig, deps: MaintainDeps): Promise<MaintainOutcome> {
  const now = deps.now ?? Date.now;
  const started = now();
  const self = peerName(config.peerIndex);
  let outcome: Omit<MaintainOutcome, 'durationMs'>;
  try {
    const read = await deps.etcd.read();
    const decision = decideMaintenance(read, self, config.database);
    if (decision.kind === 'skip') outcome = { action: 'skipped', reason: decision.reason, defragmentations: [], freedBytes: 0 };
    else if (decision.kind === 'defragment') outcome = await defragmentOwn(self, config, deps);
    else outcome = await recoverNospace(config, read, deps);
  } catch (error) {
    outcome = { action: 'failed', reason: (error as Error).message, defragmentations: [], freedBytes: 0 };
  }
  return { ...outcome, durationMs: now() - started };
}

/** The run's one log line; with bytes given back, it is also the DefragFreedBytes metric (embedded metric format). */
export function logMaintenance(config: AgentConfig, outcome: MaintainOutcome, log: Logger, at = Date.now()): void {
  const metric = outcome.freedBytes > 0 ? embeddedMetricDocument(config.clusterName, config.peerIndex, { defragFreedBytes: outcome.freedBytes }, at) : {};
  const line = { ...metric, peer: peerName(config.peerIndex), ...outcome };
  if (outcome.action === 'failed') log.error('maintenance', line);
  else if (outcome.action === 'nospace-left') log.warn('maintenance', line);
  else log.info('maintenance', line);
}
