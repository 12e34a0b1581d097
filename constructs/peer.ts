import { Construct } from 'constructs';
import { ITerraformDependable } from 'cdktf';
import { AutoscalingGroup } from '@cdktf/provider-aws/lib/autoscaling-group';
import { EbsVolume } from '@cdktf/provider-aws/lib/ebs-volume';
import { LaunchTemplate } from '@cdktf/provider-aws/lib/launch-template';
import { base64WithReferences } from './terraform-strings';
import { LAUNCH_HOOK_NAME, LAUNCH_TRANSITION, TERMINATE_HOOK_NAME, TERMINATE_TRANSITION } from '../contract/events';
import { autoScalingGroupName, peerName, peerTags, ROLL_GENERATION_TAG_KEY } from '../contract/naming';
import { DEFAULT_HAND_OFF_TIMEOUT_SECONDS } from '../contract/agent-config';

/** gp3 limits (EC2 CreateVolume): size 1–65,536 GiB, 3,000–80,000 IOPS, 125–2,000 MiB/s, ≤ 500 IOPS/GiB, ≤ 0.25 MiB/s per IOPS. */
export const GP3_LIMITS = {
  minSizeGiB: 1,
  maxSizeGiB: 65536,
  minIops: 3000,
  maxIops: 80000,
  maxIopsPerGiB: 500,
  minThroughput: 125,
  maxThroughput: 2000,
  maxThroughputPerIops: 0.25,
} as const;

/** The persistent volume of a peer. */
export interface PeerVolumeOptions {
  /**
   * Size in GiB. In an `EtcdCluster` the database quota is derived from it (`database.quotaBackendBytes`): the
   * volume holds the database twice, the WAL and the filesystem's share; 20 GiB holds etcd's suggested maximum of 8 GiB.
   * @default 20
   */
  readonly sizeGiB?: number;
  /**
   * Provisioned IOPS (gp3: 3,000 to 80,000, at most 500 per GiB).
   * @default 3000
   */
  readonly iops?: number;
  /**
   * Provisioned throughput in MiB/s (gp3: 125 to 2,000, at most IOPS / 4).
   * @default 125
   */
  readonly throughputMiBps?: number;
  /**
   * KMS key that encrypts the volume (a key ARN). The peers' role may use it to attach the volume;
   * its key policy must let this account's IAM policies grant that.
   * @default - in an `EtcdCluster`, the cluster's key (`kmsKeyArn`); an `EtcdPeer` on its own: the account's default EBS key (`aws/ebs`)
   */
  readonly kmsKeyArn?: string;
  /**
   * Keep volumes when the stack is destroyed: Terraform refuses to plan their
   * destruction (`lifecycle.prevent_destroy`). Set to `false` only for
   * disposable clusters; the data of every peer is on these volumes.
   * @default true
   */
  readonly retainOnDestroy?: boolean;
}

/** Props of {@link EtcdPeer}. */
export interface EtcdPeerProps {
  /** Name of the cluster, in names and tags. */
  readonly clusterName: string;
  /** Index N of the peer (`peer-N`). */
  readonly peerIndex: number;
  /** Availability zone of the peer and its volume. */
  readonly zone: string;
  /** Private subnet in `zone`. */
  readonly subnetId: string;
  /** Security group of the peers. */
  readonly securityGroupId: string;
  /** Instance profile of this peer's instances. */
  readonly instanceProfileArn: string;
  /** AMI of the instances. */
  readonly imageId: string;
  /** EC2 instance type. */
  readonly instanceType: string;
  /** Boot script (plain text; base64-encoded here). */
  readonly userData: string;
  /** The volume's size, performance, encryption and retention. See {@link PeerVolumeOptions} for defaults. */
  readonly volume?: PeerVolumeOptions;
  /**
   * Seconds a new instance waits in `Pending:Wait` for the DNS updater before the group continues anyway.
   * @default 300
   */
  readonly launchHookTimeoutSeconds?: number;
  /**
   * Seconds a terminating instance waits in `Terminating:Wait` for its planned hand-off (move leadership away, stop
   * etcd, unmount, detach the volume) before the group terminates it anyway. 30 to 7,200 (Auto Scaling's limits).
   * @default 180
   */
  readonly handOffTimeoutSeconds?: number;
  /**
   * Written as an instance tag into the launch template when above 0, so raising it makes every running
   * instance out of date and the roller replaces them all (see `RollingOptions.generation`).
   * @default 0
   */
  readonly rollGeneration?: number;
  /**
   * Seconds after launch before EC2 health checks count: covers attach, mount and the DNS wait.
   * @default 600
   */
  readonly healthCheckGracePeriodSeconds?: number;
  /** Resources that must exist before the group launches its first instance (the DNS updater's event wiring). */
  readonly dependsOn?: ITerraformDependable[];
}

/**
 * One etcd peer: its persistent volume in its zone, a launch template whose
 * user data carries the peer's identity, and an Auto Scaling group of exactly
 * one instance pinned to that zone. Instances are fungible; the identity and
 * the data stay with the name and the volume.
 */
export class EtcdPeer extends Construct {
  /** The peer's persistent EBS volume. */
  public readonly volume: EbsVolume;
  /** The launch template of the peer's instances. */
  public readonly launchTemplate: LaunchTemplate;
  /** The Auto Scaling group of exactly one instance. */
  public readonly group: AutoscalingGroup;

  constructor(scope: Construct, id: string, props: EtcdPeerProps) {
    super(scope, id);
    const v = resolveVolumeOptions(props.volume);
    const launchHookTimeoutSeconds = props.launchHookTimeoutSeconds ?? 300;
    if (!Number.isInteger(launchHookTimeoutSeconds) || launchHookTimeoutSeconds < 30 || launchHookTimeoutSeconds > 7200) {
      throw new Error(`launchHookTimeoutSeconds must be a whole number from 30 to 7200 (Auto Scaling's heartbeat limits), got ${launchHookTimeoutSeconds}`);
    }
    const healthCheckGracePeriodSeconds = props.healthCheckGracePeriodSeconds ?? 600;
    if (!Number.isInteger(healthCheckGracePeriodSeconds) || healthCheckGracePeriodSeconds < 0) {
      throw new Error(`healthCheckGracePeriodSeconds must be a whole number of seconds, 0 or more, got ${healthCheckGracePeriodSeconds}`);
    }
    const handOffTimeoutSeconds = props.handOffTimeoutSeconds ?? DEFAULT_HAND_OFF_TIMEOUT_SECONDS;
    if (!Number.isInteger(handOffTimeoutSeconds) || handOffTimeoutSeconds < 30 || handOffTimeoutSeconds > 7200) {
      throw new Error(`handOffTimeoutSeconds must be a whole number from 30 to 7200 (Auto Scaling's heartbeat limits), got ${handOffTimeoutSeconds}`);
    }
    const name = peerName(props.peerIndex);
    const tags = { ...peerTags(props.clusterName, props.peerIndex), Name: `${props.clusterName}-${name}` };

    this.volume = new EbsVolume(this, 'volume', {
      availabilityZone: props.zone,
      size: v.sizeGiB,
      type: 'gp3',
      iops: v.iops,
      throughput: v.throughputMiBps,
      encrypted: true,
      kmsKeyId: v.kmsKeyArn,
      tags,
      lifecycle: { preventDestroy: v.retainOnDestroy },
    });

    this.launchTemplate = new LaunchTemplate(this, 'launch-template', {
      namePrefix: `${props.clusterName}-${name}-`,
      description: `etcd ${name} of ${props.clusterName} in ${props.zone}`,
      imageId: props.imageId,
      instanceType: props.instanceType,
      updateDefaultVersion: true,
      iamInstanceProfile: { arn: props.instanceProfileArn },
      metadataOptions: {
        httpEndpoint: 'enabled',
        httpTokens: 'required',
        httpPutResponseHopLimit: 1,
      },
      networkInterfaces: [
        {
          deviceIndex: 0,
          associatePublicIpAddress: 'false',
          deleteOnTermination: 'true',
          securityGroups: [props.securityGroupId],
        },
      ],
      blockDeviceMappings: [
        {
          deviceName: '/dev/xvda',
          ebs: { volumeType: 'gp3', volumeSize: 20, encrypted: 'true', deleteOnTermination: 'true' },
        },
      ],
      userData: base64WithReferences(props.userData),
      tagSpecifications: [
        { resourceType: 'instance', tags: props.rollGeneration ? { ...tags, [ROLL_GENERATION_TAG_KEY]: String(props.rollGeneration) } : tags },
        { resourceType: 'volume', tags: { ...tags, Name: `${props.clusterName}-${name}-root` } },
      ],
      tags,
    });

    this.group = new AutoscalingGroup(this, 'group', {
      name: autoScalingGroupName(props.clusterName, props.peerIndex),
      minSize: 1,
      maxSize: 1,
      desiredCapacity: 1,
      vpcZoneIdentifier: [props.subnetId],
      launchTemplate: { id: this.launchTemplate.id, version: this.launchTemplate.latestVersion.toString() },
      healthCheckType: 'EC2',
      healthCheckGracePeriod: healthCheckGracePeriodSeconds,
      // Terminate before launching: the old instance must let go of the volume before the new one can attach it.
      instanceMaintenancePolicy: { minHealthyPercentage: 0, maxHealthyPercentage: 100 },
      capacityRebalance: false,
      // The lifecycle hook and the agent hold new instances; Terraform must not wait on them.
      waitForCapacityTimeout: '0',
      initialLifecycleHook: [
        {
          name: LAUNCH_HOOK_NAME,
          lifecycleTransition: LAUNCH_TRANSITION,
          // CONTINUE, not ABANDON: if the DNS updater is down, the instance still boots and the
          // scheduled reconcile fixes the record; the agent keeps etcd down until its name resolves to it.
          defaultResult: 'CONTINUE',
          heartbeatTimeout: launchHookTimeoutSeconds,
        },
        {
          name: TERMINATE_HOOK_NAME,
          lifecycleTransition: TERMINATE_TRANSITION,
          // The agent's hand-off completes it; without one (a crash, a broken agent) the timeout lets the termination go on.
          defaultResult: 'CONTINUE',
          heartbeatTimeout: handOffTimeoutSeconds,
        },
      ],
      // No instance_refresh: a refresh would replace peers by percentages, not by quorum. The roller
      // (see the README's "Rolling a change") replaces one peer at a time, the leader last.
      tag: Object.entries(tags).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
      dependsOn: props.dependsOn,
    });
  }
}

/** Applies defaults and checks gp3 limits; errors name the prop and the allowed range. */
export function resolveVolumeOptions(options: PeerVolumeOptions = {}): Required<Omit<PeerVolumeOptions, 'kmsKeyArn'>> & { kmsKeyArn?: string } {
  const sizeGiB = options.sizeGiB ?? 20;
  const iops = options.iops ?? 3000;
  const throughputMiBps = options.throughputMiBps ?? 125;
  const L = GP3_LIMITS;
  if (!Number.isInteger(sizeGiB) || sizeGiB < L.minSizeGiB || sizeGiB > L.maxSizeGiB) {
    throw new Error(`volume.sizeGiB must be a whole number from ${L.minSizeGiB} to ${L.maxSizeGiB} GiB (gp3), got ${sizeGiB}`);
  }
  if (!Number.isInteger(iops) || iops < L.minIops || iops > L.maxIops) {
    throw new Error(`volume.iops must be a whole number from ${L.minIops} to ${L.maxIops} (gp3), got ${iops}`);
  }
  if (iops > 3000 && iops > sizeGiB * L.maxIopsPerGiB) {
    throw new Error(
      `volume.iops ${iops} exceeds gp3's ${L.maxIopsPerGiB} IOPS per GiB for ${sizeGiB} GiB (at most ${sizeGiB * L.maxIopsPerGiB}): ` +
        `raise volume.sizeGiB to at least ${Math.ceil(iops / L.maxIopsPerGiB)} or lower volume.iops`,
    );
  }
  if (!Number.isInteger(throughputMiBps) || throughputMiBps < L.minThroughput || throughputMiBps > L.maxThroughput) {
    throw new Error(`volume.throughputMiBps must be a whole number from ${L.minThroughput} to ${L.maxThroughput} MiB/s (gp3), got ${throughputMiBps}`);
  }
  if (throughputMiBps > 125 && throughputMiBps > iops * L.maxThroughputPerIops) {
    throw new Error(
      `volume.throughputMiBps ${throughputMiBps} exceeds gp3's ${L.maxThroughputPerIops} MiB/s per IOPS at ${iops} IOPS: ` +
        `raise volume.iops to at least ${Math.ceil(throughputMiBps / L.maxThroughputPerIops)} or lower volume.throughputMiBps`,
    );
  }
  return { sizeGiB, iops, throughputMiBps, kmsKeyArn: options.kmsKeyArn, retainOnDestroy: options.retainOnDestroy ?? true };
}
