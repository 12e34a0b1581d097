/**
 * The agent runner: the real node agent (the bundled CLI, local mode) run in
 * an instance's network namespace but the host's mount namespace (so the
 * mount it makes persists), as the systemd units run it on AWS: `boot` before
 * etcd, `promote` after it when it joined as a learner, `snapshot` and
 * `metrics` on their timers.
 */
import { spawn } from 'child_process';
import { createWriteStream, promises as fs } from 'fs';
import { join } from 'path';
import { AgentConfig, buildAgentConfig } from '../contract/agent-config';
import type { DatabaseSettings } from '../contract/database';
import { CommandResult, run } from '../node-agent/system';
import type { Instance } from './instance';

/** What the local cluster tells every agent of a run. */
export interface LocalAgentCluster {
  readonly clusterName: string;
  readonly domain: string;
  readonly peerCount: number;
  /** The run's directory (CA and backups are shared by every instance, like the secret and the bucket). */
  readonly runDir: string;
  /** The database settings every peer gets (quota, compaction, defragmentation thresholds); the agent's defaults otherwise. */
  readonly database?: Partial<DatabaseSettings>;
}

/** The agent's config for one local instance (its peer's volume file given), through the same factory as the construct's. */
export function localAgentConfig(cluster: LocalAgentCluster, instance: Pick<Instance, 'id' | 'peerIndex' | 'dir' | 'host'>, volumeFile: string): AgentConfig {
  const dir = instance.dir;
  return buildAgentConfig({
    mode: 'local',
    clusterName: cluster.clusterName,
    domain: cluster.domain,
    peerIndex: instance.peerIndex,
    peerCount: cluster.peerCount,
    tls: true,
    dataDir: join(dir, 'data'),
    etcdUser: 'root',
    etcdConfigFile: join(dir, 'etcd.conf.yml'),
    pkiDir: join(dir, 'pki'),
    deadlines: { attachSeconds: 120, forceDetachGraceSeconds: 60, deviceSeconds: 10, dnsSeconds: 60, decideSeconds: 120 },
    // The agent issues this peer's certificate from the cluster CA at every boot.
    ca: { dir: join(cluster.runDir, 'ca') },
    backup: { dir: join(cluster.runDir, 'backups') },
    certLifetimeHours: 24,
    database: cluster.database,
    local: { volumeFile, ipAddress: instance.host.ip, instanceId: instance.id, dnsServers: [instance.host.zone.gateway], netns: instance.host.namespace },
  });
}

/** What a `boot` run reported: its exit code and, from its JSON log lines, its duration, restore and error. */
export interface BootReport {
  readonly code: number;
  /** Agent run time (attach → mount → config → own name), from its own `ready` line. */
  readonly durationMs?: number;
  /** The snapshot it restored the data dir from, if it did. */
  readonly restoredFrom?: string;
  readonly error?: string;
}

/** Folds the agent's log lines (anything else is skipped) and its exit code into a {@link BootReport}. */
export function readBootReport(lines: readonly string[], code: number): BootReport {
  let durationMs: number | undefined;
  let restoredFrom: string | undefined;
  let error: string | undefined;
  for (const line of lines) {
    let entry: { msg?: string; level?: string; durationMs?: number; key?: string; error?: string };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (entry.msg === 'ready: etcd may start') durationMs = entry.durationMs;
    if (entry.msg === 'snapshot restored') restoredFrom = entry.key;
    if (entry.level === 'error') error = entry.error;
  }
  return { code, durationMs, restoredFrom, error: error ?? (code === 0 ? undefined : `exit ${code}`) };
}

/** What the snapshot timers of every peer did, from the agents' log lines. */
export interface SnapshotRound {
  readonly taken: number;
  readonly skipped: number;
  readonly uploaded: { keys: string[]; members: number; revision: number }[];
}

/** Reads the outputs of one `snapshot` run per peer; a run that failed fails the round with its stderr. */
export function readSnapshotRound(outputs: readonly CommandResult[]): SnapshotRound {
  const failed = outputs.filter((o) => o.code !== 0);
  if (failed.length) throw new Error(`snapshot failed on ${failed.length} peer(s): ${failed[0].stderr.trim()}`);
  const lines = outputs.flatMap((o) => o.stdout.split('\n')).filter(Boolean).map((l) => JSON.parse(l));
  const uploaded = lines.filter((l) => l.msg === 'snapshot uploaded').map((l) => ({ keys: l.keys, members: l.members, revision: l.revision }));
  return { taken: uploaded.length, skipped: lines.filter((l) => l.msg === 'snapshot skipped').length, uploaded };
}

/** Runs the bundled agent's subcommands for instances of one run. */
export class AgentRunner {
  constructor(
    /** The bundled node agent (esbuild output). */
    private readonly agentPath: string,
    /** The environment of every agent process: the run's etcd version first on its PATH (`etcdEnv`); a new launch template changes it. */
    public env: NodeJS.ProcessEnv,
  ) {}

  /**
   * The one command line: the agent in `namespace`'s network. Every subcommand but `metrics` keeps the host's
   * mounts (`nsenter --net`), so the volume `boot` mounts persists. `metrics` reads etcd's `/metrics` from its own
   * process by the peer's name, which only the zone's resolver knows: it runs through `ip netns exec`, which also
   * gives it the namespace's resolv.conf, as an instance in the VPC resolves the private zone.
   */
  static commandLine(agentPath: string, namespace: string, subcommand: string, configFile: string): [string, string[]] {
    const agent = [process.execPath, agentPath, subcommand, '--config', configFile];
    return subcommand === 'metrics' ? ['ip', ['netns', 'exec', namespace, ...agent]] : ['nsenter', [`--net=/run/netns/${namespace}`, '--', ...agent]];
  }

  private commandLine(namespace: string, subcommand: string, configFile: string): [string, string[]] {
    return AgentRunner.commandLine(this.agentPath, namespace, subcommand, configFile);
  }

  /** `boot`, its output logged to `logFile` as it comes; resolves when it has exited and its output is read. */
  boot(namespace: string, configFile: string, logFile: string): Promise<BootReport> {
    return new Promise((resolve) => {
      const log = createWriteStream(logFile);
      const [file, args] = this.commandLine(namespace, 'boot', configFile);
      // Own process group: a Ctrl-C on the terminal reaches the supervisor, which then stops its children itself.
      const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: this.env });
      const lines: string[] = [];
      let buffer = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        log.write(chunk);
        buffer += chunk.toString();
        const complete = buffer.split('\n');
        buffer = complete.pop()!;
        lines.push(...complete);
      });
      child.stderr!.on('data', (chunk: Buffer) => log.write(chunk));
      // 'close', not 'exit': stdout may still hold the final report line when the process exits.
      child.on('close', (code) => {
        log.end();
        resolve(readBootReport(lines, code ?? 1));
      });
    });
  }

  /** `promote` (a learner to voting member), its output appended to `logFile`; `detail` says why it failed. */
  async promote(namespace: string, configFile: string, logFile: string): Promise<{ promoted: boolean; detail?: string }> {
    const r = await this.run(namespace, 'promote', configFile, 300_000);
    await fs.appendFile(logFile, r.stdout + r.stderr).catch(() => undefined);
    const promoted = r.code === 0 && r.stdout.includes('learner promoted to voting member');
    return promoted ? { promoted } : { promoted, detail: r.stderr.trim().split('\n').pop() };
  }

  /** Another subcommand (`promote`, `snapshot`, `metrics`, `maintain`), to completion. */
  run(namespace: string, subcommand: 'promote' | 'snapshot' | 'metrics' | 'maintain', configFile: string, timeoutMs: number): Promise<CommandResult> {
    const [file, args] = this.commandLine(namespace, subcommand, configFile);
    return run(file, args, timeoutMs, this.env);
  }
}
