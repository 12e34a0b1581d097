/** Boot steps 5–6: the attached device becomes the mounted data dir; the rules live in decisions.ts. */
import { promises as fs } from 'fs';
import { join } from 'path';
import type { Logger } from '../runtime/log';
import { classifyDataDir, DataDirState, decideFilesystem, decideMount } from './decisions';
import { AgentRefusal, step } from './step';
import { createFilesystem, deviceNumberOf, mountDevice, ownDataDir, probeDevice, readMountTable } from './system';

/** Inputs of {@link prepareVolume}. */
export interface PrepareVolumeInput {
  readonly device: string;
  readonly mountPoint: string;
  readonly fsType: 'ext4' | 'xfs';
  /** User that must own the mounted data dir; `undefined` leaves ownership alone. */
  readonly owner?: string;
  /** Label given to a filesystem this call creates. */
  readonly label: string;
}

/** What {@link prepareVolume} did. */
export interface PreparedVolume {
  readonly formatted: boolean;
  readonly alreadyMounted: boolean;
  readonly dataDir: DataDirState;
}

/**
 * Steps 5–6: probe, format only a device with no signature at all, mount at
 * the data dir (idempotent), hand it to the etcd user, and verify the mount
 * table before returning. Refuses, without writing anything, in every other case.
 */
export async function prepareVolume(input: PrepareVolumeInput, log: Logger): Promise<PreparedVolume> {
  const { device, mountPoint, fsType } = input;
  const deviceNumber = await deviceNumberOf(device);
  const before = decideMount(await readMountTable(), { path: device, deviceNumber }, mountPoint);
  if (before.action === 'refuse') throw new AgentRefusal(before.reason);

  let formatted = false;
  if (before.action === 'mount') {
    const probe = await step(log, 'probe-filesystem', () => probeDevice(device), (p) => ({ device, probe: p }));
    const decision = decideFilesystem(probe, fsType, device);
    if (decision.action === 'refuse') throw new AgentRefusal(decision.reason);
    if (decision.action === 'format') {
      // Probe again right before writing: a volume that gained a signature in between is not ours to format.
      const again = decideFilesystem(await probeDevice(device), fsType, device);
      if (again.action !== 'format') throw new AgentRefusal(`${device} changed while being prepared; not formatting it`);
      await step(log, 'create-filesystem', () => createFilesystem(device, fsType, input.label), () => ({ device, fsType, label: input.label }));
      formatted = true;
    }
    await step(log, 'mount', () => mountDevice(device, mountPoint, fsType), () => ({ device, mountPoint }));
  } else {
    log.info('step mount skipped', { step: 'mount', device, mountPoint, reason: 'already mounted from this device' });
  }

  const after = decideMount(await readMountTable(), { path: device, deviceNumber }, mountPoint);
  if (after.action !== 'already-mounted') {
    throw new AgentRefusal(`after mounting, ${mountPoint} is not mounted from ${device}: ${after.action === 'refuse' ? after.reason : 'no mount found'}`);
  }
  if (input.owner) await step(log, 'own-data-dir', () => ownDataDir(mountPoint, input.owner!), () => ({ owner: input.owner }));

  const top = await fs.readdir(mountPoint);
  const member = top.includes('member') ? await fs.readdir(join(mountPoint, 'member')).catch(() => undefined) : undefined;
  const dataDir = classifyDataDir(top, member);
  if (dataDir === 'unexpected') log.warn('data dir holds files etcd did not write', { mountPoint, entries: top.slice(0, 20) });
  return { formatted, alreadyMounted: before.action === 'already-mounted', dataDir };
}
