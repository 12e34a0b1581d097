/**
 * The DNS updater, run locally: the real Lambda handler (`handleEvent`) on
 * every launch and termination, one invocation at a time as the function's
 * reserved concurrency of 1 runs them on AWS, through an adapter that plays
 * Route 53 with dnsmasq's records and EC2 / Auto Scaling with the
 * supervisor's instances.
 */
import { autoScalingGroupName, ETCD_CLIENT_PORT, ETCD_PEER_PORT, peerFqdn, peerIndexOfGroup, peerIndices, PLACEHOLDER_ADDRESS, srvNames } from '../contract/naming';
import { AUTO_SCALING_DETAIL_TYPES, AUTO_SCALING_SOURCE, LAUNCH_HOOK_NAME, LAUNCH_TRANSITION } from '../contract/events';
import { LifecycleAction } from '../lambda/events';
import { handleEvent, UpdaterSettings } from '../lambda/index';
import { RecordChangeRejected, UpdaterPort } from '../lambda/port';
import { ObservedInstance, ObservedRecord } from '../lambda/reconcile';
import { jsonLogger, Logger } from '../runtime/log';
import { sleep } from '../runtime/retry';
import { DnsmasqServer } from './dns';

/**
 * The cluster's private zone, served by dnsmasq on `listen` (each zone's gateway): the SRV records of every
 * peer, and each peer's A record at the placeholder address until the DNS updater writes it. etcd 3.4
 * completes SRV discovery only through the -ssl names, so the local cluster runs TLS.
 */
export async function startPrivateZone(dir: string, domain: string, peerCount: number, listen: string[]): Promise<DnsmasqServer> {
  const names = srvNames(domain, true);
  const targets = peerIndices(peerCount).map((i) => peerFqdn(domain, i));
  const dns = new DnsmasqServer(dir, domain, listen, [
    { name: names.server, port: ETCD_PEER_PORT, targets },
    { name: names.client, port: ETCD_CLIENT_PORT, targets },
  ]);
  await dns.start(new Map(targets.map((t) => [t, PLACEHOLDER_ADDRESS])));
  return dns;
}

/** What the adapter reads from the local cluster. */
export interface LocalWorld {
  /** dnsmasq, once it runs. */
  readonly dns: () => DnsmasqServer;
  /** Every instance launched so far, in the terms EC2 describes them. */
  readonly instances: () => ObservedInstance[];
  /** Progress lines for a person watching. */
  readonly progress: (line: string) => void;
}

/** The real DNS updater against the local Route 53, EC2 and Auto Scaling. */
export class LocalDnsUpdater {
  /** Instances whose launch lifecycle action the DNS updater completed. */
  readonly lifecycleCompleted = new Set<string>();
  private runs: Promise<unknown> = Promise.resolve();
  private readonly log: Logger = jsonLogger({ component: 'local-dns-updater' }, () => undefined);

  constructor(
    private readonly settings: UpdaterSettings,
    private readonly world: LocalWorld,
  ) {}

  /** The launch lifecycle action of `instanceId` in peer `peerIndex`'s group, as EventBridge delivers it. */
  launched(peerIndex: number, instanceId: string): Promise<void> {
    return this.invoke({
      'detail-type': AUTO_SCALING_DETAIL_TYPES.launchLifecycleAction,
      source: AUTO_SCALING_SOURCE,
      detail: {
        AutoScalingGroupName: autoScalingGroupName(this.settings.clusterName, peerIndex),
        LifecycleHookName: LAUNCH_HOOK_NAME,
        LifecycleActionToken: `token-${instanceId}`,
        EC2InstanceId: instanceId,
        LifecycleTransition: LAUNCH_TRANSITION,
      },
    });
  }

  /** The termination of `instanceId` in peer `peerIndex`'s group. */
  terminated(peerIndex: number, instanceId: string): Promise<void> {
    return this.invoke({
      'detail-type': AUTO_SCALING_DETAIL_TYPES.terminateSuccessful,
      source: AUTO_SCALING_SOURCE,
      detail: { AutoScalingGroupName: autoScalingGroupName(this.settings.clusterName, peerIndex), EC2InstanceId: instanceId },
    });
  }

  private async invoke(event: unknown): Promise<void> {
    try {
      await this.invokeOnce(event);
    } catch (error) {
      // As on AWS: a failed invocation is retried; the scheduled reconcile catches what is left.
      this.world.progress(`dns updater failed once (${(error as Error).message}); retrying`);
      await sleep(300);
      await this.invokeOnce(event).catch((e) => this.world.progress(`dns updater failed again: ${(e as Error).message}`));
    }
  }

  /** One invocation at a time, as the function's reserved concurrency of 1 runs them on AWS. */
  private invokeOnce(event: unknown): Promise<unknown> {
    const next = this.runs.then(() => handleEvent(event, this.settings, this.port(), this.log));
    this.runs = next.catch(() => undefined);
    return next;
  }

  /** Route 53, EC2 and Auto Scaling as the DNS updater sees them, backed by the supervisor and dnsmasq. */
  port(): UpdaterPort {
    return {
      describePeerInstances: async (scope) => {
        const index = 'groupName' in scope ? peerIndexOfGroup(this.settings.clusterName, scope.groupName) : undefined;
        return this.world.instances().filter((i) => index === undefined || i.peerIndex === index);
      },
      readPeerRecords: async (fqdn) => {
        const out = new Map<string, ObservedRecord>();
        for (const [name, ip] of this.world.dns().readRecords()) if (!fqdn || name === fqdn) out.set(name, { values: [ip], ttl: this.settings.recordTtl });
        return out;
      },
      writePeerRecords: async (writes) => {
        // Conditional like Route 53's DELETE + CREATE batch; exact because invocations run one at a time.
        const now = this.world.dns().readRecords();
        const changed = writes.filter((w) => now.get(w.fqdn) !== w.expected?.values[0]);
        if (changed.length > 0) throw new RecordChangeRejected(`${changed.map((w) => w.fqdn).join(', ')} changed since it was read`);
        await this.world.dns().setRecords(new Map(writes.map((w) => [w.fqdn, w.ip])));
      },
      completeLifecycleAction: async (action: LifecycleAction) => {
        if (this.lifecycleCompleted.has(action.instanceId)) return 'not-needed';
        this.lifecycleCompleted.add(action.instanceId);
        return 'completed';
      },
    };
  }
}
