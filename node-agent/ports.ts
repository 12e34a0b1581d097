/** What the boot sequence needs from its surroundings; AWS and local adapters implement these. */
import type { Logger } from '../runtime/log';

/** Who this instance is. */
export interface Identity {
  readonly instanceId: string;
  readonly zone: string;
  readonly privateIp: string;
}

/** An attached volume and the block device it appeared as. */
export interface AttachedVolume {
  readonly volumeId: string;
  readonly device: string;
}

/** Finds and attaches this peer's volume (EBS or a loop device). */
export interface VolumeProvider {
  identify(): Promise<Identity>;
  /** Returns once the volume is attached here and its device node exists; throws with the reason at the deadline. */
  attachPeerVolume(identity: Identity, log: Logger): Promise<AttachedVolume>;
}

/** DNS lookups (the system resolver in both modes). */
export interface NameResolver {
  resolve4(name: string): Promise<string[]>;
}
