/**
 * Clean-up of everything a local run creates, also after a run that was
 * killed and could not clean up itself: processes inside the simulation's
 * namespaces, dnsmasq, mounts and loop devices under every registered work
 * directory, namespaces and links, block-I/O throttle groups. A registry in /run names the work
 * directories of runs that have not finished cleaning up.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { readMountTable, run } from '../node-agent/system';
import { PREFIX, removeLeftoverNetwork } from './net';
import { removeLeftoverThrottles } from './slow-disk';
import { done, notYet, pollUntil } from '../runtime/retry';

/** Work directories of runs that have not cleaned up yet, so a later run can clean after a killed one. */
const RUN_REGISTRY = '/run/etcdsim-runs.json';

async function readRunRegistry(): Promise<string[]> {
  try {
    return JSON.parse(await fs.readFile(RUN_REGISTRY, 'utf8'));
  } catch {
    return [];
  }
}

async function writeRunRegistry(dirs: string[]): Promise<void> {
  if (dirs.length === 0) await fs.rm(RUN_REGISTRY, { force: true });
  else await fs.writeFile(RUN_REGISTRY, JSON.stringify(dirs));
}

/** Records `dir` as a run in progress: until it cleans up, any later run cleans up after it. */
export async function registerRun(dir: string): Promise<void> {
  await writeRunRegistry([dir]);
}

/** The simulation's namespaces in the output of `ip netns list` (`name (id: 3)` lines). */
export function simulationNamespaces(ipNetnsList: string): string[] {
  return ipNetnsList
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((name) => name.startsWith(PREFIX));
}

/** Loop devices (from `losetup -n -O NAME,BACK-FILE`) backed by a volume file under one of `dirs`. */
export function loopDevicesUnder(losetupOutput: string, dirs: readonly string[]): string[] {
  return losetupOutput
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([name, file]) => name && file && dirs.some((d) => file.startsWith(join(d, 'volumes') + '/')))
    .map(([name]) => name);
}

/**
 * Removes what any run left, this one (`ownDir`) or a killed one in another
 * registered directory, then clears the registry.
 */
export async function cleanLeftovers(ownDir: string): Promise<void> {
  const namespaces = simulationNamespaces((await run('ip', ['netns', 'list'])).stdout);
  const pids = new Set<string>();
  for (const ns of namespaces) for (const pid of (await run('ip', ['netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean)) pids.add(pid);
  if (pids.size) await run('kill', ['-9', ...pids]);
  await run('pkill', ['-9', '-f', 'dnsmasq .*peer-records\\.hosts']);
  if (pids.size) {
    await pollUntil(async () => ((await run('kill', ['-0', ...pids])).code === 0 ? notYet('processes still exiting') : done(undefined)), {
      timeoutMs: 5000,
      delayMs: 100,
    }).catch(() => undefined);
  }

  const dirs = [...new Set([ownDir, ...(await readRunRegistry())])];
  // Backstop for an etcd whose namespace is already gone.
  for (const d of dirs) await run('pkill', ['-9', '-f', `etcd --config-file ${d}/`]);
  const mounts = (await readMountTable()).filter((m) => dirs.some((d) => m.mountPoint.startsWith(d + '/'))).reverse();
  for (const m of mounts) await run('umount', ['-l', m.mountPoint]);
  for (const loop of loopDevicesUnder((await run('losetup', ['-n', '-O', 'NAME,BACK-FILE'])).stdout, dirs)) await run('losetup', ['-d', loop]);
  await removeLeftoverNetwork();
  await removeLeftoverThrottles();
  await writeRunRegistry([]);
}
