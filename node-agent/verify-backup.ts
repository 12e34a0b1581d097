/**
 * Verified backups: a snapshot counts as a backup only once it has been
 * restored and served. Every hour one peer that is not the leader (a
 * different one each hour) restores the newest snapshot into a scratch
 * directory off the data volume, starts it as a throwaway single-member etcd
 * on loopback, and checks it against what was recorded at upload. It never
 * touches its own data dir.
 */
import { ChildProcess, spawn } from 'child_process';
import { promises as fs } from 'fs';
import { dirname, join } from 'path';
import type { AgentConfig } from '../contract/agent-config';
import { clientUrl, peerName, parsePeerName } from '../contract/naming';
import type { Logger } from '../runtime/log';
import { done, notYet, pollUntil } from '../runtime/retry';
import type { BackupStore, ThrowawayEtcd } from './ports';
import { newestSnapshot } from './recovery';
import { CliSnapshotRestorer } from './restore';
import type { SnapshotRestorer } from './ports';
import { runEtcdctl } from './etcdctl';
import { run, sha256OfFile } from './system';

/**
 * Which peer verifies in a given hour: the peers other than the leader take
 * turns, so no two peers restore at once and the leader never spends its
 * disk on it. `undefined` when no peer but the leader exists.
 */
export function verifierOf(peerCount: number, leaderIndex: number | undefined, hourSlot: number): number | undefined {
  const candidates = Array.from({ length: peerCount }, (_, i) => i).filter((i) => i !== leaderIndex);
  return candidates.length ? candidates[hourSlot % candidates.length] : undefined;
}

/** Whether there is room to verify: the snapshot, its restored copy and headroom must fit beside what is there. */
export function roomToVerify(freeBytes: number, snapshotBytesEstimate: number): { ok: true } | { ok: false; reason: string } {
  const needed = 2 * snapshotBytesEstimate + 64 * 1024 * 1024;
  return freeBytes >= needed
    ? { ok: true }
    : { ok: false, reason: `only ${Math.floor(freeBytes / 1048576)} MiB free where ${Math.ceil(needed / 1048576)} MiB are needed to restore a copy` };
}

/** What a restored snapshot must match: the figures recorded with it at upload. */
export interface VerifyFacts {
  readonly metadata: Record<string, string>;
  readonly sha256: string;
  readonly servedRevision: number;
  readonly servedKeys: number;
}

/** Compares a restored, served snapshot with its metadata; the reason names the first mismatch. */
export function judgeRestore(facts: VerifyFacts): { ok: true } | { ok: false; reason: string } {
  const m = facts.metadata;
  if (!m.sha256) return { ok: false, reason: 'no sha256 recorded at upload: not a snapshot the agent took' };
  if (m.sha256 !== facts.sha256) return { ok: false, reason: `sha256 ${facts.sha256} differs from the uploaded ${m.sha256}: the object is corrupt` };
  if (m.revision === undefined || Number(m.revision) !== facts.servedRevision) {
    return { ok: false, reason: `the restored member serves revision ${facts.servedRevision}, the snapshot was taken at ${m.revision}` };
  }
  if (!(facts.servedKeys >= 0)) return { ok: false, reason: 'the restored member did not answer a read of every key' };
  return { ok: true };
}

/** The outcome of one verification run. */
export type VerifyOutcome =
  | { readonly verified: true; readonly key: string; readonly takenAt: number; readonly revision: number; readonly keys: number; readonly seconds: number }
  | { readonly verified: false; readonly key?: string; readonly reason: string; readonly corrupt: boolean };

/** Restores and checks the newest snapshot in a scratch dir under `workDir` (never the data dir). */
export async function verifyNewestSnapshot(
  config: AgentConfig,
  deps: { store: BackupStore; restorer: SnapshotRestorer; etcd: ThrowawayEtcd; log: Logger; workDir: string; ports?: { client: number; peer: number }; now?: () => number },
): Promise<VerifyOutcome> {
  const now = deps.now ?? Date.now;
  const started = now();
  if (deps.workDir === config.dataDir || deps.workDir.startsWith(`${config.dataDir}/`)) {
    throw new Error(`the scratch dir ${deps.workDir} is on the data dir ${config.dataDir}: a verification never touches the data volume`);
  }
  const snapshot = newestSnapshot(await deps.store.listSnapshots());
  if (!snapshot) return { verified: false, reason: 'no snapshot to verify yet', corrupt: false };
  const scratch = join(deps.workDir, `etcd-verify-${process.pid}`);
  await fs.rm(scratch, { recursive: true, force: true });
  await fs.mkdir(scratch, { recursive: true, mode: 0o700 });
  try {
    const file = join(scratch, 'snapshot.db');
    const metadata = await deps.store.download(snapshot.key, file);
    const sha256 = await sha256OfFile(file);
    const early = judgeRestore({ metadata, sha256, servedRevision: Number(metadata.revision), servedKeys: 0 });
    if (!early.ok) return { verified: false, key: snapshot.key, reason: early.reason, corrupt: true };
    const ports = deps.ports ?? { client: 32379, peer: 32380 };
    const peerUrl = `http://127.0.0.1:${ports.peer}`;
    const dataDir = join(scratch, 'data');
    try {
      await deps.restorer.restore(file, dataDir, { name: 'verify', peerUrl, initialCluster: `verify=${peerUrl}`, clusterToken: `${config.clusterToken}-verify` });
    } catch (error) {
      return { verified: false, key: snapshot.key, reason: `restore failed: ${(error as Error).message}`, corrupt: true };
    }
    let served: { revision: number; keys: number };
    try {
      served = await deps.etcd.serve(dataDir, ports);
    } catch (error) {
      return { verified: false, key: snapshot.key, reason: `the restored member did not serve: ${(error as Error).message}`, corrupt: true };
    }
    const judged = judgeRestore({ metadata, sha256, servedRevision: served.revision, servedKeys: served.keys });
    if (!judged.ok) return { verified: false, key: snapshot.key, reason: judged.reason, corrupt: true };
    return { verified: true, key: snapshot.key, takenAt: snapshot.at, revision: served.revision, keys: served.keys, seconds: (now() - started) / 1000 };
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/** {@link ThrowawayEtcd} with the instance's own etcd and etcdctl binaries, plain HTTP on loopback. */
export class LoopbackEtcd implements ThrowawayEtcd {
  constructor(private readonly prefix: string[] = []) {}

  async serve(dataDir: string, ports: { client: number; peer: number }): Promise<{ revision: number; keys: number }> {
    const client = `http://127.0.0.1:${ports.client}`;
    const peer = `http://127.0.0.1:${ports.peer}`;
    const cmd = [...this.prefix, 'etcd', '--name', 'verify', '--data-dir', dataDir, '--listen-client-urls', client, '--advertise-client-urls', client, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `verify=${peer}`];
    // The PATH this code sees picks the etcd version, as in `run` (a sandboxed process.env is not read by default).
    const etcd: ChildProcess = spawn(cmd[0], cmd.slice(1), { stdio: 'ignore', env: process.env });
    const etcdctl = (args: string[]) => {
      const line = [...this.prefix, 'etcdctl', '--endpoints', client, '--dial-timeout', '1s', '--command-timeout', '10s', ...args];
      return run(line[0], line.slice(1));
    };
    try {
      const status = await pollUntil(
        async () => {
          if (etcd.exitCode !== null) throw new Error(`etcd exited with ${etcd.exitCode}`);
          const r = await etcdctl(['endpoint', 'status', '-w', 'json']);
          return r.code === 0 ? done(r.stdout) : notYet(r.stderr.trim().split('\n').pop() ?? 'no answer');
        },
        { timeoutMs: 60_000, delayMs: 250 },
      );
      const revision = Number(/"revision":(\d+)/.exec(status)?.[1]);
      // RangeResponse.count is the whole range's size even with a limit (etcdctl 3.4 has no --count-only).
      const count = await etcdctl(['get', '', '--prefix', '--limit', '1', '-w', 'json']);
      if (count.code !== 0) throw new Error(`reading every key failed: ${count.stderr.trim()}`);
      return { revision, keys: Number(/"count":(\d+)/.exec(count.stdout)?.[1] ?? 0) };
    } finally {
      etcd.kill('SIGKILL');
      await new Promise((resolve) => (etcd.exitCode !== null ? resolve(undefined) : etcd.once('exit', resolve)));
    }
  }
}

/** The leader's peer index, from this member's own view; `undefined` when there is none or it is not a peer name. */
export function leaderIndexFrom(statusJson: string, memberListJson: string): number | undefined {
  const leader = /"leader":(\d+)/.exec(statusJson)?.[1];
  if (!leader) return undefined;
  for (const m of memberListJson.matchAll(/\{"ID":(\d+),"name":"([^"]*)"/g)) if (m[1] === leader) return parsePeerName(m[2]);
  return undefined;
}

/** One log line for a run: what was verified, or why not. */
export function logOutcome(config: AgentConfig, outcome: VerifyOutcome, log: Logger): void {
  const peer = peerName(config.peerIndex);
  if (outcome.verified) log.info('backup verified', { peer, ...outcome });
  else if (outcome.corrupt) log.error('backup NOT restorable', { peer, ...outcome });
  else log.info('backup verification skipped', { peer, ...outcome });
}

/**
 * The hourly run: this peer verifies only in its turn and with room to spare;
 * `undefined` when it is not its turn (logged). The scratch dir is on the
 * root volume on AWS and beside the instance's files locally, never the data dir.
 */
export async function verifyBackupIfOurTurn(
  config: AgentConfig,
  deps: { store: BackupStore; prefix: string[]; log: Logger; now?: () => number },
): Promise<VerifyOutcome | undefined> {
  const now = deps.now ?? Date.now;
  const own = clientUrl(config.domain, config.peerIndex, config.tls);
  const status = await runEtcdctl(config, deps.prefix, { endpoint: own }, ['endpoint', 'status', '-w', 'json'], { dial: '2s', command: '5s' });
  const members = await runEtcdctl(config, deps.prefix, { endpoint: own }, ['member', 'list', '-w', 'json'], { dial: '2s', command: '5s' });
  if (status.code !== 0 || members.code !== 0) throw new Error(`this peer's etcd does not answer: ${(status.stderr || members.stderr).trim().split('\n').pop()}`);
  const leader = leaderIndexFrom(status.stdout, members.stdout);
  const turn = verifierOf(config.peerCount, leader, Math.floor(now() / 3_600_000));
  if (turn !== config.peerIndex) {
    deps.log.info('backup verification skipped', { peer: peerName(config.peerIndex), reason: turn === undefined ? 'no peer but the leader' : `${peerName(turn)}'s turn this hour` });
    return undefined;
  }
  const workDir = config.mode === 'aws' ? '/var/tmp' : dirname(config.etcdConfigFile);
  await fs.mkdir(workDir, { recursive: true });
  const stats = await fs.statfs(workDir);
  const room = roomToVerify(stats.bavail * stats.bsize, Number(/"dbSize":(\d+)/.exec(status.stdout)?.[1] ?? 0));
  if (!room.ok) return { verified: false, reason: room.reason, corrupt: false };
  return verifyNewestSnapshot(config, { store: deps.store, restorer: new CliSnapshotRestorer(config), etcd: new LoopbackEtcd(deps.prefix), log: deps.log, workDir, now });
}
