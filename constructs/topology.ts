/**
 * Pure arithmetic of the count-and-modulo layout: which peer lives where and
 * what failures the cluster survives. No cdktf here, so the Lambda, the agent
 * and the simulation can import it too.
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
