/**
 * Membership through the real etcdctl (shipped with etcd on the instance),
 * discovering the other members with `--discovery-srv` and authenticating
 * with this peer's own certificate (valid for client auth).
 */
import { join } from 'path';
import type { AgentConfig } from './config';
import { ClusterView, parseInitialCluster, parseMemberList } from './membership';
import { run } from './system';

/** What the start decision needs from the live cluster. */
export interface MembershipPort {
  view(): Promise<ClusterView>;
  remove(memberId: string): Promise<void>;
  /** Adds a member and returns the initial cluster it must start with. */
  add(name: string, peerUrl: string): Promise<string>;
}

export class EtcdctlMembership implements MembershipPort {
  constructor(
    private readonly config: AgentConfig,
    /** Runs etcdctl inside the instance's network view (local mode: `ip netns exec NS`). */
    private readonly prefix: string[] = [],
  ) {}

  private async etcdctl(args: string[], commandTimeout = '5s') {
    const c = this.config;
    const tls = c.tls ? ['--cacert', join(c.pkiDir, 'ca.crt'), '--cert', join(c.pkiDir, 'peer.crt'), '--key', join(c.pkiDir, 'peer.key')] : [];
    const command = [...this.prefix, 'etcdctl', '--discovery-srv', c.domain, ...tls, '--dial-timeout', '1s', '--command-timeout', commandTimeout, ...args];
    return run(command[0], command.slice(1), 30_000);
  }

  async view(): Promise<ClusterView> {
    // A live member answers in milliseconds; while none is up (first formation) this is the wait, so keep it short.
    const list = await this.etcdctl(['member', 'list', '-w', 'simple'], '2s');
    if (list.code !== 0) return { kind: 'no-answer' };
    // `endpoint health` commits a proposal: one healthy endpoint means the cluster has quorum. `--cluster` takes the
    // endpoints from the member list; without it etcdctl 3.4 ignores --discovery-srv and probes 127.0.0.1.
    const health = await this.etcdctl(['endpoint', 'health', '--cluster']);
    const healthy = /is healthy/.test(health.stdout + health.stderr);
    return { kind: 'answered', healthy, members: parseMemberList(list.stdout) };
  }

  async remove(memberId: string): Promise<void> {
    const r = await this.etcdctl(['member', 'remove', memberId]);
    if (r.code !== 0 && !/member not found/i.test(r.stderr)) throw new Error(`etcdctl member remove ${memberId} failed: ${r.stderr.trim().split('\n').pop()}`);
  }

  async add(name: string, peerUrl: string): Promise<string> {
    const r = await this.etcdctl(['member', 'add', name, `--peer-urls=${peerUrl}`]);
    if (r.code !== 0) throw new Error(`etcdctl member add ${name} failed: ${r.stderr.trim().split('\n').pop()}`);
    return parseInitialCluster(r.stdout);
  }
}
