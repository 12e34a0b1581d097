/**
 * A deliberately broken etcd for upgrade-stops: a launch template whose new
 * binary cannot start. `etcd` is a script that says why on stderr and exits
 * 1; `etcdctl` and `etcdutl` are the real ones of the version it stands for,
 * so the agent's boot, which never runs etcd itself, is the same as for a
 * good binary and the failure is etcd's alone, as after a bad upgrade.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import type { EtcdBinaries } from '../runtime/etcd-binaries';

/** What the broken etcd prints before it exits: the report quotes it as the peer's last etcd log line. */
export const BROKEN_ETCD_MESSAGE = 'etcd: deliberately broken binary (upgrade-stops): cannot start';

/**
 * Writes the broken binaries into `dir` and returns them under `good`'s version: the roller must see an
 * instance launched with them as up to date (the template's version), or its deadline would never apply.
 */
export async function brokenEtcd(good: EtcdBinaries, dir: string): Promise<EtcdBinaries> {
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  const etcd = join(dir, 'etcd');
  await fs.writeFile(etcd, `#!/bin/sh\necho '${BROKEN_ETCD_MESSAGE}' >&2\nexit 1\n`, { mode: 0o755 });
  await fs.symlink(good.etcdctl, join(dir, 'etcdctl'));
  if (good.etcdutl) await fs.symlink(good.etcdutl, join(dir, 'etcdutl'));
  return { ...good, dir, etcd, etcdctl: join(dir, 'etcdctl'), ...(good.etcdutl ? { etcdutl: join(dir, 'etcdutl') } : {}) };
}
