/**
 * Pure decisions of the node agent. Plain data in, a decision out: which
 * volume is this peer's, whether to wait, attach or force-detach, whether to
 * format, whether the mount is right. The adapters (AWS, loop devices) only
 * gather facts and carry decisions out, so both modes share every rule here.
 */
import { CLUSTER_TAG_KEY, PEER_INDEX_TAG_KEY, VOLUME_MARKER_FILE } from '../contract/naming';

/** A volume as the cloud (or the local adapter) describes it. */
export interface VolumeView {
  readonly volumeId: string;
  readonly zone: string;
  /** EC2 volume state: creating, available, in-use, deleting, deleted, error. */
  readonly state: string;
  readonly attachments: readonly { readonly instanceId: string; readonly state: string }[];
}

/** Picks this peer's volume from the candidates found by tag; refuses anything ambiguous. */
export function choosePeerVolume(
  candidates: readonly VolumeView[],
  want: { clusterName: string; peerIndex: number; zone: string },
): { ok: true; volume: VolumeView } | { ok: false; reason: string } {
  const tags = `${CLUSTER_TAG_KEY}=${want.clusterName}, ${PEER_INDEX_TAG_KEY}=${want.peerIndex}`;
  const usable = candidates.filter((v) => v.state !== 'deleting' && v.state !== 'deleted');
  if (usable.length === 0) {
    return { ok: false, reason: `no volume tagged ${tags} exists; the stack creates one per peer: check the cluster name and the peer index` };
  }
  if (usable.length > 1) {
    return {
      ok: false,
      reason: `${usable.length} volumes are tagged ${tags} (${usable.map((v) => `${v.volumeId} in ${v.zone}`).join(', ')}); exactly one must be, remove the tags from the extra ones`,
    };
  }
  const volume = usable[0];
  if (volume.zone !== want.zone) {
    return {
      ok: false,
      reason: `volume ${volume.volumeId} tagged ${tags} is in ${volume.zone} but this instance is in ${want.zone}; peer ${want.peerIndex}'s group must be pinned to ${volume.zone}`,
    };
  }
  if (volume.state === 'error') return { ok: false, reason: `volume ${volume.volumeId} is in state "error"; restore it from a snapshot` };
  return { ok: true, volume };
}

/** What we know about the instance holding the volume. */
export interface OwnerView {
  readonly instanceId: string;
  /** EC2 state name, or `gone` when EC2 no longer knows it. */
  readonly state: string;
  /** Whether it is still a member of this peer's Auto Scaling group. */
  readonly inPeerGroup: boolean;
}

/** The next attach step. */
export type AttachStep =
  | { readonly action: 'attach' }
  | { readonly action: 'done' }
  | { readonly action: 'wait'; readonly reason: string }
  | { readonly action: 'force-detach'; readonly instanceId: string; readonly reason: string }
  | { readonly action: 'fail'; readonly reason: string };

/**
 * Decides the next step towards having the volume attached to `selfId`.
 * Never steals a volume from an instance that is still in this peer's group:
 * force-detach only once a running holder has left the group and the grace
 * period is over.
 */
/** EBS volume states from which a volume never becomes attachable. */
export const UNUSABLE_VOLUME_STATES: readonly string[] = ['error', 'deleting', 'deleted'];

export function decideAttachStep(input: {
  volume: VolumeView;
  selfId: string;
  /** Facts about the other holder, when there is one. */
  owner?: OwnerView;
  /** How long the current holder has been seen holding it. */
  heldForSeconds: number;
  graceSeconds: number;
}): AttachStep {
  const { volume, selfId } = input;
  if (UNUSABLE_VOLUME_STATES.includes(volume.state)) {
    // These states never turn into `available`: waiting would only spend the whole deadline.
    return {
      action: 'fail',
      reason: `volume ${volume.volumeId} is ${volume.state}; EC2 cannot attach it. Replace it with a volume of the same tags (e.g. from its latest EBS snapshot), or remove it so the peer recovers from S3 snapshots`,
    };
  }
  const live = volume.attachments.filter((a) => a.state !== 'detached');
  const mine = live.find((a) => a.instanceId === selfId);
  if (mine) {
    if (mine.state === 'attached') return { action: 'done' };
    if (mine.state === 'attaching') return { action: 'wait', reason: `volume ${volume.volumeId} is attaching to this instance` };
    return { action: 'wait', reason: `volume ${volume.volumeId} is ${mine.state} from this instance; waiting to attach it again` };
  }
  const other = live[0];
  if (!other) {
    if (volume.state === 'available') return { action: 'attach' };
    return { action: 'wait', reason: `volume ${volume.volumeId} is ${volume.state}` };
  }
  if (other.state === 'detaching') {
    return { action: 'wait', reason: `volume ${volume.volumeId} is detaching from ${other.instanceId}` };
  }
  const owner = input.owner;
  if (!owner || owner.instanceId !== other.instanceId) {
    return { action: 'wait', reason: `volume ${volume.volumeId} is attached to ${other.instanceId}; looking it up` };
  }
  if (['shutting-down', 'terminated', 'gone'].includes(owner.state)) {
    // A dying instance releases its volumes by itself; detaching under it could cut its last writes.
    return { action: 'wait', reason: `volume ${volume.volumeId} is held by ${owner.instanceId}, which is ${owner.state}; waiting for EC2 to release it` };
  }
  if (owner.inPeerGroup) {
    return {
      action: 'wait',
      reason: `volume ${volume.volumeId} is attached to ${owner.instanceId} (${owner.state}), which is still in this peer's group; never taken from a live peer`,
    };
  }
  if (input.heldForSeconds < input.graceSeconds) {
    return {
      action: 'wait',
      reason: `volume ${volume.volumeId} is attached to ${owner.instanceId} (${owner.state}, no longer in this peer's group); force-detach after ${input.graceSeconds}s`,
    };
  }
  return {
    action: 'force-detach',
    instanceId: owner.instanceId,
    reason: `${owner.instanceId} is ${owner.state} but left this peer's group and kept the volume for ${Math.round(input.heldForSeconds)}s`,
  };
}

/** What `blkid -p` found on a device. */
export type ProbeResult =
  | { readonly kind: 'empty' }
  | { readonly kind: 'filesystem'; readonly type: string; readonly label?: string; readonly uuid?: string }
  | { readonly kind: 'partition-table'; readonly type: string }
  | { readonly kind: 'other'; readonly type?: string; readonly usage?: string }
  | { readonly kind: 'error'; readonly message: string };

/**
 * Reads `blkid -p -o export DEV`. Exit 2 with no output means no signature
 * at all; exit 0 lists what was found; anything else (8: ambivalent result,
 * several signatures) is an error, never "empty".
 */
export function parseBlkidProbe(exitCode: number, stdout: string, stderr = ''): ProbeResult {
  if (exitCode === 2 && stdout.trim() === '') return { kind: 'empty' };
  if (exitCode !== 0) {
    return { kind: 'error', message: `blkid -p exited with ${exitCode}${exitCode === 8 ? ' (ambivalent: more than one signature)' : ''}: ${stderr.trim() || stdout.trim()}` };
  }
  const fields = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  if (fields.has('PTTYPE')) return { kind: 'partition-table', type: fields.get('PTTYPE')! };
  const type = fields.get('TYPE');
  const usage = fields.get('USAGE');
  if (type && (usage === undefined || usage === 'filesystem')) {
    return { kind: 'filesystem', type, label: fields.get('LABEL'), uuid: fields.get('UUID') };
  }
  if (!type && !usage) return { kind: 'error', message: `blkid -p succeeded but reported no TYPE: ${stdout.trim()}` };
  return { kind: 'other', type, usage };
}

/** Whether to create a filesystem. */
export type FilesystemStep = { readonly action: 'format' } | { readonly action: 'keep' } | { readonly action: 'refuse'; readonly reason: string };

/** Formats only a device with no signature at all; keeps the expected filesystem; refuses everything else. */
export function decideFilesystem(probe: ProbeResult, expectedType: string, device: string): FilesystemStep {
  switch (probe.kind) {
    case 'empty':
      return { action: 'format' };
    case 'filesystem':
      if (probe.type === expectedType) return { action: 'keep' };
      return {
        action: 'refuse',
        reason: `${device} holds a ${probe.type} filesystem, not ${expectedType}; not formatting a volume that holds data. Check that this is the right volume, or set fsType to ${probe.type}`,
      };
    case 'partition-table':
      return { action: 'refuse', reason: `${device} holds a ${probe.type} partition table; not formatting a volume that holds data` };
    case 'other':
      return { action: 'refuse', reason: `${device} holds a ${probe.type ?? 'non-filesystem'} signature (${probe.usage ?? 'unknown usage'}); not formatting it` };
    case 'error':
      return { action: 'refuse', reason: `cannot tell whether ${device} is empty (${probe.message}); not formatting it` };
  }
}

/** One line of /proc/self/mountinfo, reduced to what matters. */
export interface MountEntry {
  readonly mountPoint: string;
  readonly source: string;
  readonly fsType: string;
  /** major:minor of the mounted device. */
  readonly deviceNumber: string;
}

/** Parses /proc/self/mountinfo (octal escapes such as \040 for spaces included). */
export function parseMountInfo(text: string): MountEntry[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(parseInt(octal, 8)));
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [left, right] = line.split(' - ');
    if (!right) continue;
    const l = left.split(' ');
    const r = right.split(' ');
    entries.push({ deviceNumber: l[2], mountPoint: unescape(l[4]), fsType: r[0], source: unescape(r[1]) });
  }
  return entries;
}

/** Whether to mount. */
export type MountStep = { readonly action: 'mount' } | { readonly action: 'already-mounted' } | { readonly action: 'refuse'; readonly reason: string };

/**
 * Decides the mount of `device` (its major:minor `deviceNumber`) at `mountPoint`.
 * Already mounted from this device: fine. Something else mounted there: refuse.
 */
export function decideMount(entries: readonly MountEntry[], device: { path: string; deviceNumber: string }, mountPoint: string): MountStep {
  const atPoint = entries.filter((e) => e.mountPoint === mountPoint);
  const top = atPoint[atPoint.length - 1];
  if (top) {
    if (top.deviceNumber === device.deviceNumber) return { action: 'already-mounted' };
    return { action: 'refuse', reason: `${mountPoint} already has ${top.source} (${top.fsType}) mounted on it, not ${device.path}; unmount it first` };
  }
  const elsewhere = entries.find((e) => e.deviceNumber === device.deviceNumber);
  if (elsewhere) {
    return { action: 'refuse', reason: `${device.path} is already mounted at ${elsewhere.mountPoint}; another process uses this peer's volume` };
  }
  return { action: 'mount' };
}

/** What the data dir holds after mounting. */
export type DataDirState = 'fresh' | 'member' | 'unexpected';

/** Where a restore downloads and unpacks a snapshot, on the volume itself (a snapshot may not fit elsewhere). */
export const RESTORE_WORK_DIR = '.etcd-restore';

/** `member`: etcd data (member/wal or member/snap) is there; `fresh`: nothing but lost+found and the volume's marker; otherwise `unexpected`. */
export function classifyDataDir(topLevel: readonly string[], memberEntries: readonly string[] | undefined): DataDirState {
  // An interrupted restore leaves only its work dir: the member dir is renamed into place last, in one step.
  const rest = topLevel.filter((n) => n !== 'lost+found' && n !== RESTORE_WORK_DIR && n !== VOLUME_MARKER_FILE);
  if (rest.length === 0) return 'fresh';
  if (rest.includes('member') && memberEntries && (memberEntries.includes('wal') || memberEntries.includes('snap'))) return 'member';
  return 'unexpected';
}
