/**
 * Pure decisions about a volume's identity: whether a device without any
 * signature is really blank (so that formatting it loses nothing), and whose
 * volume a filesystem is (its label and the marker file at its root, written
 * right after mkfs). The adapters in volume.ts and volume-io.ts read the bytes,
 * the label and the marker; every rule about what they mean lives here.
 */
import { VOLUME_MARKER_FILE, volumeLabel } from '../contract/naming';

const MiB = 1024 * 1024;

/**
 * How much of a signature-free device is read before it may be formatted.
 * Up to `fullReadUpToBytes` every byte; above, the head and the tail, plus
 * `sampleBytes` at every `sampleEveryBytes` boundary. The boundaries fall on
 * ext4's block groups (128 MiB with 4 KiB blocks: backup superblocks, bitmaps)
 * and on xfs allocation groups of sizes that are multiples of 128 MiB, and the
 * head holds every filesystem's primary metadata: a filesystem whose signature
 * was wiped, or whose first MiB was overwritten, still shows non-zero bytes there.
 */
export const BLANK_CHECK = {
  fullReadUpToBytes: 1024 * MiB,
  headBytes: 8 * MiB,
  tailBytes: 8 * MiB,
  sampleEveryBytes: 128 * MiB,
  sampleBytes: 1 * MiB,
} as const;

/** A byte range of a device: `length` bytes from `offset`. */
export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

/** The ranges to read, sorted and merged, all within `[0, sizeBytes)` (see {@link BLANK_CHECK}). */
export function blankReadPlan(sizeBytes: number, rule: typeof BLANK_CHECK = BLANK_CHECK): ByteRange[] {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) return [];
  if (sizeBytes <= rule.fullReadUpToBytes) return [{ offset: 0, length: sizeBytes }];
  const wanted: ByteRange[] = [{ offset: 0, length: rule.headBytes }];
  for (let at = rule.sampleEveryBytes; at < sizeBytes; at += rule.sampleEveryBytes) wanted.push({ offset: at, length: rule.sampleBytes });
  wanted.push({ offset: sizeBytes - rule.tailBytes, length: rule.tailBytes });
  const merged: { offset: number; end: number }[] = [];
  for (const r of wanted.map((w) => ({ offset: Math.max(0, w.offset), end: Math.min(sizeBytes, w.offset + w.length) })).sort((a, b) => a.offset - b.offset)) {
    const last = merged[merged.length - 1];
    if (last && r.offset <= last.end) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  return merged.map((m) => ({ offset: m.offset, length: m.end - m.offset }));
}

/** What reading a device along its plan found. */
export interface BlankRead {
  readonly sizeBytes: number;
  /** Bytes the plan asked for. */
  readonly plannedBytes: number;
  /** Bytes actually read (short when the device ended early or a read failed). */
  readonly bytesRead: number;
  /** Offset of the first byte read that is not zero; absent when every byte read was zero. */
  readonly firstNonZeroOffset?: number;
}

/** Whether a device with no signature may be formatted. */
export type BlankStep = { readonly action: 'format' } | { readonly action: 'refuse'; readonly reason: string };

/** Formats only a device whose every byte read along the plan is zero, and only if the whole plan was read. */
export function decideBlank(read: BlankRead, device: string): BlankStep {
  if (read.sizeBytes <= 0) return { action: 'refuse', reason: `${device} reports a size of ${read.sizeBytes} bytes; not formatting it` };
  if (read.firstNonZeroOffset !== undefined) {
    return {
      action: 'refuse',
      reason:
        `${device} has no filesystem signature but is not blank (byte ${read.firstNonZeroOffset} is not zero): ` +
        'a filesystem whose signature was wiped or whose start was overwritten, or other data; not formatting it. ' +
        'If the volume holds nothing of value, replace it with a new volume (or zero it yourself), then boot again',
    };
  }
  if (read.bytesRead < read.plannedBytes) {
    return { action: 'refuse', reason: `${device}: read ${read.bytesRead} of the ${read.plannedBytes} bytes the blank check needs; cannot tell whether it is blank, not formatting it` };
  }
  return { action: 'format' };
}

/**
 * A device with no signature that the agent recorded formatting (`formattedAt`,
 * kept outside the volume: an EBS tag, or a file beside a loop device's file)
 * lost its filesystem: it was wiped or damaged, never new. Refuse it whatever
 * its bytes read; `where` names the record an operator would remove.
 */
export function decideFormatRecord(formattedAt: string | undefined, device: string, where: string): BlankStep {
  if (formattedAt === undefined) return { action: 'format' };
  return {
    action: 'refuse',
    reason:
      `${device} has no filesystem, but the agent created one on this volume at ${formattedAt} (${where}): ` +
      'its filesystem was wiped or damaged; not formatting it. Restore the volume from a snapshot, or, if its data is not needed, ' +
      `replace it with a new volume (or remove ${where}), then boot again`,
  };
}

/** Who a volume belongs to: the cluster (by name and token) and the peer. */
export interface VolumeOwner {
  readonly clusterName: string;
  readonly clusterToken: string;
  readonly peerIndex: number;
}

/** The marker file at the root of a volume, written right after mkfs. */
export interface VolumeMarker extends VolumeOwner {
  readonly createdAt: string;
}

/** What the marker file of a volume holds. */
export type MarkerRead =
  | { readonly kind: 'absent' }
  | { readonly kind: 'marker'; readonly marker: VolumeMarker }
  | { readonly kind: 'invalid'; readonly problem: string };

/** The marker's text: one JSON object, one line. */
export function renderVolumeMarker(owner: VolumeOwner, createdAt: Date): string {
  const marker: VolumeMarker = { clusterName: owner.clusterName, clusterToken: owner.clusterToken, peerIndex: owner.peerIndex, createdAt: createdAt.toISOString() };
  return JSON.stringify(marker) + '\n';
}

/** Reads a marker file's text; anything that is not a complete marker is `invalid`, never `absent`. */
export function parseVolumeMarker(text: string): MarkerRead {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { kind: 'invalid', problem: `${VOLUME_MARKER_FILE} is not JSON (${(error as Error).message})` };
  }
  const m = raw as Record<string, unknown>;
  if (typeof m !== 'object' || m === null) return { kind: 'invalid', problem: `${VOLUME_MARKER_FILE} is not a JSON object` };
  const missing = ['clusterName', 'clusterToken', 'createdAt'].filter((k) => typeof m[k] !== 'string' || m[k] === '');
  if (!Number.isInteger(m.peerIndex) || (m.peerIndex as number) < 0) missing.push('peerIndex');
  if (missing.length) return { kind: 'invalid', problem: `${VOLUME_MARKER_FILE} lacks ${missing.join(', ')}` };
  return { kind: 'marker', marker: { clusterName: m.clusterName as string, clusterToken: m.clusterToken as string, peerIndex: m.peerIndex as number, createdAt: m.createdAt as string } };
}

/** What was found on a filesystem: its label (`blkid`) and its marker file. */
export interface FoundIdentity {
  readonly label?: string;
  readonly marker: MarkerRead;
}

/** Whether etcd may use this filesystem. `adopt`: ours by its label, from before markers; write the marker. */
export type IdentityStep = { readonly action: 'accept' } | { readonly action: 'adopt' } | { readonly action: 'refuse'; readonly reason: string };

const describeOwner = (o: VolumeOwner) => `peer ${o.peerIndex} of cluster ${o.clusterName} (token ${o.clusterToken})`;

/**
 * Decides whether a filesystem is this peer's. The marker, when present, must
 * name this cluster (name and token) and this peer; the label must be
 * `etcd-N` for this peer. A label of this peer with no marker is a volume from
 * before markers: adopt it. Every refusal names both identities.
 */
export function decideVolumeIdentity(found: FoundIdentity, want: VolumeOwner, device: string): IdentityStep {
  const wantLabel = volumeLabel(want.peerIndex);
  const refuse = (what: string): IdentityStep => ({
    action: 'refuse',
    reason: `${device} ${what}, but this is ${describeOwner(want)}; not using it and leaving it untouched. Check the volume's tags and which instance it is attached to`,
  });
  if (found.marker.kind === 'invalid') return refuse(`has a marker this agent cannot read (${found.marker.problem})`);
  if (found.marker.kind === 'marker') {
    const m = found.marker.marker;
    if (m.clusterName !== want.clusterName || m.clusterToken !== want.clusterToken) return refuse(`belongs to another cluster: its marker says ${describeOwner(m)}, created ${m.createdAt}`);
    if (m.peerIndex !== want.peerIndex) return refuse(`belongs to another peer: its marker says ${describeOwner(m)}, created ${m.createdAt}`);
  }
  if (found.label !== wantLabel) {
    const other = /^etcd-(\d+)$/.exec(found.label ?? '');
    if (other) return refuse(`is labelled ${found.label}: peer ${other[1]}'s volume, not ${wantLabel}`);
    return refuse(found.label ? `is labelled "${found.label}", not ${wantLabel}` : `has no filesystem label, not ${wantLabel}`);
  }
  return found.marker.kind === 'absent' ? { action: 'adopt' } : { action: 'accept' };
}
