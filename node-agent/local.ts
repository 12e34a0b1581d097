/**
 * Local mode: a volume is a file that outlives its instances, attached as a
 * loop device; identity comes from the config. Used by the tests and by the
 * local cluster. The attach rules are the same pure ones as on AWS.
 */
import { hostname } from 'os';
import { resolve } from 'path';
import type { Logger } from '../runtime/log';
import type { AgentConfig } from '../contract/agent-config';
import { decideAttachStep, VolumeView } from './decisions';
import type { AttachedVolume, FormatRecord, Identity, VolumeProvider } from './ports';
import { attachLoopDevice, deviceNumberOf, loopDevicesOf, readMountTable, writeFileAtomically } from './system';
import { promises as fs } from 'fs';
import { done, jitteredBackoff, notYet, pollUntil, sleep as pause } from '../runtime/retry';

/** Loop-device {@link VolumeProvider}. */
export class LocalVolumeProvider implements VolumeProvider {
  constructor(
    private readonly config: AgentConfig,
    private readonly sleep: (ms: number) => Promise<void> = pause,
  ) {
    if (!config.local) throw new Error('local mode needs "local": { "volumeFile", "ipAddress" } in the config');
  }

  async identify(): Promise<Identity> {
    return { instanceId: this.config.local!.instanceId ?? `local-${hostname()}`, zone: 'local', privateIp: this.config.local!.ipAddress };
  }

  async attachPeerVolume(identity: Identity, log: Logger): Promise<AttachedVolume> {
    const file = resolve(this.config.local!.volumeFile);
    try {
      await fs.access(file);
    } catch {
      throw new Error(`volume file ${file} does not exist; the local cluster creates one per peer`);
    }
    const firstSeen = new Map<string, number>();
    return pollUntil(
      async () => {
        const view = await this.view(file, identity);
        const holder = view.volume.attachments[0]?.instanceId;
        if (holder && !firstSeen.has(holder)) firstSeen.set(holder, Date.now());
        const step = decideAttachStep({
          volume: view.volume,
          selfId: identity.instanceId,
          // A mount elsewhere is another instance of this peer: never steal it, whatever the grace.
          owner: holder ? { instanceId: holder, state: 'running', inPeerGroup: true } : undefined,
          heldForSeconds: holder ? (Date.now() - firstSeen.get(holder)!) / 1000 : 0,
          graceSeconds: this.config.deadlines.forceDetachGraceSeconds,
        });
        if (step.action === 'done') return done({ volumeId: file, device: view.loop! });
        if (step.action === 'attach') {
          const loop = await attachLoopDevice(file);
          log.info('attached volume file', { file, device: loop });
          return done({ volumeId: file, device: loop });
        }
        if (step.action === 'fail') throw new Error(step.reason);
        if (step.action === 'force-detach') throw new Error(`local mode never force-detaches: ${step.reason}`);
        return notYet(step.reason);
      },
      {
        timeoutMs: this.config.deadlines.attachSeconds * 1000,
        delayMs: jitteredBackoff({ floorMs: 50, baseDelayMs: 100, maxDelayMs: 1000 }),
        sleep: this.sleep,
        onWait: (reason, attempt) => {
          if (attempt % 10 === 1) log.info('waiting for volume', { file, reason });
        },
        onTimeout: (reason) => new Error(`volume ${file} not free after ${this.config.deadlines.attachSeconds}s: ${reason}`),
      },
    );
  }

  formatRecord(volume: AttachedVolume): FormatRecord {
    return fileFormatRecord(volume.volumeId);
  }

  /** The file's loop devices and where they are mounted, as a volume view. */
  private async view(file: string, identity: Identity): Promise<{ volume: VolumeView; loop?: string }> {
    const loops = await loopDevicesOf(file);
    const mounts = await readMountTable();
    for (const loop of loops) {
      const number = await deviceNumberOf(loop);
      const mounted = mounts.find((m) => m.deviceNumber === number);
      if (mounted && resolve(mounted.mountPoint) !== resolve(this.config.dataDir)) {
        return {
          volume: { volumeId: file, zone: 'local', state: 'in-use', attachments: [{ instanceId: `mounted-at:${mounted.mountPoint}`, state: 'attached' }] },
        };
      }
    }
    if (loops.length > 0) {
      // A loop device nobody mounts (or mounted at our own data dir after a reboot): ours to use.
      return { volume: { volumeId: file, zone: 'local', state: 'in-use', attachments: [{ instanceId: identity.instanceId, state: 'attached' }] }, loop: loops[0] };
    }
    return { volume: { volumeId: file, zone: 'local', state: 'available', attachments: [] } };
  }
}

/** Beside a volume file, the local stand-in for its `etcd-cluster:formatted-at` tag: it goes when the volume does. */
export function formatRecordFileOf(volumeFile: string): string {
  return `${volumeFile}.formatted-at`;
}

/** The format record of a volume file (see {@link formatRecordFileOf}). */
export function fileFormatRecord(volumeFile: string): FormatRecord {
  const file = formatRecordFileOf(resolve(volumeFile));
  return {
    where: `the file ${file}`,
    read: async () => {
      try {
        return (await fs.readFile(file, 'utf8')).trim();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    write: async (at) => writeFileAtomically(file, at.toISOString() + '\n', 0o644),
  };
}

/** The file behind a loop device (`/sys/block/loopN/loop/backing_file`); `undefined` for any other device. */
export async function loopBackingFile(device: string): Promise<string | undefined> {
  const name = /^\/dev\/(loop\d+)$/.exec(await fs.realpath(device).catch(() => device))?.[1];
  if (!name) return undefined;
  const text = await fs.readFile(`/sys/block/${name}/loop/backing_file`, 'utf8').catch(() => undefined);
  return text?.trim() || undefined;
}
