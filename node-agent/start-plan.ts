/**
 * Boot step 8: how etcd starts on this volume. A volume holding a member
 * starts on it; a fresh one asks the live cluster and the backup store
 * (membership.ts and recovery.ts decide), then carries the plan out: restore a
 * snapshot, or join as the member that was added for it, or as a new learner.
 */
import type { AgentConfig } from '../contract/agent-config';
import { peerName, peerUrl } from '../contract/naming';
import type { Logger } from '../runtime/log';
import { done, notYet, pollUntil } from '../runtime/retry';
import type { DataDirState } from './decisions';
import { TOO_MANY_LEARNERS } from './etcdctl';
import { markLearner } from './learner';
import { decideStart, StartPlan, StartSelf } from './membership';
import type { BackupStore, MembershipPort, SnapshotRestorer } from './ports';
import { newestSnapshot, RecoveryFacts } from './recovery';
import { restoreSnapshot } from './restore';
import { AgentRefusal, step, VolumeRefusal } from './step';
import { ownDataDir } from './system';
import { decideVolumeIdentity, FoundIdentity } from './volume-identity';

/** How often a fresh volume asks the cluster and the store again (the README's "every 2 s"). */
const ASK_AGAIN_MS = 2000;

/** What {@link planStart} needs: the live cluster, the backup store and the restorer, each optional. */
export interface StartPlanDeps {
  /** The live cluster's membership; asked only when the volume is fresh. */
  readonly membership?: MembershipPort;
  /** Snapshots and the peers' volume reports; without it a fresh volume that finds no member can only bootstrap. */
  readonly backups?: BackupStore;
  /** Unpacks a snapshot; required with `backups`. */
  readonly restorer?: SnapshotRestorer;
  /** What the volume mounted at the data dir says it is (volume.ts readMountedIdentity); checked before anything else. */
  readonly readIdentity: () => Promise<FoundIdentity & { device: string }>;
  readonly log: Logger;
  readonly sleep: (ms: number) => Promise<void>;
}

/**
 * Decides how etcd starts and carries out any membership change or restore
 * first. A fresh volume that cannot decide yet (no quorum; peers that may hold
 * data have not reported) asks again until `deadlines.decideSeconds`, then
 * refuses. First of all the volume mounted at the data dir must say it is this
 * peer's of this cluster. Before returning, the peer reports `member`: from then on etcd may
 * run on this volume, and no other peer may restore beside it.
 * Returns the initial cluster to join with, or `undefined` for a normal start.
 */
export async function planStart(config: AgentConfig, dataDir: DataDirState, deps: StartPlanDeps): Promise<{ initialCluster: string } | undefined> {
  const { log, backups, membership } = deps;
  // etcd never starts on a data dir that is not this peer's volume of this cluster: checked again here, on what is
  // mounted now, whatever the volume step said, and before anything is reported or asked.
  const found = await deps.readIdentity();
  const verdict = decideVolumeIdentity(found, { clusterName: config.clusterName, clusterToken: config.clusterToken, peerIndex: config.peerIndex }, found.device);
  if (verdict.action === 'refuse') throw new VolumeRefusal(verdict.reason);
  if (verdict.action === 'adopt') throw new VolumeRefusal(`${found.device} at ${config.dataDir} carries no identity marker; the volume step writes one before etcd may start`);
  const self: StartSelf = {
    name: peerName(config.peerIndex),
    index: config.peerIndex,
    peerCount: config.peerCount,
    peerUrl: peerUrl(config.domain, config.peerIndex, config.tls),
    clusterToken: config.clusterToken,
  };
  // What this peer restored from last is carried from report to report (see RecoveryFacts.ownRestoredFrom),
  // so it is read before this boot's first report overwrites it.
  const lastOwnReport = async () => (await backups!.readPeerReports()).find((r) => r.peer === config.peerIndex);
  if (dataDir === 'member') {
    // A peer on its own data starts whatever the store says; the report only keeps others from restoring beside it.
    // If the store cannot be read, no report is written rather than one that forgets what this peer restored from.
    if (backups) {
      try {
        const restoredFrom = (await lastOwnReport())?.restoredFrom;
        await backups.putPeerReport(config.peerIndex, { state: 'member', ...(restoredFrom ? { restoredFrom } : {}) });
      } catch (error) {
        log.warn('could not report this peer\'s volume to the backup store', { error: (error as Error).message });
      }
    }
    return undefined;
  }
  // Foreign files: refused before anything is reported, so the volume never counts as empty for a restore.
  const withoutCluster = decideStart(dataDir, { kind: 'no-answer' }, self);
  if (withoutCluster.action === 'refuse') throw new AgentRefusal(withoutCluster.reason);

  let own: { restoredFrom?: string } | undefined;
  let lastLog = 0;
  const plan = await pollUntil<Exclude<StartPlan, { action: 'wait' }>>(
    async () => {
      let decided: StartPlan;
      try {
        if (backups) {
          own ??= { restoredFrom: (await lastOwnReport())?.restoredFrom };
          await backups.putPeerReport(config.peerIndex, { state: 'fresh', ...(own.restoredFrom ? { restoredFrom: own.restoredFrom } : {}) });
        }
        const view = membership ? await membership.view() : ({ kind: 'no-answer' } as const);
        let facts: RecoveryFacts | undefined;
        if (backups) facts = { newestSnapshot: newestSnapshot(await backups.listSnapshots()), reports: await backups.readPeerReports(), ownRestoredFrom: own?.restoredFrom };
        decided = decideStart(dataDir, view, self, facts);
        if (decided.action !== 'wait' || Date.now() - lastLog >= 10_000) {
          log.info('start decision', {
            dataDir,
            cluster: view.kind === 'answered' ? { healthy: view.healthy, members: view.members.length } : 'no answer',
            newestSnapshot: facts?.newestSnapshot?.key,
            reports: facts?.reports.map((r) => `${peerName(r.peer)}:${r.state}`).join(' '),
            ...decided,
          });
          lastLog = Date.now();
        }
      } catch (error) {
        // The store or etcdctl failing is a reason to ask again, never to guess.
        log.warn('start decision failed; asking again', { error: (error as Error).message });
        return notYet(`could not learn the cluster's state: ${(error as Error).message}`);
      }
      return decided.action === 'wait' ? notYet(decided.reason) : done(decided);
    },
    {
      timeoutMs: config.deadlines.decideSeconds * 1000,
      delayMs: ASK_AGAIN_MS,
      sleep: deps.sleep,
      onTimeout: (reason) => new AgentRefusal(`${reason}; gave up after ${config.deadlines.decideSeconds}s (the next boot asks again)`),
    },
  );

  let restoredFrom = own?.restoredFrom;
  let learner = false;
  let joining: { initialCluster: string } | undefined;
  switch (plan.action) {
    case 'start-existing-data':
    case 'bootstrap':
      break;
    case 'refuse':
      throw new AgentRefusal(plan.reason);
    case 'restore': {
      if (!deps.restorer || !backups) throw new AgentRefusal('a restore was decided but the agent has no snapshot restorer');
      await step(log, 'restore-snapshot', () => restoreSnapshot(config, plan.snapshot, { store: backups, restorer: deps.restorer!, log }), (r) => ({ ...r }));
      if (config.etcdUser !== 'root') await ownDataDir(config.dataDir, config.etcdUser);
      restoredFrom = plan.snapshot.key;
      break;
    }
    case 'start-added':
      joining = { initialCluster: plan.initialCluster };
      learner = plan.learner;
      break;
    case 'rejoin':
      if (plan.removeMemberId) {
        await membership!.remove(plan.removeMemberId);
        log.warn('removed the stale member of this peer', { memberId: plan.removeMemberId, peer: self.name });
      }
      joining = { initialCluster: await addAsLearner(config, membership!, self, deps) };
      learner = true;
      log.info('joined as a learner: promoted once caught up', { peer: self.name });
      break;
  }
  await markLearner(config, learner);
  // Required: a peer about to run etcd on this volume that failed to say so could let the others restore beside it.
  if (backups) await backups.putPeerReport(config.peerIndex, { state: 'member', ...(restoredFrom ? { restoredFrom } : {}) });
  return joining;
}

/**
 * Adds this peer as a learner. etcd 3.4 allows one learner at a time, so while
 * another rejoining peer is still catching up this asks again until the
 * decide deadline, then fails with etcd's refusal.
 */
async function addAsLearner(config: AgentConfig, membership: MembershipPort, self: StartSelf, deps: Pick<StartPlanDeps, 'log' | 'sleep'>): Promise<string> {
  let refusal: Error | undefined;
  return pollUntil(
    async () => {
      try {
        return done(await membership.add(self.name, self.peerUrl, { learner: true }));
      } catch (error) {
        if (!TOO_MANY_LEARNERS.test((error as Error).message)) throw error;
        refusal = error as Error;
        return notYet(refusal.message);
      }
    },
    {
      timeoutMs: config.deadlines.decideSeconds * 1000,
      delayMs: ASK_AGAIN_MS,
      sleep: deps.sleep,
      onWait: () => deps.log.info('another learner is catching up; waiting to be added', { peer: self.name }),
      onTimeout: () => refusal!,
    },
  );
}
