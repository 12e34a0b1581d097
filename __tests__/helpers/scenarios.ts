/**
 * What the real-cluster scenario suites share: whether they can run here, the etcd binaries of each version, and
 * the checks every run ends with (the version the members ran, nothing left behind).
 */
import { execFileSync } from 'child_process';
import { existsSync, readdirSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { runScenario, ScenarioName, ScenarioResult } from '../../simulation/scenarios';
import { EtcdBinaries, etcdBinaries, EtcdMinor } from '../../runtime/etcd-binaries';
import { lowest } from '../../simulation/peer-metrics';
import { loopDeviceUnavailability } from './privileges';

/** Why the local cluster cannot run here (root, namespaces, loop devices, the tools), or `undefined`. */
export const simulationWhy = loopDeviceUnavailability(['ip', 'nsenter', 'etcd', 'etcdctl', 'dnsmasq', 'openssl', 'losetup', 'mkfs.ext4', 'blkid', 'mount']);

/** The binaries of `minor`, or why a run on it cannot happen here. */
export function binariesOf(minor: EtcdMinor): { etcd?: EtcdBinaries; why?: string } {
  try {
    return { etcd: etcdBinaries(minor) };
  } catch (error) {
    return { why: (error as Error).message };
  }
}
export const etcd35 = binariesOf('3.5');
export const etcd34 = binariesOf('3.4');

/** The members ran the binaries asked for: what they reported on /version is that version, and only that. */
export function expectRanOn(r: ScenarioResult, etcd: EtcdBinaries) {
  expect(r.etcdVersion).toBe(etcd.version);
  expect(r.etcdVersion.startsWith(`${etcd.minor}.`)).toBe(true);
}

/** What a finished run may not leave behind: processes, mounts, loop devices, namespaces, links, host settings. */
export function leftovers(dir: string): string[] {
  const found: string[] = [];
  const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
  if (/etcdsim/.test(sh('ip', ['netns', 'list']))) found.push('network namespaces');
  if (/etcdsim/.test(sh('ip', ['-o', 'link', 'show']))) found.push('links');
  if (sh('losetup', ['-n', '-O', 'BACK-FILE']).includes(dir)) found.push('loop devices');
  if (readFileSync('/proc/self/mountinfo', 'utf8').includes(dir)) found.push('mounts');
  if (sh('ps', ['-eo', 'args']).split('\n').some((l) => l.startsWith('etcd ') && l.includes(dir))) found.push('etcd processes');
  if (existsSync('/sys/fs/cgroup/blkio') && readdirSync('/sys/fs/cgroup/blkio').some((e) => e.startsWith('etcdsim-'))) found.push('blkio throttle groups');
  if (existsSync('/run/etcdsim-runs.json') || existsSync('/run/etcdsim-ip-forward-before')) found.push('run registry or saved ip_forward');
  return found;
}

/** The host's routing setting restored after the suite, and the progress of a failed run shown. */
export function scenarioHooks(): (line: string) => void {
  const forwardingBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
  afterAll(() => {
    // Every run restores the host's own routing setting.
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8')).toBe(forwardingBefore);
  });
  const lines: string[] = [];
  afterEach(() => {
    // Keep the progress of a failed run visible in the test output.
    if (expect.getState().assertionCalls === 0 || process.env.SIMULATION_VERBOSE) console.log(lines.join('\n'));
    lines.length = 0;
  });
  return (line: string) => lines.push(line);
}

/** A 9-peer run healed: nothing lost on any member, the same members (but `idsMayChange`), exactly `killed` replaced, every peer's metrics and snapshot timer. */
export function expectHealedWithoutLoss(r: ScenarioResult, killed: number[], idsMayChange: string[] = []) {
  expect(r.lost).toBe(0);
  // Every member's own data was read, and each held every acknowledged write.
  expect(r.verifiedMembers).toBe(9);
  expect(r.unreadMembers).toEqual([]);
  expect(r.lostKeys).toEqual([]);
  expect(r.acked).toBeGreaterThan(0);
  // Same members: identity lives in the names and the volumes, not the instances.
  expect(Object.keys(r.membersAfter).sort()).toEqual(Array.from({ length: 9 }, (_, i) => `peer-${i}`).sort());
  expect(r.memberIdsChanged).toEqual(idsMayChange);
  for (const [peer, id] of Object.entries(r.membersBefore)) if (!idsMayChange.includes(peer)) expect(r.membersAfter[peer]).toBe(id);
  // Every killed peer came back on a new instance with a new IP.
  expect(r.replacements.map((x) => x.peer).sort((a, b) => a - b)).toEqual(killed);
  expect(new Set(r.replacements.map((x) => x.ip)).size).toBe(killed.length);
  // The real DNS updater completed each replacement's launch lifecycle action after writing its record.
  expect(r.replacements.filter((x) => !x.hookCompleted)).toEqual([]);
  // Every peer published its metrics at the end: all nine voters healthy, so the margin over quorum 5 is 4 everywhere.
  expect(Object.keys(r.metrics).sort()).toEqual(Array.from({ length: 9 }, (_, i) => `peer-${i}`).sort());
  expect(lowest(r.metrics, 'QuorumMargin')).toBe(4);
  expect(Object.values(r.metrics).map((m) => m.MemberListAgrees)).toEqual(Array(9).fill(1));
  // Each peer's own figures come from its etcd's /metrics, read by the peer's name through the zone's resolver.
  expect(Object.values(r.metrics).filter((m) => !(m.DbSizeBytes > 0 && m.WalFsyncP99Ms !== undefined))).toEqual([]);
  // Every peer's snapshot timer fired: only the leader took one, of all nine members.
  expect(r.snapshot).toMatchObject({ taken: 1, skipped: 8, members: 9 });
  expect(r.snapshot.revision).toBeGreaterThan(r.acked);
}

/**
 * Runs scenario `name` on 3 zones in its own directory under the system's temp dir (`dirName`, by default the
 * scenario's name), and checks that it left nothing behind.
 */
export async function runCleanly(name: ScenarioName, options: { peers: number; progress: (line: string) => void; etcd: EtcdBinaries }, dirName: string = name): Promise<ScenarioResult> {
  const dir = join(tmpdir(), 'etcdsim-test', dirName);
  const r = await runScenario(name, { peers: options.peers, zones: 3, dir, progress: options.progress, etcd: options.etcd });
  expect(leftovers(dir)).toEqual([]);
  return r;
}
