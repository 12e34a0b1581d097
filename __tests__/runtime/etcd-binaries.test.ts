import { execFileSync } from 'child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { etcdBinaries, etcdBinariesIn, etcdEnv, parseEtcdMinor, parseReportedVersion, pathWithEtcd } from '../../runtime/etcd-binaries';
import { describeWithEtcd } from '../helpers/etcd';

describe('choosing a version', () => {
  test('--etcd takes 3.4 or 3.5; anything else names the flag and the choices', () => {
    expect(parseEtcdMinor('3.4')).toBe('3.4');
    expect(parseEtcdMinor('3.5')).toBe('3.5');
    expect(() => parseEtcdMinor('3.6')).toThrow('--etcd must be one of 3.4, 3.5 (the etcd minor version to run), got "3.6"');
    expect(() => parseEtcdMinor('3.5.16', '--etcd-version')).toThrow(/^--etcd-version must be one of/);
  });

  test.each([
    ['etcd 3.4', 'etcd Version: 3.4.23\nGit SHA: Not provided (use ./build instead of go build)\nGo Version: go1.19.8\n', '3.4.23'],
    ['etcd 3.5', 'etcd Version: 3.5.16\nGit SHA: Not provided\nGo Version: go1.24.0\nGo OS/Arch: linux/amd64\n', '3.5.16'],
    ['etcdctl', 'etcdctl version: 3.5.16\nAPI version: 3.5\n', '3.5.16'],
    ['etcdutl', 'etcdutl version: 3.5.16\nAPI version: 3.5\n', '3.5.16'],
    ['anything else', 'Usage: etcd [flags]\n', undefined],
  ])('the version a binary reports: %s', (_, output, version) => {
    expect(parseReportedVersion(output)).toBe(version);
  });
});

describe('the binaries of one version, read from the binaries themselves', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'etcd-binaries-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A program that prints what a real one prints for its version. */
  function program(where: string, name: string, versionLine: string): void {
    mkdirSync(where, { recursive: true });
    writeFileSync(join(where, name), `#!/bin/sh\necho '${versionLine}'\n`);
    chmodSync(join(where, name), 0o755);
  }
  function release(where: string, version: string, options: { etcdctl?: string; etcdutl?: string | false } = {}): void {
    program(where, 'etcd', `etcd Version: ${version}`);
    program(where, 'etcdctl', `etcdctl version: ${options.etcdctl ?? version}`);
    if (options.etcdutl !== false) program(where, 'etcdutl', `etcdutl version: ${options.etcdutl ?? version}`);
  }

  test('3.5: etcd, etcdctl and etcdutl of one patch, with the version they report', () => {
    release(dir, '3.5.16');
    expect(etcdBinariesIn('3.5', dir)).toEqual({ minor: '3.5', version: '3.5.16', dir, etcd: join(dir, 'etcd'), etcdctl: join(dir, 'etcdctl'), etcdutl: join(dir, 'etcdutl') });
  });

  test('3.4 has no etcdutl', () => {
    release(dir, '3.4.23', { etcdutl: false });
    expect(etcdBinariesIn('3.4', dir)).toEqual({ minor: '3.4', version: '3.4.23', dir, etcd: join(dir, 'etcd'), etcdctl: join(dir, 'etcdctl') });
  });

  test('binaries of different versions side by side are refused, naming each one', () => {
    release(dir, '3.5.16', { etcdctl: '3.4.23' });
    expect(() => etcdBinariesIn('3.5', dir)).toThrow(`${join(dir, 'etcd')} 3.5.16, ${join(dir, 'etcdctl')} 3.4.23, ${join(dir, 'etcdutl')} 3.5.16; every one must be the same 3.5.x`);
  });

  test('a directory of another minor than asked for is refused', () => {
    release(dir, '3.4.23', { etcdutl: false });
    expect(() => etcdBinariesIn('3.5', dir)).toThrow(`etcd 3.5: ${join(dir, 'etcdutl')} missing or not executable`);
    release(dir, '3.4.23');
    expect(() => etcdBinariesIn('3.5', dir)).toThrow(/every one must be the same 3\.5\.x/);
  });

  test('a binary that does not run, or prints no version, is named', () => {
    release(dir, '3.5.16');
    writeFileSync(join(dir, 'etcdutl'), '#!/bin/sh\nexit 3\n');
    expect(() => etcdBinariesIn('3.5', dir)).toThrow(`${join(dir, 'etcdutl')} version does not run here`);
    program(dir, 'etcdutl', 'hello');
    expect(() => etcdBinariesIn('3.5', dir)).toThrow(`${join(dir, 'etcdutl')} version printed no version: hello`);
  });

  test('3.5 not fetched yet: the error says how to fetch it', () => {
    expect(() => etcdBinaries('3.5', dir)).toThrow(`etcd 3.5: ${join(dir, '.etcd/3.5/usr/bin/etcd')}`);
    expect(() => etcdBinaries('3.5', dir)).toThrow(/; fetch Debian trixie's etcd 3\.5 into \.etcd\/3\.5: npm run etcd:fetch$/);
  });

  test('the PATH of a run: the chosen directory first, each other entry once', () => {
    release(join(dir, 'v35'), '3.5.16');
    const binaries = etcdBinariesIn('3.5', join(dir, 'v35'));
    expect(pathWithEtcd(binaries, `/usr/local/bin:${join(dir, 'v35')}:/usr/bin::/bin`)).toBe(`${join(dir, 'v35')}:/usr/local/bin:/usr/bin:/bin`);
    expect(etcdEnv(binaries, { HOME: '/root', PATH: '/usr/bin' })).toEqual({ HOME: '/root', PATH: `${join(dir, 'v35')}:/usr/bin` });
  });

  test('3.4 refuses a PATH that holds another version\'s etcdutl: the agent would restore with it', () => {
    release(join(dir, 'v34'), '3.4.23', { etcdutl: false });
    release(join(dir, 'v35'), '3.5.16');
    const binaries = etcdBinariesIn('3.4', join(dir, 'v34'));
    expect(() => pathWithEtcd(binaries, `${join(dir, 'v35')}:/usr/bin`)).toThrow(`etcd 3.4.23 has no etcdutl, but ${join(dir, 'v35', 'etcdutl')} is on the PATH`);
    expect(pathWithEtcd(binaries, '/nonexistent:/also-not')).toBe(`${join(dir, 'v34')}:/nonexistent:/also-not`);
  });
});

for (const minor of ['3.4', '3.5'] as const) {
  describeWithEtcd(minor, 'the binaries this machine runs', (etcd) => {
    test('report the version asked for, and every process started with the run\'s PATH finds exactly them', () => {
      expect(etcd().version).toMatch(new RegExp(`^${minor.replace('.', '\\.')}\\.\\d+$`));
      const found = (name: string) => execFileSync('sh', ['-c', `command -v ${name} || true`], { env: etcdEnv(etcd()), encoding: 'utf8' }).trim();
      expect(found('etcd')).toBe(etcd().etcd);
      expect(found('etcdctl')).toBe(etcd().etcdctl);
      expect(found('etcdutl')).toBe(minor === '3.4' ? '' : etcd().etcdutl);
    });
  });
}
