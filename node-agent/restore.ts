/**
 * Restoring a snapshot into this peer's data dir, for a cluster whose every
 * volume is gone. Every restoring peer uses the same snapshot, the full
 * initial cluster and the cluster token (etcd's documented disaster-recovery
 * procedure), so all of them come back as the cluster's formation members.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { peerIndices, peerName, peerUrl } from '../contract/naming';
import type { Logger } from '../runtime/log';
import type { AgentConfig } from '../contract/agent-config';
import { classifyDataDir, RESTORE_WORK_DIR } from './decisions';
import { findEtcdutl, runEtcdctl } from './etcdctl';
import { run, sha256OfFile } from './system';
import type { BackupStore, RestoredIdentity, SnapshotRestorer } from './ports';
import type { SnapshotRef } from './recovery';

/** Every peer of the cluster as etcd's `initial-cluster`. */
export function fullInitialCluster(config: Pick<AgentConfig, 'domain' | 'peerCount' | 'tls'>): string {
  return peerIndices(config.peerCount)
    .map((i) => `${peerName(i)}=${peerUrl(config.domain, i, config.tls)}`)
    .join(',');
}

/**
 * Downloads the snapshot onto the volume, checks it against the checksum it
 * was uploaded with, unpacks it beside the data dir and renames `member` into
 * place last, so an interruption leaves either no member or a whole one.
 */
export async function restoreSnapshot(
  config: AgentConfig,
  snapshot: SnapshotRef,
  deps: { store: BackupStore; restorer: SnapshotRestorer; log: Logger },
): Promise<{ key: string; sha256: string; revision?: number; bytes: number }> {
  // Never over data: the start decision only restores into an empty volume, and this checks it again here.
  const top = await fs.readdir(config.dataDir);
  if (classifyDataDir(top, top.includes('member') ? await fs.readdir(join(config.dataDir, 'member')).catch(() => []) : undefined) !== 'fresh') {
    throw new Error(`${config.dataDir} is not empty (${top.filter((n) => n !== 'lost+found').slice(0, 5).join(', ')}): not restoring a snapshot over it`);
  }
  const work = join(config.dataDir, RESTORE_WORK_DIR);
  await fs.rm(work, { recursive: true, force: true });
  await fs.mkdir(work, { recursive: true, mode: 0o700 });
  const file = join(work, 'snapshot.db');
  const metadata = await deps.store.download(snapshot.key, file);
  const sha256 = await sha256OfFile(file);
  const bytes = (await fs.stat(file)).size;
  if (!metadata.sha256) throw new Error(`snapshot ${snapshot.key} has no sha256 metadata; it was not uploaded by the node agent, refusing to restore it`);
  if (metadata.sha256 !== sha256) {
    throw new Error(`snapshot ${snapshot.key} is corrupt: its sha256 is ${sha256} but it was uploaded as ${metadata.sha256}; delete that object version so the peers restore the one before it`);
  }
  const identity: RestoredIdentity = {
    name: peerName(config.peerIndex),
    peerUrl: peerUrl(config.domain, config.peerIndex, config.tls),
    initialCluster: fullInitialCluster(config),
    clusterToken: config.clusterToken,
  };
  const unpacked = join(work, 'data');
  await deps.restorer.restore(file, unpacked, identity);
  await fs.rename(join(unpacked, 'member'), join(config.dataDir, 'member'));
  await fs.rm(work, { recursive: true, force: true });
  const restored = { key: snapshot.key, sha256, revision: metadata.revision ? Number(metadata.revision) : undefined, bytes };
  deps.log.info('snapshot restored', { peer: identity.name, ...restored, takenBy: metadata['taken-by'] });
  return restored;
}

/**
 * {@link SnapshotRestorer} through etcd's own tool, offline (it needs no
 * member): `etcdutl snapshot restore` where it exists (etcd 3.5 and later;
 * 3.6 drops the etcdctl form), else `etcdctl snapshot restore` (etcd 3.4).
 */
export class CliSnapshotRestorer implements SnapshotRestorer {
  constructor(private readonly config: AgentConfig) {}

  async restore(file: string, dataDir: string, identity: RestoredIdentity): Promise<void> {
    const args = [
      'snapshot',
      'restore',
      file,
      '--data-dir',
      dataDir,
      '--name',
      identity.name,
      '--initial-cluster',
      identity.initialCluster,
      '--initial-cluster-token',
      identity.clusterToken,
      '--initial-advertise-peer-urls',
      identity.peerUrl,
    ];
    const etcdutl = await findEtcdutl();
    const r = etcdutl ? await run(etcdutl, args, 600_000) : await runEtcdctl(this.config, [], { endpoint: 'http://127.0.0.1:1' }, args, { dial: '1s' });
    if (r.code !== 0) throw new Error(`${etcdutl ? 'etcdutl' : 'etcdctl'} snapshot restore failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  }
}
