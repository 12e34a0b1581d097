import { execFileSync } from 'child_process';
import { existsSync } from 'fs';

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why tests needing root, loop devices and the disk tools cannot run here; `undefined` when they can. */
export function loopDeviceUnavailability(tools: string[] = ['losetup', 'blkid', 'mkfs.ext4', 'mount', 'umount']): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not running as root';
  if (!existsSync('/dev/loop-control')) return 'no /dev/loop-control (loop devices unavailable)';
  const missing = tools.filter((t) => !has(t));
  if (missing.length) return `missing ${missing.join(', ')} (apt-get install util-linux e2fsprogs xfsprogs fdisk)`;
  return undefined;
}

/**
 * `describe` for tests that need something this machine may lack (`why` says
 * what, `fix` how to get it). Outside CI they skip with a message saying why;
 * in CI (CI=true) a missing capability fails the run instead of skipping silently.
 */
export function describeUnless(name: string, why: string | undefined, fix: string, body: () => void): void {
  if (!why) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      test('can run in CI', () => {
        throw new Error(`${name} must run in CI but cannot: ${why}. .ci/run runs as root and installs the packages.`);
      });
    });
    return;
  }
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED "${name}": ${why}. ${fix}`);
  describe.skip(name, body);
}

/** `describe` for tests that need root and real local resources (see {@link describeUnless}). */
export function describeWithRoot(name: string, why: string | undefined, body: () => void): void {
  describeUnless(name, why, 'These tests need root and real devices; run "sudo npm test" (CI runs them).', body);
}
