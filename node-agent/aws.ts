/**
 * AWS mode: identity from IMDSv2, the volume from EC2 (found by tags,
 * attached, waited for), the holder's group membership from Auto Scaling.
 * Thin: the attach rules live in decisions.ts.
 */
import { AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { AttachVolumeCommand, CreateTagsCommand, DescribeInstancesCommand, DescribeVolumesCommand, DetachVolumeCommand, EC2Client, Volume } from '@aws-sdk/client-ec2';
import { autoScalingGroupName, CLUSTER_TAG_KEY, FORMATTED_TAG_KEY, PEER_INDEX_TAG_KEY } from '../contract/naming';
import type { Logger } from '../runtime/log';
import { AWS_RETRY, done, jitteredBackoff, notYet, pollUntil, RetryOptions, SDK_CLIENT_CONFIG, sleep, withRetry } from '../runtime/retry';
import type { AgentConfig } from '../contract/agent-config';
import { choosePeerVolume, decideAttachStep, OwnerView, VolumeView } from './decisions';
import type { AttachedVolume, FormatRecord, Identity, VolumeProvider } from './ports';
import { pathExists } from './system';

/** Device name requested at attach; Nitro instances expose the volume as NVMe regardless. */
export const REQUESTED_DEVICE = '/dev/xvdf';

/** Where a volume shows up: the NVMe by-id link (serial = volume id without the dash), else the requested name. */
export function deviceCandidates(volumeId: string): string[] {
  return [`/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volumeId.replace('-', '')}`, REQUESTED_DEVICE, '/dev/sdf'];
}

type Fetch = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; signal?: AbortSignal },
) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;

/** Settings of {@link InstanceMetadata}. */
export interface InstanceMetadataOptions {
  /** Limit on one request; IMDS answers in milliseconds, so a hung socket is a failure to retry. Default 2 s. */
  readonly requestTimeoutMs?: number;
  /** Default: 6 attempts, backoff from 200 ms up to 2 s. */
  readonly retry?: RetryOptions;
}

/** HTTP answers from IMDS worth another try: throttled (429), an expired token (401), its own errors (5xx). */
const IMDS_RETRYABLE_STATUS = (status: number) => status === 429 || status === 401 || status >= 500;

/** Minimal IMDSv2 client: one session token shared by concurrent reads, then GETs with it. */
export class InstanceMetadata {
  private token?: Promise<string>;

  constructor(
    private readonly fetchImpl: Fetch = globalThis.fetch as unknown as Fetch,
    private readonly base = 'http://169.254.169.254',
    private readonly options: InstanceMetadataOptions = {},
  ) {}

  async get(path: string): Promise<string> {
    return withRetry(async () => {
      const token = await this.sessionToken();
      const r = await this.request(`${this.base}/latest/meta-data/${path}`, { headers: { 'X-aws-ec2-metadata-token': token } });
      if (r.status === 401) this.token = undefined;
      if (!r.ok) throw imdsError(`IMDS ${path} failed with HTTP ${r.status}`, r.status);
      return (await r.text()).trim();
    }, this.options.retry ?? { attempts: 6, baseDelayMs: 200, maxDelayMs: 2000 });
  }

  /** The token, requested once however many reads wait for it; a failed request is forgotten so the next try asks again. */
  private sessionToken(): Promise<string> {
    this.token ??= (async () => {
      const r = await this.request(`${this.base}/latest/api/token`, { method: 'PUT', headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '21600' } });
      if (!r.ok) throw imdsError(`IMDSv2 token request failed with HTTP ${r.status}`, r.status);
      return r.text();
    })().catch((error) => {
      this.token = undefined;
      throw error;
    });
    return this.token;
  }

  private request(url: string, init: { method?: string; headers: Record<string, string> }) {
    return this.fetchImpl(url, { ...init, signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 2000) });
  }
}

function imdsError(message: string, status: number): Error {
  // Retryable answers are marked as a 503 for the one retry classifier; others keep their status and fail at once.
  return Object.assign(new Error(message), { $metadata: { httpStatusCode: IMDS_RETRYABLE_STATUS(status) ? 503 : status } });
}

/** EC2 filters that find this peer's volume by its cluster and peer-index tags (the one place they are spelled). */
export function peerVolumeFilters(config: Pick<AgentConfig, 'clusterName' | 'peerIndex'>): { Name: string; Values: string[] }[] {
  return [
    { Name: `tag:${CLUSTER_TAG_KEY}`, Values: [config.clusterName] },
    { Name: `tag:${PEER_INDEX_TAG_KEY}`, Values: [String(config.peerIndex)] },
  ];
}

/** Settings of {@link AwsVolumeProvider}. */
export interface AwsVolumeProviderOptions {
  readonly ec2?: EC2Client;
  readonly autoscaling?: AutoScalingClient;
  readonly metadata?: InstanceMetadata;
  readonly retry?: RetryOptions;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** Whether a device path exists (the real filesystem by default). */
  readonly pathExists?: (path: string) => Promise<boolean>;
  /** Poll interval bounds while waiting for the volume. */
  readonly pollBaseMs?: number;
  readonly pollMaxMs?: number;
}

/** EBS {@link VolumeProvider}. */
export class AwsVolumeProvider implements VolumeProvider {
  private readonly ec2: EC2Client;
  private readonly autoscaling: AutoScalingClient;
  private readonly metadata: InstanceMetadata;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(
    private readonly config: AgentConfig,
    private readonly options: AwsVolumeProviderOptions = {},
  ) {
    // One retry policy, ours: the SDK's own would multiply it.
    this.ec2 = options.ec2 ?? new EC2Client(SDK_CLIENT_CONFIG);
    this.autoscaling = options.autoscaling ?? new AutoScalingClient(SDK_CLIENT_CONFIG);
    this.metadata = options.metadata ?? new InstanceMetadata();
    this.sleep = options.sleep ?? sleep;
    this.now = options.now ?? Date.now;
  }

  private call<T>(operation: () => Promise<T>): Promise<T> {
    return withRetry(operation, { ...(this.options.retry ?? AWS_RETRY), sleep: this.sleep });
  }

  async identify(): Promise<Identity> {
    const [instanceId, zone, privateIp] = await Promise.all([
      this.metadata.get('instance-id'),
      this.metadata.get('placement/availability-zone'),
      this.metadata.get('local-ipv4'),
    ]);
    return { instanceId, zone, privateIp };
  }

  async attachPeerVolume(identity: Identity, log: Logger): Promise<AttachedVolume> {
    const c = this.config;
    const found = await this.call(() =>
      this.ec2.send(
        new DescribeVolumesCommand({
          Filters: peerVolumeFilters(c),
        }),
      ),
    );
    const chosen = choosePeerVolume((found.Volumes ?? []).map(toView), { clusterName: c.clusterName, peerIndex: c.peerIndex, zone: identity.zone });
    if (!chosen.ok) throw new Error(chosen.reason);
    const volumeId = chosen.volume.volumeId;

    const firstSeen = new Map<string, number>();
    let owner: OwnerView | undefined;
    const pollBaseMs = this.options.pollBaseMs ?? 1000;
    await pollUntil(
      async (attempt) => {
        const described = await this.describeVolume(volumeId);
        // Just found by its tags: a miss by id is EC2's eventual consistency until the deadline says otherwise.
        if (!described) {
          const reason = `volume ${volumeId} was found by its tags but not yet by its id`;
          log.info('waiting for volume', { volumeId, reason, attempt });
          return notYet(reason);
        }
        const volume = toView(described);
        const holder = volume.attachments.find((a) => a.instanceId !== identity.instanceId && a.state !== 'detached');
        if (holder) {
          if (!firstSeen.has(holder.instanceId)) firstSeen.set(holder.instanceId, this.now());
          owner = await this.describeOwner(holder.instanceId);
        }
        const step = decideAttachStep({
          volume,
          selfId: identity.instanceId,
          owner,
          heldForSeconds: holder ? (this.now() - firstSeen.get(holder.instanceId)!) / 1000 : 0,
          graceSeconds: c.deadlines.forceDetachGraceSeconds,
        });
        if (step.action === 'done') return done(undefined);
        if (step.action === 'fail') throw new Error(step.reason);
        if (step.action === 'attach') {
          log.info('attaching volume', { volumeId, instanceId: identity.instanceId, device: REQUESTED_DEVICE });
          try {
            await this.call(() => this.ec2.send(new AttachVolumeCommand({ VolumeId: volumeId, InstanceId: identity.instanceId, Device: REQUESTED_DEVICE })));
          } catch (error) {
            // Lost a race with another state change: look again rather than fail.
            if ((error as Error).name !== 'IncorrectState' && (error as Error).name !== 'VolumeInUse') throw error;
            log.warn('attach raced with another change; looking again', { volumeId, error: (error as Error).message });
          }
        } else if (step.action === 'force-detach') {
          log.warn('force-detaching volume from an instance that left this peer', { volumeId, from: step.instanceId, reason: step.reason });
          await this.call(() => this.ec2.send(new DetachVolumeCommand({ VolumeId: volumeId, InstanceId: step.instanceId, Force: true })));
        } else {
          log.info('waiting for volume', { volumeId, reason: step.reason, attempt });
        }
        // After an attach or a detach, look again: only EC2's own view says the volume is ours.
        return notYet(step.action === 'wait' ? step.reason : step.action);
      },
      {
        timeoutMs: c.deadlines.attachSeconds * 1000,
        delayMs: jitteredBackoff({ floorMs: pollBaseMs / 2, baseDelayMs: pollBaseMs, maxDelayMs: this.options.pollMaxMs ?? 10_000 }),
        now: this.now,
        sleep: this.sleep,
        onTimeout: (reason) => new Error(`volume ${volumeId} not attached after ${c.deadlines.attachSeconds}s: ${reason}`),
      },
    );

    const device = await this.waitForDevice(volumeId, log);
    return { volumeId, device };
  }

  /** The volume's `etcd-cluster:formatted-at` tag: read from EC2 each time (never from a cached describe), written with CreateTags. */
  formatRecord(volume: AttachedVolume): FormatRecord {
    const volumeId = volume.volumeId;
    return {
      where: `the tag ${FORMATTED_TAG_KEY} on ${volumeId}`,
      read: async () => {
        const described = await this.describeVolume(volumeId);
        if (!described) throw new Error(`volume ${volumeId} cannot be described; cannot tell whether it was formatted before`);
        return described.Tags?.find((t) => t.Key === FORMATTED_TAG_KEY)?.Value;
      },
      write: async (at) => {
        await this.call(() => this.ec2.send(new CreateTagsCommand({ Resources: [volumeId], Tags: [{ Key: FORMATTED_TAG_KEY, Value: at.toISOString() }] })));
      },
    };
  }

  private async describeVolume(volumeId: string): Promise<Volume | undefined> {
    try {
      return (await this.call(() => this.ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] })))).Volumes?.[0];
    } catch (error) {
      if ((error as Error).name === 'InvalidVolume.NotFound') return undefined;
      throw error;
    }
  }

  /** Step 4: the block device node, by NVMe serial first. */
  private async waitForDevice(volumeId: string, log: Logger): Promise<string> {
    const candidates = deviceCandidates(volumeId);
    const exists = this.options.pathExists ?? pathExists;
    return pollUntil(
      async () => {
        for (const path of candidates) if (await exists(path)) return done(path);
        return notYet('no device node yet');
      },
      {
        timeoutMs: this.config.deadlines.deviceSeconds * 1000,
        delayMs: 500,
        now: this.now,
        sleep: this.sleep,
        onWait: () => log.info('waiting for block device', { volumeId, candidates }),
        onTimeout: () => new Error(`volume ${volumeId} is attached but none of ${candidates.join(', ')} appeared within ${this.config.deadlines.deviceSeconds}s`),
      },
    );
  }

  /** The holder's EC2 state and whether it still belongs to this peer's group. */
  private async describeOwner(instanceId: string): Promise<OwnerView> {
    let state = 'gone';
    try {
      const r = await this.call(() => this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })));
      state = r.Reservations?.[0]?.Instances?.[0]?.State?.Name ?? 'gone';
    } catch (error) {
      if ((error as Error).name !== 'InvalidInstanceID.NotFound') throw error;
    }
    const groups = await this.call(() => this.autoscaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] })));
    const membership = groups.AutoScalingInstances?.[0];
    const ourGroup = autoScalingGroupName(this.config.clusterName, this.config.peerIndex);
    const inPeerGroup =
      membership?.AutoScalingGroupName === ourGroup && !/^(Terminat|Detach)/.test(membership.LifecycleState ?? '');
    return { instanceId, state, inPeerGroup };
  }
}

function toView(v: Volume): VolumeView {
  return {
    volumeId: v.VolumeId ?? '',
    zone: v.AvailabilityZone ?? '',
    state: v.State ?? 'unknown',
    attachments: (v.Attachments ?? []).map((a) => ({ instanceId: a.InstanceId ?? '', state: a.State ?? 'unknown' })),
  };
}
