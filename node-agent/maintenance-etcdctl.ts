/**
 * {@link MaintenancePort} through etcdctl, the same on etcd 3.4 and 3.5: the
 * member list from this peer's own member, then each member's own endpoint
 * status and health, the alarms, and the lock as a key under a lease.
 */
import type { AgentConfig } from '../contract/agent-config';
import { clientUrl } from '../contract/naming';
import type { HeldLock, MaintenancePort, MaintenanceRead } from './ports';
import type { MemberDb } from './maintenance';
import { runEtcdctl } from './etcdctl';
import { parseEtcdJson } from './metrics-collect';
import type { CommandResult } from './system';

/** The key of the cluster-wide maintenance lock; its value names the holder. */
export const MAINTENANCE_LOCK_KEY = '/etcd-node-agent/maintenance-lock';

const lastLine = (r: CommandResult) => (r.stderr || r.stdout).trim().split('\n').pop();

/**
 * The endpoints that answered `endpoint health -w json` (one entry per endpoint). An answer whose only
 * complaint is an alarm counts as healthy: etcd 3.5 reports a member under NOSPACE that way, yet it answered.
 */
export function healthyEndpoints(json: string): Set<string> {
  try {
    const entries = JSON.parse(json) as Array<{ endpoint?: string; health?: boolean; error?: string }>;
    return new Set(entries.filter((h) => h.endpoint && (h.health === true || /^Active Alarm\(s\)/.test(h.error ?? ''))).map((h) => h.endpoint!));
  } catch {
    return new Set();
  }
}

/** Each member's figures from `endpoint status -w json`, by endpoint; 64-bit ids kept as digit strings. */
export function statusesByEndpoint(json: string): Map<string, { memberId: string; leader: string; dbSize: number; dbSizeInUse: number; revision: number }> {
  const out = new Map<string, { memberId: string; leader: string; dbSize: number; dbSizeInUse: number; revision: number }>();
  try {
    for (const entry of parseEtcdJson(json) as Array<{ Endpoint?: string; Status?: { header?: { member_id?: string; revision?: number }; leader?: string; dbSize?: number; dbSizeInUse?: number } }>) {
      const s = entry.Status;
      if (!entry.Endpoint || !s?.header?.member_id || s.dbSize === undefined) continue;
      out.set(entry.Endpoint, { memberId: s.header.member_id, leader: s.leader ?? '0', dbSize: s.dbSize, dbSizeInUse: s.dbSizeInUse ?? s.dbSize, revision: s.header.revision ?? 0 });
    }
  } catch {
    /* no figures */
  }
  return out;
}

export class EtcdctlMaintenance implements MaintenancePort {
  /** Client URLs by member name, from the last read. */
  private endpoints = new Map<string, string>();

  constructor(
    private readonly config: AgentConfig,
    private readonly prefix: string[] = [],
    private readonly ownEndpoint = clientUrl(config.domain, config.peerIndex, config.tls),
    /** How long one defragmentation may take (etcdctl's own default is 5 s). */
    private readonly defragTimeoutSeconds = 900,
  ) {}

  private etcdctl(endpoint: string, args: string[], command = '5s', input?: string, processMs?: number): Promise<CommandResult> {
    return runEtcdctl(this.config, this.prefix, { endpoint }, args, { dial: '2s', command, processMs }, input);
  }

  /** Every member's client URL: the lock and the compaction go to any that answers, so they work while this peer's member is paused. */
  private everyEndpoint(): string {
    return [...new Set([this.ownEndpoint, ...this.endpoints.values()])].join(',');
  }

  async read(): Promise<MaintenanceRead> {
    // Four etcdctl runs whatever the cluster size: `--cluster` takes every member's endpoint from the member list,
    // and a member that does not answer is missing from the output (etcdctl then exits non-zero, printing the others).
    const [list, alarms, status, health] = await Promise.all([
      this.etcdctl(this.ownEndpoint, ['member', 'list', '-w', 'json']),
      this.etcdctl(this.ownEndpoint, ['alarm', 'list']),
      this.etcdctl(this.ownEndpoint, ['endpoint', 'status', '--cluster', '-w', 'json'], '3s'),
      this.etcdctl(this.ownEndpoint, ['endpoint', 'health', '--cluster', '-w', 'json'], '3s'),
    ]);
    if (list.code !== 0) throw new Error(`etcdctl member list failed: ${lastLine(list)}`);
    if (alarms.code !== 0) throw new Error(`etcdctl alarm list failed: ${lastLine(alarms)}`);
    const entries = (parseEtcdJson(list.stdout).members ?? []) as Array<{ ID: string; name?: string; clientURLs?: string[]; isLearner?: boolean }>;
    const statuses = statusesByEndpoint(status.stdout);
    const healthy = healthyEndpoints(health.stdout);
    let revision = 0;
    const members = entries.map((m): MemberDb => {
      const name = m.name || m.ID;
      const url = m.clientURLs?.[0];
      if (!url) return { name, isLeader: false, isLearner: m.isLearner === true, healthy: false };
      this.endpoints.set(name, url);
      const s = statuses.get(url);
      if (s) revision = Math.max(revision, s.revision);
      return {
        name,
        isLeader: !!s && s.leader === s.memberId,
        isLearner: m.isLearner === true,
        healthy: healthy.has(url),
        ...(s ? { dbSize: s.dbSize, dbSizeInUse: s.dbSizeInUse } : {}),
      };
    });
    const raised = [...alarms.stdout.matchAll(/alarm:([A-Z_]+)/g)].map((m) => m[1]);
    return { members, nospace: raised.includes('NOSPACE'), otherAlarms: [...new Set(raised.filter((a) => a !== 'NOSPACE'))], revision };
  }

  async tryLock(holder: string, ttlSeconds: number): Promise<{ taken: true; lock: HeldLock } | { taken: false; holder: string }> {
    const where = this.everyEndpoint();
    const grant = await this.etcdctl(where, ['lease', 'grant', String(ttlSeconds)]);
    const lease = /lease ([0-9a-f]+) granted/.exec(grant.stdout)?.[1];
    if (grant.code !== 0 || !lease) throw new Error(`etcdctl lease grant failed: ${lastLine(grant)}`);
    const txn = `create("${MAINTENANCE_LOCK_KEY}") = "0"\n\nput ${MAINTENANCE_LOCK_KEY} ${holder} --lease=${lease}\n\n\n`;
    const r = await this.etcdctl(where, ['txn'], '5s', txn);
    if (r.code === 0 && /^SUCCESS/.test(r.stdout.trim())) {
      return {
        taken: true,
        lock: {
          keepAlive: async () => {
            const k = await this.etcdctl(this.everyEndpoint(), ['lease', 'keep-alive', '--once', lease]);
            if (k.code !== 0) throw new Error(`etcdctl lease keep-alive failed: ${lastLine(k)}`);
          },
          release: async () => {
            const k = await this.etcdctl(this.everyEndpoint(), ['lease', 'revoke', lease]);
            if (k.code !== 0 && !/not found/i.test(k.stderr)) throw new Error(`etcdctl lease revoke failed: ${lastLine(k)}`);
          },
        },
      };
    }
    await this.etcdctl(where, ['lease', 'revoke', lease]);
    if (r.code !== 0) throw new Error(`etcdctl txn (maintenance lock) failed: ${lastLine(r)}`);
    return { taken: false, holder: (await this.lockHolder()) ?? 'another peer (released since)' };
  }

  async lockHolder(): Promise<string | undefined> {
    const r = await this.etcdctl(this.everyEndpoint(), ['get', MAINTENANCE_LOCK_KEY, '--print-value-only']);
    if (r.code !== 0) throw new Error(`etcdctl get ${MAINTENANCE_LOCK_KEY} failed: ${lastLine(r)}`);
    return r.stdout.trim() || undefined;
  }

  async compact(revision: number): Promise<void> {
    const r = await this.etcdctl(this.everyEndpoint(), ['compact', String(revision), '--physical'], '60s', undefined, 90_000);
    if (r.code !== 0 && !/already been compacted/i.test(r.stderr)) throw new Error(`etcdctl compact ${revision} failed: ${lastLine(r)}`);
  }

  async defragment(name: string): Promise<void> {
    const url = this.endpoints.get(name);
    if (!url) throw new Error(`no client URL known for ${name}`);
    const r = await this.etcdctl(url, ['defrag'], `${this.defragTimeoutSeconds}s`, undefined, (this.defragTimeoutSeconds + 30) * 1000);
    if (r.code !== 0) throw new Error(`etcdctl defrag of ${name} failed: ${lastLine(r)}`);
  }

  async disarmNospace(): Promise<void> {
    const r = await this.etcdctl(this.everyEndpoint(), ['alarm', 'disarm']);
    if (r.code !== 0) throw new Error(`etcdctl alarm disarm failed: ${lastLine(r)}`);
  }
}
