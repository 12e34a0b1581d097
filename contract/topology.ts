/**
 * Pure arithmetic of the count-and-modulo layout: which peer lives where and
 * what failures the cluster survives. No cdktf here, so the Lambda, the agent
 * and the simulation can import it too. The size and zone checks live here
 * so the local cluster's CLI refuses the same topologies as the construct.
 */
import { peerIndices, peerName, zoneIndexOf } from './naming';

/** Votes needed for a decision in a cluster of `size` members. */
export function quorumOf(size: number): number {
  return Math.floor(size / 2) + 1;
}

/** How many members may be down at once while the rest keep quorum. */
export function faultToleranceOf(size: number): number {
  return size - quorumOf(size);
}

/** Peers in the fullest zone: `ceil(size / zones)` under count-and-modulo. */
export function largestZonePeerCount(size: number, zoneCount: number): number {
  return Math.ceil(size / zoneCount);
}

/** Where one peer sits. */
export interface PeerPlacement {
  readonly index: number;
  readonly name: string;
  readonly zoneIndex: number;
}

/** The placement of every peer: peer i in zone i mod Z. */
export function placePeers(size: number, zoneCount: number): PeerPlacement[] {
  return peerIndices(size).map((index) => ({
    index,
    name: peerName(index),
    zoneIndex: zoneIndexOf(index, zoneCount),
  }));
}

/** What a given size and zone count survive, stated as numbers. */
export interface FailureBudget {
  readonly quorum: number;
  /** Members that may be down at once. */
  readonly faultTolerance: number;
  /** Peers lost when the fullest zone goes down. */
  readonly largestZone: number;
  /** True when the cluster keeps quorum without its fullest zone. */
  readonly survivesZoneLoss: boolean;
  /** Extra single-node failures survivable on top of losing the fullest zone (negative: zone loss alone is fatal). */
  readonly extraNodesAfterZoneLoss: number;
}

/** Computes the failure budget of `size` peers over `zoneCount` zones. */
export function failureBudget(size: number, zoneCount: number): FailureBudget {
  const quorum = quorumOf(size);
  const largestZone = largestZonePeerCount(size, zoneCount);
  const extra = size - largestZone - quorum;
  return {
    quorum,
    faultTolerance: size - quorum,
    largestZone,
    survivesZoneLoss: extra >= 0,
    extraNodesAfterZoneLoss: extra,
  };
}

/**
 * Explains, with the arithmetic, why a size cannot survive one zone's loss;
 * `undefined` when it can.
 */
export function zoneLossProblem(size: number, zoneCount: number): string | undefined {
  const b = failureBudget(size, zoneCount);
  if (b.survivesZoneLoss) return undefined;
  return (
    `${size} peers over ${zoneCount} zones put ${b.largestZone} peers in the fullest zone; ` +
    `losing it leaves ${size - b.largestZone}, fewer than the quorum of ${b.quorum}`
  );
}

/** Size must be odd and at least 3; zones at least 3, distinct, and the layout must survive a zone's loss. */
export function validateSizeAndZones(size: number, zones: string[]): void {
  if (!Number.isInteger(size) || size < 3) {
    throw new Error(`size must be a whole number of at least 3 peers (got ${size}): fewer peers cannot lose any member and keep quorum`);
  }
  if (size % 2 === 0) {
    throw new Error(
      `size ${size} is even: an even cluster tolerates no more failures than size ${size - 1} but needs one more vote; use ${size - 1} or ${size + 1}`,
    );
  }
  if (!Array.isArray(zones) || zones.length < 3) {
    throw new Error(
      `zones lists ${zones?.length ?? 0} zone(s); at least 3 are needed so the cluster survives the loss of one zone (e.g. ["us-east-1a", "us-east-1b", "us-east-1c"])`,
    );
  }
  if (new Set(zones).size !== zones.length) {
    throw new Error(`zones lists a zone twice (${zones.join(', ')}): each entry must be a different availability zone`);
  }
  if (zones.length > size) {
    throw new Error(`zones has ${zones.length} zones for ${size} peers: zones beyond the ${size}th would hold no peer; pass at most ${size} zones`);
  }
  const problem = zoneLossProblem(size, zones.length);
  if (problem) throw new Error(`size ${size} cannot survive the loss of one zone: ${problem}; add peers or zones`);
}
