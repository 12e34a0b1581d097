/**
 * EC2 and EBS, played locally: an instance is a network namespace in its
 * peer's zone with a NEW IP at every launch; peer i's volume is a sparse file
 * that outlives its instances. Terminating an instance releases its volume
 * (unmounted, loop device freed) and removes its namespace; a volume can also
 * be lost, and is then replaced by an empty one.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { peerName } from '../contract/naming';
import { readMountTable, run, runChecked } from '../node-agent/system';
import { formatRecordFileOf } from '../node-agent/local';
import { createHost, destroyHost, Host, PREFIX, Zone } from './net';

export class LocalEc2 {
  private nextInstance = 1;
  private readonly nextHostOctet = new Map<number, number>();

  constructor(
    /** The run's directory; volumes live in its `volumes/`. */
    private readonly dir: string,
    private readonly volumeMiB: number,
  ) {}

  volumeFile(peerIndex: number): string {
    return join(this.dir, 'volumes', `${peerName(peerIndex)}.img`);
  }

  /**
   * Makes the instances directory a shared mount, so that a volume released here leaves every etcd's view too.
   * Each etcd runs in a mount namespace of its own (`ip netns exec` copies the host's mounts, as slaves), and a
   * private copy would keep every volume mounted at that moment alive: the replacement of a killed peer then
   * found the old filesystem still mounted read-write and could not check it read-only. Shared, the host's
   * unmount propagates to the copies.
   */
  async shareInstanceMounts(): Promise<void> {
    const dir = join(this.dir, 'instances');
    await fs.mkdir(dir, { recursive: true });
    await runChecked('mount', ['--bind', dir, dir]);
    await runChecked('mount', ['--make-shared', dir]);
  }

  /** A new, empty (sparse) volume for a peer. */
  async createVolume(peerIndex: number): Promise<void> {
    await fs.mkdir(join(this.dir, 'volumes'), { recursive: true });
    await runChecked('truncate', ['-s', `${this.volumeMiB}M`, this.volumeFile(peerIndex)]);
  }

  /** The volume is gone; the next instance gets a new, empty one (as after restoring the stack's volume resource). */
  async loseVolume(peerIndex: number): Promise<void> {
    await fs.rm(this.volumeFile(peerIndex), { force: true });
    // Its tags go with it: the new volume was never formatted.
    await fs.rm(formatRecordFileOf(this.volumeFile(peerIndex)), { force: true });
    await this.createVolume(peerIndex);
  }

  /** A new instance id, and its host in `zone` at the zone's next address. */
  async runInstance(peerIndex: number, zone: Zone): Promise<{ id: string; host: Host }> {
    const n = this.nextInstance++;
    const id = `i-${String(n).padStart(4, '0')}`;
    const octet = this.nextHostOctet.get(zone.index) ?? 10;
    this.nextHostOctet.set(zone.index, octet >= 250 ? 10 : octet + 1);
    const host = await createHost(`${PREFIX}-p${peerIndex}-${id}`, `${PREFIX}-v${n}`, zone, `${zone.prefix}.${octet}`);
    return { id, host };
  }

  /** The instance's volume, mounted at `mountPoint`, is released: unmounted (lazily if busy) and its loop device freed. */
  async releaseVolume(mountPoint: string): Promise<void> {
    const mounted = (await readMountTable()).filter((m) => m.mountPoint === mountPoint);
    for (let n = 0; n < mounted.length; n++) {
      if ((await run('umount', [mountPoint])).code !== 0) await run('umount', ['-l', mountPoint]);
    }
    for (const m of mounted) if (m.source.startsWith('/dev/loop')) await run('losetup', ['-d', m.source]);
  }

  /** The instance's namespace and links are gone. */
  async removeHost(host: Host): Promise<void> {
    await destroyHost(host);
  }
}
