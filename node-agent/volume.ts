/**
 * Boot steps 5–6: the attached device becomes the mounted data dir of this
 * peer. The rules live in decisions.ts (signatures, mounts) and
 * volume-identity.ts (blank or not, whose volume); this module reads the
 * facts and carries the decisions out.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import type { Logger } from '../runtime/log';
import { VOLUME_MARKER_FILE, volumeLabel } from '../contract/naming';
import { classifyDataDir, DataDirState, decideFilesystem, decideMount } from './decisions';
import { AgentRefusal, step, VolumeRefusal } from './step';
import {
  createFilesystem,
  deviceNumberOf,
  deviceSizeBytes,
  mountDevice,
  ownDataDir,
  probeDevice,
  readForZeros,
  readMountTable,
  withReadOnlyMount,
} from './system';
import type { FormatRecord } from './ports';
import { blankReadPlan, BlankRead, decideBlank, decideFormatRecord, decideVolumeIdentity, FoundIdentity, MarkerRead, parseVolumeMarker, renderVolumeMarker, VolumeOwner } from './volume-identity';

/** Inputs of {@link prepareVolume}. */
export interface PrepareVolumeInput {
  readonly device: string;
  readonly mountPoint: string;
  readonly fsType: 'ext4' | 'xfs';
  /** User that must own the mounted data dir; `undefined` leaves ownership alone. */
  readonly owner?: string;
  /** Whose volume this must be; a filesystem this call creates is labelled and marked for it. */
  readonly identity: VolumeOwner;
  /** Where the volume's "formatted" record lives outside it; without one (a bare device), only the volume itself is checked. */
  readonly formatRecord?: FormatRecord;
}

/** What {@link prepareVolume} did. */
export interface PreparedVolume {
  readonly formatted: boolean;
  readonly alreadyMounted: boolean;
  /** The marker was written to a volume of this peer from before markers. */
  readonly adopted: boolean;
  readonly dataDir: DataDirState;
}

/**
 * Steps 5–6: probe; format only a device with no signature whose bytes read
 * as zeros, then label and mark it for this peer; otherwise check, before
 * writing anything, that the filesystem is this peer's of this cluster; mount
 * at the data dir (idempotent), hand it to the etcd user, and verify the mount
 * table before returning. Every refusal leaves the device as it was.
 */
export async function prepareVolume(input: PrepareVolumeInput, log: Logger): Promise<PreparedVolume> {
  const { device, mountPoint, fsType, identity } = input;
  const deviceNumber = await deviceNumberOf(device);
  const before = decideMount(await readMountTable(), { path: device, deviceNumber }, mountPoint);
  if (before.action === 'refuse') throw new AgentRefusal(before.reason);

  let formatted = false;
  let adopt = false;
  if (before.action === 'mount') {
    const probe = await step(log, 'probe-filesystem', () => probeDevice(device), (p) => ({ device, probe: p }));
    const decision = decideFilesystem(probe, fsType, device);
    if (decision.action === 'refuse') throw new VolumeRefusal(decision.reason);
    if (decision.action === 'format') {
      // A volume this agent formatted before is never new, whatever it reads like now.
      const record = input.formatRecord;
      if (record) {
        const formattedAt = await step(log, 'read-format-record', () => record.read(), (at) => ({ where: record.where, formattedAt: at ?? null }));
        const recorded = decideFormatRecord(formattedAt, device, record.where);
        if (recorded.action === 'refuse') throw new VolumeRefusal(recorded.reason);
      }
      // No signature is not enough: a wiped signature or an overwritten start leaves the data behind it.
      const read = await step(log, 'check-blank', () => readBlank(device), (r) => ({ device, ...r }));
      const blank = decideBlank(read, device);
      if (blank.action === 'refuse') throw new VolumeRefusal(blank.reason);
      // Probe again right before writing: a volume that gained a signature in between is not ours to format.
      const again = decideFilesystem(await probeDevice(device), fsType, device);
      if (again.action !== 'format') throw new VolumeRefusal(`${device} changed while being prepared; not formatting it`);
      const label = volumeLabel(identity.peerIndex);
      await step(log, 'create-filesystem', () => createFilesystem(device, fsType, label), () => ({ device, fsType, label }));
      formatted = true;
      if (record) await step(log, 'record-formatted', () => record.write(new Date()), () => ({ where: record.where }));
    } else {
      // Whose filesystem this is, read before anything writes to it (a read-only mount without journal replay).
      const label = probe.kind === 'filesystem' ? probe.label : undefined;
      const found = await step(log, 'check-identity', () => withReadOnlyMount(device, fsType, async (dir) => ({ label, marker: await readVolumeMarker(dir) })), describeFound);
      const verdict = decideVolumeIdentity(found, identity, device);
      if (verdict.action === 'refuse') throw new VolumeRefusal(verdict.reason);
      adopt = verdict.action === 'adopt';
    }
    await step(log, 'mount', () => mountDevice(device, mountPoint, fsType), () => ({ device, mountPoint }));
  } else {
    log.info('step mount skipped', { step: 'mount', device, mountPoint, reason: 'already mounted from this device' });
    const found = await step(log, 'check-identity', () => readMountedIdentity(mountPoint), describeFound);
    const verdict = decideVolumeIdentity(found, identity, device);
    if (verdict.action === 'refuse') throw new VolumeRefusal(verdict.reason);
    adopt = verdict.action === 'adopt';
  }

  const after = decideMount(await readMountTable(), { path: device, deviceNumber }, mountPoint);
  if (after.action !== 'already-mounted') {
    throw new AgentRefusal(`after mounting, ${mountPoint} is not mounted from ${device}: ${after.action === 'refuse' ? after.reason : 'no mount found'}`);
  }
  // A filesystem of this peer found without a record (from before records, or the record failed after mkfs): record it now.
  if (!formatted && input.formatRecord && (await input.formatRecord.read()) === undefined) {
    await step(log, 'record-formatted', () => input.formatRecord!.write(new Date()), () => ({ where: input.formatRecord!.where, backfilled: true }));
  }
  if (formatted || adopt) {
    await step(log, 'write-marker', () => writeVolumeMarker(mountPoint, identity), () => ({ mountPoint, ...identity, adopted: adopt }));
    if (adopt) log.warn('adopted a volume of this peer from before identity markers', { device, label: volumeLabel(identity.peerIndex) });
  }
  if (input.owner) await step(log, 'own-data-dir', () => ownDataDir(mountPoint, input.owner!), () => ({ owner: input.owner }));

  const top = await fs.readdir(mountPoint);
  const member = top.includes('member') ? await fs.readdir(join(mountPoint, 'member')).catch(() => undefined) : undefined;
  const dataDir = classifyDataDir(top, member);
  if (dataDir === 'unexpected') log.warn('data dir holds files etcd did not write', { mountPoint, entries: top.slice(0, 20) });
  return { formatted, alreadyMounted: before.action === 'already-mounted', adopted: adopt, dataDir };
}

const describeFound = (f: FoundIdentity) => ({ label: f.label, marker: f.marker.kind === 'marker' ? f.marker.marker : f.marker });

/** Reads a signature-free device along the blank check's plan. */
async function readBlank(device: string): Promise<BlankRead> {
  const size = await deviceSizeBytes(device);
  return readForZeros(device, size, blankReadPlan(size));
}

/** The marker at the root of a mounted volume; a marker that cannot be read is `invalid`, never `absent`. */
async function readVolumeMarker(root: string): Promise<MarkerRead> {
  let text: string;
  try {
    text = await fs.readFile(join(root, VOLUME_MARKER_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'invalid', problem: `${VOLUME_MARKER_FILE} cannot be read: ${(error as Error).message}` };
  }
  return parseVolumeMarker(text);
}

/** Writes the marker whole (a temporary file renamed into place) and makes it durable before going on. */
async function writeVolumeMarker(root: string, owner: VolumeOwner, now = new Date()): Promise<void> {
  const file = join(root, VOLUME_MARKER_FILE);
  const temporary = join(root, `.${VOLUME_MARKER_FILE}.tmp`);
  const handle = await fs.open(temporary, 'w', 0o644);
  try {
    await handle.writeFile(renderVolumeMarker(owner, now));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temporary, file);
  const dir = await fs.open(root, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * What the volume mounted at `dir` says it is: the label of the device the
 * mount table shows there, and the marker at its root. Refuses when nothing
 * is mounted at `dir`: etcd must never start on the root disk.
 */
export async function readMountedIdentity(dir: string): Promise<FoundIdentity & { device: string }> {
  const mounts = (await readMountTable()).filter((m) => m.mountPoint === dir);
  const top = mounts[mounts.length - 1];
  if (!top) throw new VolumeRefusal(`nothing is mounted at ${dir}: etcd's data dir must be this peer's volume`);
  const probe = await probeDevice(top.source);
  return { device: top.source, label: probe.kind === 'filesystem' ? probe.label : undefined, marker: await readVolumeMarker(dir) };
}
