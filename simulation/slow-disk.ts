/**
 * A slow disk for one peer. These machines' kernel has no device-mapper (no
 * dm-delay) and no netem, but cgroup v1 block-I/O throttling works on loop
 * devices: a group under /sys/fs/cgroup/blkio limits the write operations per
 * second its processes may issue to one device (`MAJ:MIN`), so etcd's WAL
 * fsyncs to its volume queue behind the limit.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { deviceNumberOf, readMountTable } from '../node-agent/system';
import { PREFIX } from './net';

const BLKIO_ROOT = '/sys/fs/cgroup/blkio';

/** Why write throttling cannot work here; `undefined` when it can. */
export async function blkioUnavailable(): Promise<string | undefined> {
  const file = join(BLKIO_ROOT, 'blkio.throttle.write_iops_device');
  return fs.access(file).then(
    () => undefined,
    () => `no cgroup v1 block-I/O throttling (${file} is missing)`,
  );
}

/** The `MAJ:MIN` of the device mounted at `mountPoint` (a peer's data dir: its loop device). */
export async function deviceAt(mountPoint: string): Promise<string> {
  const mount = (await readMountTable()).find((m) => m.mountPoint === mountPoint);
  if (!mount) throw new Error(`nothing is mounted at ${mountPoint}`);
  return deviceNumberOf(mount.source);
}

/** The line `blkio.throttle.write_iops_device` takes. */
export function writeIopsLimit(device: string, writeIops: number): string {
  if (!/^\d+:\d+$/.test(device)) throw new Error(`a device number is MAJ:MIN, got "${device}"`);
  if (!Number.isInteger(writeIops) || writeIops < 1) throw new Error(`write IOPS must be a whole number of at least 1, got ${writeIops}`);
  return `${device} ${writeIops}`;
}

/** A throttle in place; `remove` lifts it (its processes go back to the root group) and deletes the group. */
export interface Throttle {
  readonly group: string;
  remove(): Promise<void>;
}

/** Limits the writes of processes `pids` to `device` to `writeIops` per second, in group `etcdsim-<name>`. */
export async function throttleWrites(name: string, device: string, writeIops: number, pids: readonly number[]): Promise<Throttle> {
  const group = join(BLKIO_ROOT, `${PREFIX}-${name}`);
  await fs.mkdir(group, { recursive: true });
  await fs.writeFile(join(group, 'blkio.throttle.write_iops_device'), writeIopsLimit(device, writeIops));
  // cgroup.procs moves a whole process, every thread of it.
  for (const pid of pids) await fs.writeFile(join(group, 'cgroup.procs'), String(pid));
  return { group, remove: () => removeGroup(group) };
}

async function removeGroup(group: string): Promise<void> {
  const procs = await fs.readFile(join(group, 'cgroup.procs'), 'utf8').catch(() => '');
  for (const pid of procs.split('\n').filter(Boolean)) await fs.writeFile(join(BLKIO_ROOT, 'cgroup.procs'), pid).catch(() => undefined);
  await fs.rmdir(group).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/** Removes every throttle group a run left (a killed one included). */
export async function removeLeftoverThrottles(): Promise<void> {
  const entries = await fs.readdir(BLKIO_ROOT).catch(() => [] as string[]);
  for (const entry of entries.filter((e) => e.startsWith(`${PREFIX}-`))) await removeGroup(join(BLKIO_ROOT, entry)).catch(() => undefined);
}
