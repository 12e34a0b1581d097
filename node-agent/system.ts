/**
 * The real local resources the agent touches in both modes: commands, block
 * devices (blkid, mkfs, mount), the mount table, loop devices, files. Thin:
 * every decision about what these facts mean lives in decisions.ts.
 */
import { execFile } from 'child_process';
import { createHash } from 'crypto';
import { createReadStream, promises as fs } from 'fs';
import { tmpdir } from 'os';
import { basename, dirname, join } from 'path';
import { MountEntry, parseBlkidProbe, parseMountInfo, ProbeResult } from './decisions';
import type { BlankRead, ByteRange } from './volume-identity';

/** Result of a finished command. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a program without a shell; resolves with its exit code (rejects only if it cannot be started or times out).
 * The program is found on the PATH of `env` (by default this process's, as it is now), which picks the etcd
 * version (etcdctl, etcdutl); a local run passes the environment of the version it runs.
 * `input`, when given, is written to its stdin (`etcdctl txn` reads its transaction there).
 */
export function run(file: string, args: readonly string[], timeoutMs = 120_000, env: NodeJS.ProcessEnv = process.env, input?: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    // `env` named, so the child searches the PATH this code sees, also where process.env is a sandbox's own copy
    // (jest's), which child_process would not read.
    const child = execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env }, (error, stdout, stderr) => {
      const code: unknown = (error as { code?: unknown } | null)?.code;
      const killed = (error as { killed?: boolean } | null)?.killed;
      if (error && (typeof code !== 'number' || killed)) {
        reject(new Error(`${file} ${args.join(' ')} could not run: ${killed ? `timed out after ${timeoutMs} ms` : error.message}`));
        return;
      }
      resolve({ code: typeof code === 'number' ? code : 0, stdout: String(stdout), stderr: String(stderr) });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Runs a program and fails with its stderr when it exits non-zero. */
export async function runChecked(file: string, args: readonly string[], timeoutMs?: number): Promise<string> {
  const r = await run(file, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited with ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** Low-level probe of a device's signatures (`blkid -p`: bypasses the cache, reads the device itself). */
export async function probeDevice(device: string): Promise<ProbeResult> {
  const r = await run('blkid', ['-p', '-o', 'export', device]);
  return parseBlkidProbe(r.code, r.stdout, r.stderr);
}

/** Creates a labelled filesystem. No force flag: mkfs itself refuses a device with a signature. */
export async function createFilesystem(device: string, fsType: 'ext4' | 'xfs', label: string): Promise<void> {
  if (fsType === 'ext4') {
    // lazy init off: the volume is small and a fully initialized filesystem behaves the same after a crash.
    await runChecked('mkfs.ext4', ['-q', '-L', label, '-E', 'lazy_itable_init=0,lazy_journal_init=0', device], 600_000);
  } else {
    await runChecked('mkfs.xfs', ['-q', '-L', label, device], 600_000);
  }
}

/** The mount table of this process's mount namespace. */
export async function readMountTable(): Promise<MountEntry[]> {
  return parseMountInfo(await fs.readFile('/proc/self/mountinfo', 'utf8'));
}

/** `major:minor` of a block device (following symlinks such as /dev/disk/by-id/…). */
export async function deviceNumberOf(device: string): Promise<string> {
  const stat = await fs.stat(device).catch((error: NodeJS.ErrnoException) => {
    throw new Error(error.code === 'ENOENT' ? `device ${device} does not exist` : `cannot stat ${device}: ${error.message}`);
  });
  if (!stat.isBlockDevice()) throw new Error(`${device} is not a block device; pass the volume's device (e.g. /dev/nvme1n1 or /dev/loop3)`);
  const rdev = stat.rdev;
  // Linux dev_t: major in bits 8..19 (and 32..), minor in bits 0..7 and 20..31.
  const major = ((rdev >> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >> 12) & ~0xff);
  return `${major}:${minor}`;
}

/** Mounts `device` at `mountPoint` (created if missing). */
export async function mountDevice(device: string, mountPoint: string, fsType: string): Promise<void> {
  await fs.mkdir(mountPoint, { recursive: true });
  await runChecked('mount', ['-t', fsType, '-o', 'noatime', device, mountPoint]);
}

/**
 * Mounts `device` read-only at a private temporary dir, runs `body` on it and
 * unmounts. No replay of the journal or log (ext4 `noload`, xfs
 * `norecovery`): a filesystem that may not be ours gets no byte written.
 */
export async function withReadOnlyMount<T>(device: string, fsType: string, body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'etcd-volume-check-'));
  try {
    await runChecked('mount', ['-t', fsType, '-o', fsType === 'xfs' ? 'ro,norecovery' : 'ro,noload', device, dir]);
    try {
      return await body(dir);
    } finally {
      await runChecked('umount', [dir]);
    }
  } finally {
    await fs.rmdir(dir).catch(() => undefined);
  }
}

/** Size of a block device in bytes (`blockdev --getsize64`). */
export async function deviceSizeBytes(device: string): Promise<number> {
  const out = (await runChecked('blockdev', ['--getsize64', device])).trim();
  const size = Number(out);
  if (!Number.isSafeInteger(size)) throw new Error(`blockdev --getsize64 ${device} printed ${out}, not a size`);
  return size;
}

/** Reads `ranges` of `device` (read-only) and reports the first byte that is not zero. */
export async function readForZeros(device: string, sizeBytes: number, ranges: readonly ByteRange[]): Promise<BlankRead> {
  const plannedBytes = ranges.reduce((n, r) => n + r.length, 0);
  const chunk = Buffer.alloc(1024 * 1024);
  const zeros = Buffer.alloc(chunk.length);
  let bytesRead = 0;
  const handle = await fs.open(device, 'r');
  try {
    for (const range of ranges) {
      for (let at = range.offset; at < range.offset + range.length; ) {
        const want = Math.min(chunk.length, range.offset + range.length - at);
        const { bytesRead: got } = await handle.read(chunk, 0, want, at);
        if (got === 0) return { sizeBytes, plannedBytes, bytesRead };
        if (!chunk.subarray(0, got).equals(zeros.subarray(0, got))) {
          const index = chunk.subarray(0, got).findIndex((b) => b !== 0);
          return { sizeBytes, plannedBytes, bytesRead: bytesRead + index + 1, firstNonZeroOffset: at + index };
        }
        bytesRead += got;
        at += got;
      }
    }
  } finally {
    await handle.close();
  }
  return { sizeBytes, plannedBytes, bytesRead };
}

/** Gives the data dir to the etcd user; etcd refuses a data dir it cannot write, and wants it 0700. */
export async function ownDataDir(dir: string, user: string): Promise<void> {
  await runChecked('chown', ['-R', `${user}:`, dir]);
  await fs.chmod(dir, 0o700);
}

/** Loop devices backed by `file` (`losetup -j`). */
export async function loopDevicesOf(file: string): Promise<string[]> {
  const out = await runChecked('losetup', ['-n', '-O', 'NAME', '-j', file]);
  return out.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Sets up a loop device for `file` and returns its path. */
export async function attachLoopDevice(file: string): Promise<string> {
  return (await runChecked('losetup', ['--find', '--show', file])).trim();
}

/** Whether `path` exists now (a device node, a file). */
export async function pathExists(path: string): Promise<boolean> {
  return fs.access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Writes `file` whole or not at all: a temporary file beside it, given `mode`
 * (whatever the umask), renamed into place. The directory is created if missing.
 */
export async function writeFileAtomically(file: string, content: string, mode: number): Promise<void> {
  await fs.mkdir(dirname(file), { recursive: true });
  const temporary = join(dirname(file), `.${basename(file)}.tmp`);
  await fs.writeFile(temporary, content, { mode });
  await fs.chmod(temporary, mode);
  await fs.rename(temporary, file);
}

/** The sha256 of a file, streamed: a snapshot may be gigabytes. */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
