/**
 * Scripts run under `set -o pipefail`: a pipe into a reader that stops early
 * (`head`, `grep -q`, `grep -m`) kills the writer with SIGPIPE whenever the
 * reader exits first, and the whole script fails at random (CI saw 31 of 300
 * runs of `etcd --version | head -1` fail under load). None may have one.
 */
import { readdirSync, readFileSync, statSync } from 'fs';
import { join, relative } from 'path';
import { renderUserData } from '../../constructs/user-data';
import { buildAgentConfig } from '../../contract/agent-config';

const root = join(__dirname, '..', '..');
const EARLY_EXIT_READER = /\|\s*(head\b|grep\s+(-[A-Za-z]*[qm]|--quiet|--silent|--max-count))/;

/** Lines that pipe into a reader which may exit before the writer is done. */
function earlyExitPipes(script: string): string[] {
  return script.split('\n').filter((line) => !line.trimStart().startsWith('#') && EARLY_EXIT_READER.test(line));
}

/** Shell scripts of the repository: `.ci/run`, `*.sh`, and files with a sh/bash shebang. */
function shellScripts(dir = root): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (['node_modules', '.git', 'cdktf.out', 'dist'].includes(name)) return [];
    if (statSync(path).isDirectory()) return shellScripts(path);
    if (name.endsWith('.sh') || relative(root, path) === join('.ci', 'run')) return [path];
    return /^#!.*\b(ba)?sh\b/.test(readFileSync(path, 'utf8').slice(0, 100)) ? [path] : [];
  });
}

describe('no pipe into an early-exiting reader under pipefail', () => {
  test('the pattern catches the pipes that failed CI, and leaves full readers alone', () => {
    expect(earlyExitPipes('etcd --version | head -1\nfoo | grep -q bar\nfoo | grep -m1 x\nfoo|head\nfoo | grep -qs y')).toHaveLength(5);
    expect(earlyExitPipes('etcd --version\nfoo | grep bar\nsha256sum -c - < f\necho x | sha256sum -c -\n# a | head')).toEqual([]);
  });

  test('.ci/run and every shell script in the repository', () => {
    const scripts = shellScripts();
    expect(scripts.map((p) => relative(root, p))).toContain(join('.ci', 'run'));
    const found = scripts.flatMap((p) => earlyExitPipes(readFileSync(p, 'utf8')).map((line) => `${relative(root, p)}: ${line.trim()}`));
    expect(found).toEqual([]);
  });

  test("the peers' boot script", () => {
    const script = renderUserData({
      agentConfig: buildAgentConfig({
        mode: 'aws',
        region: 'us-east-1',
        clusterName: 'prod',
        domain: 'prod.etcd.internal',
        peerIndex: 0,
        peerCount: 9,
        tls: true,
        dataDir: '/var/lib/etcd',
        certLifetimeHours: 720,
        ca: { secretId: 'arn' },
        backup: { bucket: 'b' },
      }),
      agentBucket: 'bucket',
      agentKey: 'node-agent/abc.js',
      agentSha256: 'a'.repeat(64),
      etcd: { version: '3.5.17', baseUrl: 'https://example.invalid/v3.5.17', preinstalled: false },
      snapshotIntervalMinutes: 15,
    });
    expect(script).toContain('set -euo pipefail');
    expect(earlyExitPipes(script)).toEqual([]);
  });
});
