/**
 * The hand-off's adapters: etcdctl for leadership (both modes), and on AWS
 * instance metadata and Auto Scaling for the lifecycle, systemd, umount and
 * EC2 for the instance's own steps. Thin: the decisions live in
 * leadership.ts and hand-off.ts.
 */
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeVolumesCommand, DetachVolumeCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { AgentConfig } from '../contract/agent-config';
import { TERMINATE_HOOK_NAME } from '../contract/events';
import { autoScalingGroupName, clientUrl } from '../contract/naming';
import type { Logger } from '../runtime/log';
import { AWS_RETRY, done, notYet, pollUntil, RetryOptions, SDK_CLIENT_CONFIG, sleep as pause, withRetry } from '../runtime/retry';
import { InstanceMetadata, peerVolumeFilters } from './aws';
import { runEtcdctl } from './etcdctl';
import { LeadershipView, memberIdHex, parseLeadershipView } from './leadership';
import type { HandOffHost, LeadershipPort, LifecyclePort } from './ports';
import { CommandResult, readMountTable, run } from './system';

/** {@link LeadershipPort} through etcdctl against this member's own endpoint (`--cluster` reaches the others). */
export class EtcdctlLeadership implements LeadershipPort {
  constructor(
    private readonly config: AgentConfig,
    private readonly prefix: string[] = [],
    private readonly endpoint = clientUrl(config.domain, config.peerIndex, config.tls),
  ) {}

  private etcdctl(args: string[], command = '5s'): Promise<CommandResult> {
    return runEtcdctl(this.config, this.prefix, { endpoint: this.endpoint }, args, { dial: '2s', command });
  }

  async view(): Promise<LeadershipView> {
    const list = await this.etcdctl(['member', 'list', '-w', 'json']);
    if (list.code !== 0) throw new Error(`etcdctl member list failed: ${(list.stderr || list.stdout).trim().split('\n').pop()}`);
    // A member that does not answer makes etcdctl exit non-zero, but the others' statuses are still printed.
    const status = await this.etcdctl(['endpoint', 'status', '--cluster', '-w', 'json']);
    return parseLeadershipView(list.stdout, status.stdout);
  }

  async moveLeader(toMemberId: string): Promise<void> {
    // etcd waits for the transferee to catch up, then it campaigns at once: no election timeout passes.
    const r = await this.etcdctl(['move-leader', memberIdHex(toMemberId)], '15s');
    if (r.code !== 0) throw new Error(`etcdctl move-leader ${memberIdHex(toMemberId)} failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  }
}

/** Settings of the AWS adapters (injected in tests). */
export interface AwsHandOffOptions {
  readonly metadata?: InstanceMetadata;
  readonly autoscaling?: AutoScalingClient;
  readonly ec2?: EC2Client;
  readonly retry?: RetryOptions;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** Runs a command (systemctl, umount); the real one by default. */
  readonly run?: typeof run;
  /** Whether `dir` is a mount point; the real mount table by default. */
  readonly isMounted?: (dir: string) => Promise<boolean>;
  /** How long a detach may take before the hand-off gives up on it. */
  readonly detachTimeoutMs?: number;
}

/** {@link LifecyclePort} on AWS: the target lifecycle state from IMDSv2, the hook completed through Auto Scaling. */
export class AwsLifecycle implements LifecyclePort {
  private readonly metadata: InstanceMetadata;
  private readonly autoscaling: AutoScalingClient;

  constructor(
    private readonly config: AgentConfig,
    private readonly options: AwsHandOffOptions = {},
  ) {
    this.metadata = options.metadata ?? new InstanceMetadata();
    this.autoscaling = options.autoscaling ?? new AutoScalingClient(SDK_CLIENT_CONFIG);
  }

  async targetLifecycleState(): Promise<string | undefined> {
    try {
      return await this.metadata.get('autoscaling/target-lifecycle-state');
    } catch (error) {
      // Not there yet (an instance outside a group, or before its first transition).
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
      throw error;
    }
  }

  async completeTermination(): Promise<void> {
    const instanceId = await this.metadata.get('instance-id');
    try {
      await withRetry(
        () =>
          this.autoscaling.send(
            new CompleteLifecycleActionCommand({
              AutoScalingGroupName: autoScalingGroupName(this.config.clusterName, this.config.peerIndex),
              LifecycleHookName: TERMINATE_HOOK_NAME,
              InstanceId: instanceId,
              LifecycleActionResult: 'CONTINUE',
            }),
          ),
        { ...(this.options.retry ?? AWS_RETRY), sleep: this.options.sleep },
      );
    } catch (error) {
      // Completed already, or timed out: the termination goes on either way.
      if (!/No active Lifecycle Action found/i.test((error as Error).message)) throw error;
    }
  }
}

/** {@link HandOffHost} on an instance: systemd stops etcd, umount, EC2 detaches the volume. */
export class AwsHandOffHost implements HandOffHost {
  private readonly metadata: InstanceMetadata;
  private readonly ec2: EC2Client;
  private readonly run: typeof run;

  constructor(
    private readonly config: AgentConfig,
    private readonly options: AwsHandOffOptions = {},
  ) {
    this.metadata = options.metadata ?? new InstanceMetadata();
    this.ec2 = options.ec2 ?? new EC2Client(SDK_CLIENT_CONFIG);
    this.run = options.run ?? run;
  }

  private call<T>(operation: () => Promise<T>): Promise<T> {
    return withRetry(operation, { ...(this.options.retry ?? AWS_RETRY), sleep: this.options.sleep });
  }

  async stopEtcd(): Promise<void> {
    // `systemctl stop` returns once etcd has exited (SIGTERM: etcd finishes its in-flight work); Restart= does not apply.
    const r = await this.run('systemctl', ['stop', 'etcd.service'], 120_000);
    if (r.code !== 0) throw new Error(`systemctl stop etcd.service failed: ${(r.stderr || r.stdout).trim()}`);
  }

  async unmountDataDir(): Promise<void> {
    const dir = this.config.dataDir;
    const mounted = this.options.isMounted ?? (async (d: string) => (await readMountTable()).some((m) => m.mountPoint === d));
    if (!(await mounted(dir))) return;
    const r = await this.run('umount', [dir], 60_000);
    if (r.code !== 0) throw new Error(`umount ${dir} failed: ${(r.stderr || r.stdout).trim()}`);
  }

  async detachVolume(log: Logger): Promise<void> {
    const instanceId = await this.metadata.get('instance-id');
    const c = this.config;
    const found = await this.call(() =>
      this.ec2.send(
        new DescribeVolumesCommand({
          Filters: [...peerVolumeFilters(c), { Name: 'attachment.instance-id', Values: [instanceId] }],
        }),
      ),
    );
    const volumeIds = (found.Volumes ?? []).map((v) => v.VolumeId!).filter(Boolean);
    if (volumeIds.length !== 1) {
      log.warn('no single peer volume attached here: nothing detached', { instanceId, volumeIds });
      return;
    }
    const volumeId = volumeIds[0];
    // Not forced: the filesystem is unmounted, so a clean detach is quick.
    await this.call(() => this.ec2.send(new DetachVolumeCommand({ VolumeId: volumeId, InstanceId: instanceId })));
    await pollUntil(
      async () => {
        const v = (await this.call(() => this.ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] })))).Volumes?.[0];
        const ours = (v?.Attachments ?? []).find((a) => a.InstanceId === instanceId && a.State !== 'detached');
        return ours ? notYet(`attachment ${ours.State}`) : done(undefined);
      },
      {
        timeoutMs: this.options.detachTimeoutMs ?? 60_000,
        delayMs: 1000,
        sleep: this.options.sleep ?? pause,
        now: this.options.now,
        onTimeout: (reason) => new Error(`volume ${volumeId} still attached after ${(this.options.detachTimeoutMs ?? 60_000) / 1000}s: ${reason}`),
      },
    );
    log.info('volume detached for the replacement', { volumeId, instanceId });
  }
}
