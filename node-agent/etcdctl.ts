/**
 * Membership through the real etcdctl (shipped with etcd on the instance),
 * discovering the other members with `--discovery-srv` and authenticating
 * with this peer's own certificate (valid for client auth).
 */
import { join } from 'path';
import type { AgentConfig } from '../contract/agent-config';
import { ClusterView, MemberEntry, parseInitialCluster, parseMemberList } from './membership';
import type { MembershipPort } from './ports';
import { CommandResult, run } from './system';

/** How etcdctl finds members: DNS discovery, or one explicit endpoint (this peer's own). */
export type EtcdctlTarget = { readonly discoverySrv: string } | { readonly endpoint: string };

/** Runs the instance's etcdctl, authenticated with this peer's own certificate when TLS is on. */
export function runEtcdctl(
  config: AgentConfig,
  prefix: string[],
  target: EtcdctlTarget,
  args: string[],
  timeouts: { dial: string; command?: string; /** how long the process may run; 120 s by default */ processMs?: number },
  input?: string,
): Promise<CommandResult> {
  const tls = config.tls ? ['--cacert', join(config.pkiDir, 'ca.crt'), '--cert', join(config.pkiDir, 'peer.crt'), '--key', join(config.pkiDir, 'peer.key')] : [];
  const where = 'discoverySrv' in target ? ['--discovery-srv', target.discoverySrv] : ['--endpoints', target.endpoint];
  const command = [...prefix, 'etcdctl', ...where, ...tls, '--dial-timeout', timeouts.dial, ...(timeouts.command ? ['--command-timeout', timeouts.command] : []), ...args];
  return run(command[0], command.slice(1), timeouts.processMs ?? 120_000, process.env, input);
}

/**
 * Where `etcdutl` is on this process's PATH: etcd 3.5 and later ship it for the
 * offline snapshot commands (3.6 drops them from etcdctl); etcd 3.4 has none.
 * The instance's PATH (the local cluster: the run's PATH) picks the version.
 */
export async function findEtcdutl(): Promise<string | undefined> {
  const r = await run('sh', ['-c', 'command -v etcdutl']);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** The command prefix that puts etcdctl into the peer's network view: `ip netns exec NS` in the local cluster, nothing on AWS. */
export function etcdctlPrefix(config: AgentConfig): string[] {
  return config.local?.netns ? ['ip', 'netns', 'exec', config.local.netns] : [];
}

/** etcd refusing to promote a learner that has not caught up (or a learner endpoint refusing the call itself). */
export const PROMOTE_NOT_READY = /in sync with leader|not supported for learner|not ready|context deadline exceeded/i;
/** etcd refusing a second learner (etcd 3.4 and 3.5 allow one at a time). */
export const TOO_MANY_LEARNERS = /too many learner/i;

/** {@link MembershipPort} through etcdctl, finding the members by DNS discovery. */
export class EtcdctlMembership implements MembershipPort {
  constructor(
    private readonly config: AgentConfig,
    /** Runs etcdctl inside the instance's network view (local mode: `ip netns exec NS`). */
    private readonly prefix: string[] = [],
  ) {}

  private etcdctl(args: string[], commandTimeout = '5s'): Promise<CommandResult> {
    return runEtcdctl(this.config, this.prefix, { discoverySrv: this.config.domain }, args, { dial: '1s', command: commandTimeout });
  }

  async view(): Promise<ClusterView> {
    // A live member answers in milliseconds; while none is up (first formation) this is the wait, so keep it short.
    const list = await this.etcdctl(['member', 'list', '-w', 'simple'], '2s');
    if (list.code !== 0) return { kind: 'no-answer' };
    // `endpoint health` commits a proposal: one healthy endpoint means the cluster has quorum. `--cluster` takes the
    // endpoints from the member list; without it etcdctl (3.4 and 3.5 alike) ignores --discovery-srv and probes 127.0.0.1.
    const health = await this.etcdctl(['endpoint', 'health', '--cluster']);
    const healthy = /is healthy/.test(health.stdout + health.stderr);
    return { kind: 'answered', healthy, members: parseMemberList(list.stdout) };
  }

  async remove(memberId: string): Promise<void> {
    const r = await this.etcdctl(['member', 'remove', memberId]);
    if (r.code !== 0 && !/member not found/i.test(r.stderr)) throw new Error(`etcdctl member remove ${memberId} failed: ${r.stderr.trim().split('\n').pop()}`);
  }

  async add(name: string, peerUrl: string, options: { learner?: boolean } = { learner: true }): Promise<string> {
    const r = await this.etcdctl(['member', 'add', name, `--peer-urls=${peerUrl}`, ...(options.learner ? ['--learner'] : [])]);
    if (r.code !== 0) throw new Error(`etcdctl member add ${name} failed: ${r.stderr.trim().split('\n').pop()}`);
    return parseInitialCluster(r.stdout);
  }

  async members(): Promise<MemberEntry[]> {
    const r = await this.etcdctl(['member', 'list', '-w', 'simple']);
    if (r.code !== 0) throw new Error(`etcdctl member list failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
    return parseMemberList(r.stdout);
  }

  async promote(memberId: string): Promise<'promoted' | 'not-ready'> {
    const r = await this.etcdctl(['member', 'promote', memberId]);
    if (r.code === 0) return 'promoted';
    if (PROMOTE_NOT_READY.test(r.stderr)) return 'not-ready';
    throw new Error(`etcdctl member promote ${memberId} failed: ${r.stderr.trim().split('\n').pop()}`);
  }
}
