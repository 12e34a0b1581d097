/** One simulated EC2 instance playing a peer, as the supervisor tracks it. */
import { ChildProcess } from 'child_process';
import type { ObservedInstance } from '../lambda/reconcile';
import type { Host } from './net';
import type { HandOffOutcome } from '../node-agent/hand-off';

export type InstanceState = 'pending' | 'running' | 'shutting-down' | 'terminated';

/** One instance playing a peer. */
export interface Instance {
  readonly id: string;
  readonly peerIndex: number;
  readonly host: Host;
  readonly launchedAt: number;
  /** Its own directory: agent config and log, etcd config and log, the data dir's mount point. */
  readonly dir: string;
  state: InstanceState;
  etcd?: ChildProcess;
  /** Agent run time (attach → mount → config → own name), from its own report. */
  agentMs?: number;
  /** When etcd was started. */
  etcdStartedAt?: number;
  /** The snapshot its agent restored the data dir from, if it did. */
  restoredFrom?: string;
  /** Joined as a learner: whether the promotion to voting member succeeded (undefined while running or never needed). */
  promoted?: boolean;
  /** A terminate was requested (kill), as opposed to etcd dying on its own. */
  terminating: boolean;
  /** The etcd version it was launched with (its launch template's). */
  readonly etcdVersion: string;
  /** The local launch template version it was launched from (`LocalLaunchTemplate.version`). */
  readonly launchTemplateVersion: number;
  /** What its planned hand-off did, when it was terminated through one. */
  handOff?: HandOffOutcome;
}

/** Whether the instance is, or is about to be, its peer. */
export function isLive(instance: Pick<Instance, 'state'>): boolean {
  return instance.state === 'pending' || instance.state === 'running';
}

/** The instance as EC2's DescribeInstances shows it to the DNS updater. */
export function observed(instance: Instance): ObservedInstance {
  return { instanceId: instance.id, state: instance.state, privateIp: instance.host.ip, launchTime: new Date(instance.launchedAt).toISOString(), peerIndex: instance.peerIndex };
}

/** Something the supervisor did, for the report and the picture. */
export interface ClusterEvent {
  readonly at: number;
  readonly what: string;
}
