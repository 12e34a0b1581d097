/**
 * The etcd binaries of one version, chosen together for a whole local run:
 * etcd, etcdctl and (3.5 and later) etcdutl from one directory, with the
 * version they report themselves. The agent finds etcdctl and etcdutl on its
 * PATH, as on AWS (the user data unpacks all three into /usr/local/bin), so a
 * run that starts every process with {@link etcdEnv} uses one version
 * throughout, the agent included, without the agent knowing about versions.
 *
 * Where each version comes from locally:
 * - 3.4: Debian bookworm's `etcd-server` and `etcd-client`, in /usr/bin
 *   (`apt-get install`, as `.ci/run` does);
 * - 3.5: Debian trixie's, unpacked into `.etcd/3.5/usr/bin` of this project by
 *   `npm run etcd:fetch` (`scripts/fetch-etcd.sh`).
 */
import { execFileSync } from 'child_process';
import { accessSync, constants } from 'fs';
import { delimiter, join, resolve } from 'path';

/** The etcd minor versions the local cluster and the tests run. */
export const ETCD_MINORS = ['3.4', '3.5'] as const;
export type EtcdMinor = (typeof ETCD_MINORS)[number];

/** One version's binaries, every path absolute. */
export interface EtcdBinaries {
  readonly minor: EtcdMinor;
  /** What the binaries report (`etcd --version`), e.g. `3.5.16`; never taken from the request. */
  readonly version: string;
  /** The directory holding them; it goes first on the PATH of every process of a run. */
  readonly dir: string;
  readonly etcd: string;
  readonly etcdctl: string;
  /** etcd 3.5 and later; 3.4 has none (its etcdctl restores snapshots). */
  readonly etcdutl?: string;
}

/** This project's root (runtime/..), where `.etcd/` lives. */
const PROJECT_ROOT = resolve(__dirname, '..');

/** Where a version's binaries are, and the command that puts them there. */
export function etcdSource(minor: EtcdMinor, projectRoot = PROJECT_ROOT): { readonly dir: string; readonly fix: string } {
  return minor === '3.4'
    ? { dir: '/usr/bin', fix: 'install Debian bookworm\'s etcd 3.4: apt-get install etcd-server etcd-client' }
    : { dir: join(projectRoot, '.etcd', '3.5', 'usr', 'bin'), fix: 'fetch Debian trixie\'s etcd 3.5 into .etcd/3.5: npm run etcd:fetch' };
}

/** Reads a `--etcd`-style value; the error names the flag and the choices. */
export function parseEtcdMinor(value: string, flag = '--etcd'): EtcdMinor {
  const minor = ETCD_MINORS.find((m) => m === value);
  if (!minor) throw new Error(`${flag} must be one of ${ETCD_MINORS.join(', ')} (the etcd minor version to run), got "${value}"`);
  return minor;
}

/** The version in the output of `etcd --version`, `etcdctl version` or `etcdutl version`. */
export function parseReportedVersion(output: string): string | undefined {
  return /^(?:etcd Version|etcdctl version|etcdutl version): (\S+)$/m.exec(output)?.[1];
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function reportedVersion(binary: string, args: string[]): string {
  let output: string;
  try {
    output = execFileSync(binary, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    throw new Error(`${binary} ${args.join(' ')} does not run here: ${(error as Error).message.split('\n')[0]}`);
  }
  const version = parseReportedVersion(output);
  if (!version) throw new Error(`${binary} ${args.join(' ')} printed no version: ${output.trim().split('\n')[0]}`);
  return version;
}

/**
 * The binaries of `minor` in `dir`, after checking that each one runs and that
 * all of them report the same version of that minor. Throws otherwise.
 */
export function etcdBinariesIn(minor: EtcdMinor, dir: string): EtcdBinaries {
  const path = (name: string) => join(dir, name);
  const missing = ['etcd', 'etcdctl', ...(minor === '3.4' ? [] : ['etcdutl'])].filter((name) => !isExecutable(path(name)));
  if (missing.length) throw new Error(`etcd ${minor}: ${missing.map(path).join(', ')} missing or not executable`);
  const etcdutl = isExecutable(path('etcdutl')) ? path('etcdutl') : undefined;
  const versions: [string, string][] = [
    [path('etcd'), reportedVersion(path('etcd'), ['--version'])],
    [path('etcdctl'), reportedVersion(path('etcdctl'), ['version'])],
    ...(etcdutl ? [[etcdutl, reportedVersion(etcdutl, ['version'])] as [string, string]] : []),
  ];
  const version = versions[0][1];
  const odd = versions.filter(([, v]) => v !== version || !v.startsWith(`${minor}.`));
  if (odd.length) {
    throw new Error(`etcd ${minor} in ${dir}: the binaries report ${versions.map(([file, v]) => `${file} ${v}`).join(', ')}; every one must be the same ${minor}.x`);
  }
  return { minor, version, dir, etcd: path('etcd'), etcdctl: path('etcdctl'), ...(etcdutl ? { etcdutl } : {}) };
}

/** The binaries of `minor` where this machine keeps them ({@link etcdSource}); the error says how to get them. */
export function etcdBinaries(minor: EtcdMinor, projectRoot = PROJECT_ROOT): EtcdBinaries {
  const source = etcdSource(minor, projectRoot);
  try {
    return etcdBinariesIn(minor, source.dir);
  } catch (error) {
    throw new Error(`${(error as Error).message}; ${source.fix}`);
  }
}

/**
 * A PATH on which `etcd`, `etcdctl` and `etcdutl` are these binaries: their
 * directory first, then `basePath`. With 3.4, which has no etcdutl, an
 * etcdutl anywhere on the PATH would be another version's, and the agent
 * would restore with it; that is refused with the file to remove.
 */
export function pathWithEtcd(binaries: EtcdBinaries, basePath = process.env.PATH ?? ''): string {
  const entries = [binaries.dir, ...basePath.split(delimiter).filter((entry) => entry && resolve(entry) !== resolve(binaries.dir))];
  if (!binaries.etcdutl) {
    const stray = entries.map((entry) => join(entry, 'etcdutl')).find(isExecutable);
    if (stray) throw new Error(`etcd ${binaries.version} has no etcdutl, but ${stray} is on the PATH and the agent would restore snapshots with it; remove it from the PATH to run etcd ${binaries.minor}`);
  }
  return entries.join(delimiter);
}

/** The environment for every process of a run (etcd, the agent, etcdctl): `base` with {@link pathWithEtcd}. */
export function etcdEnv(binaries: EtcdBinaries, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, PATH: pathWithEtcd(binaries, base.PATH ?? '') };
}
