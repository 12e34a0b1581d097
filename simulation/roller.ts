/**
 * The roller, locally: the same `decideRoll` as the Lambda, fed by the local
 * supervisor (its instances, and the local launch template version each was
 * launched from, as Auto Scaling shows it) and by the statuses the peers
 * publish in the local bucket, written and read through the same contract
 * (collected from here through each instance's network namespace, so the
 * cluster version, which the agent reads over HTTPS by name, is left out).
 * A replacement is a planned termination: the hand-off runs first.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { parseAgentConfig } from '../contract/agent-config';
import { peerIndices, peerName } from '../contract/naming';
import { parsePeerStatus, PEER_STATUS_PREFIX, PeerStatus, peerIndexOfStatusKey } from '../contract/peer-status';
import { DirectoryBackupStore } from '../node-agent/backup';
import { etcdctlPrefix } from '../node-agent/etcdctl';
import { collectPeerStatus, DirectoryPeerStatusStore } from '../node-agent/peer-status';
import { decideRoll, RollDecision, RollPeer, RollPolicy } from '../lambda/roller';
import { sleep } from '../runtime/retry';
import type { LocalCluster } from './cluster';

/** What a local roll did. */
export interface RollReport {
  /** The decision that ended the roll: `done`, or a `stop` with its reason. */
  readonly end: RollDecision;
  /** One entry per replacement, in order. */
  readonly steps: { peer: number; from: string; startedAt: number; healthyAt?: number; leadership: string }[];
  /** Leader changes seen between the roller's runs, from the statuses. */
  readonly leaderChanges: number;
}

/** Every running peer publishes its status (the agent's metrics timer on AWS), then the roller reads them back. */
export async function publishAndRead(cluster: LocalCluster, runDir: string, peers: number): Promise<PeerStatus[]> {
  const store = new DirectoryPeerStatusStore(join(runDir, 'backups'));
  await Promise.all(
    peerIndices(peers).map(async (i) => {
      const instance = cluster.current(i);
      if (instance?.state !== 'running') return;
      try {
        const config = parseAgentConfig(JSON.parse(await fs.readFile(join(instance.dir, 'agent.json'), 'utf8')));
        await store.put(await collectPeerStatus(config, { prefix: etcdctlPrefix(config), instanceId: instance.id }));
      } catch {
        // Not answering: its last status ages, as on AWS.
      }
    }),
  );
  const dir = join(runDir, 'backups', PEER_STATUS_PREFIX);
  const statuses: PeerStatus[] = [];
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (peerIndexOfStatusKey(PEER_STATUS_PREFIX + name) === undefined) continue;
    const file = join(dir, name);
    const [text, stat] = await Promise.all([fs.readFile(file, 'utf8').catch(() => ''), fs.stat(file).catch(() => undefined)]);
    const status = stat ? parsePeerStatus(text, stat.mtimeMs) : undefined;
    if (status) statuses.push(status);
  }
  return statuses;
}

/**
 * Runs the roller every `everyMs` until it is done or stops. Locally a peer
 * whose etcd dies is replaced by the supervisor (on AWS systemd would restart
 * etcd in the same instance), so the deadline of a replaced peer is counted
 * from the first launch after the roller's termination, not the latest.
 */
export async function rollLocally(
  cluster: LocalCluster,
  options: {
    runDir: string;
    peers: number;
    policy: RollPolicy;
    everyMs?: number;
    progress: (line: string) => void;
    mark: (what: string) => void;
    timeoutMs?: number;
    /** Called before the roller terminates a peer's instance (`step` counts from 0): upgrade-stops breaks the second one's next launches here. */
    beforeReplace?: (peer: number, step: number) => void;
  },
): Promise<RollReport> {
  const target = cluster.template.etcd.version;
  const template = cluster.template.version;
  const steps: RollReport['steps'] = [];
  const replacedAt = new Map<number, number>();
  let leader: number | undefined;
  let leaderChanges = 0;
  let lastReason = '';
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  for (;;) {
    if (Date.now() > deadline) throw new Error(`the roll did not finish in time; last: ${lastReason}`);
    const statuses = await publishAndRead(cluster, options.runDir, options.peers);
    const fresh = statuses.filter((s) => s.instanceId === cluster.current(s.peer)?.id);
    const seenLeader = fresh.find((s) => s.role === 'leader')?.peer;
    if (seenLeader !== undefined && leader !== undefined && seenLeader !== leader) leaderChanges++;
    if (seenLeader !== undefined) leader = seenLeader;
    const peers: RollPeer[] = peerIndices(options.peers).map((index) => {
      const instance = cluster.current(index);
      const since = replacedAt.get(index);
      const firstLaunch = since === undefined ? undefined : cluster.instances.find((i) => i.peerIndex === index && i.launchedAt >= since)?.launchedAt;
      return {
        index,
        instance: instance && {
          id: instance.id,
          lifecycleState: instance.state === 'running' ? 'InService' : 'Pending',
          healthy: true,
          upToDate: instance.launchTemplateVersion === template,
          launchedAt: firstLaunch ?? instance.launchedAt,
        },
        status: statuses.find((s) => s.peer === index),
      };
    });
    const decision = decideRoll({ peers, targetVersion: target, now: Date.now(), newestSnapshotAt: await newestSnapshotAt(options.runDir), policy: options.policy });
    const open = steps[steps.length - 1];
    if (open && open.healthyAt === undefined && decision.action !== 'wait') open.healthyAt = Date.now();
    if (decision.reason !== lastReason) options.progress(`roller: ${decision.action}: ${decision.reason}`);
    lastReason = decision.reason;
    if (decision.action === 'done' || decision.action === 'stop') {
      options.mark(`roller ${decision.action}`);
      return { end: decision, steps, leaderChanges };
    }
    if (decision.action === 'snapshot-first') {
      options.mark('snapshot before the minor change');
      await cluster.snapshotAll();
      continue;
    }
    if (decision.action === 'replace') {
      const instance = cluster.current(decision.peer)!;
      options.mark(`roll ${peerName(decision.peer)}`);
      options.beforeReplace?.(decision.peer, steps.length);
      const step = { peer: decision.peer, from: instance.etcdVersion, startedAt: Date.now(), leadership: '' };
      steps.push(step);
      replacedAt.set(decision.peer, step.startedAt);
      await cluster.terminate(instance, { reason: `roller: ${decision.reason}`, handOff: true });
      const l = instance.handOff?.leadership;
      step.leadership = l?.action === 'move' ? `moved to ${l.to.name}` : l?.action ?? 'none';
    }
    await sleep(options.everyMs ?? 1000);
  }
}

async function newestSnapshotAt(runDir: string): Promise<number | undefined> {
  const times = (await new DirectoryBackupStore(join(runDir, 'backups')).listSnapshots()).map((s) => s.at);
  return times.length ? Math.max(...times) : undefined;
}
