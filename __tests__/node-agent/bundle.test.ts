import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { bundleEntry } from '../../runtime/bundle';

describe('the shipped agent bundle', () => {
  test('is one self-contained file that runs on plain node', () => {
    const bundle = bundleEntry(join(__dirname, '..', '..', 'node-agent', 'cli'), { fileName: 'agent.js', target: 'node18' });
    const help = spawnSync(process.execPath, [bundle.path, '--help'], { encoding: 'utf8', cwd: '/' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('node-agent boot --config FILE');
    const bad = spawnSync(process.execPath, [bundle.path, 'boot', '--config', '/nonexistent.json'], { encoding: 'utf8', cwd: '/' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('cannot read config /nonexistent.json');
    expect(bundle.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  test('in aws mode, a config without a region is bad input: the SDK for JavaScript cannot find it on its own', () => {
    const bundle = bundleEntry(join(__dirname, '..', '..', 'node-agent', 'cli'), { fileName: 'agent.js', target: 'node18' });
    const dir = mkdtempSync(join(tmpdir(), 'agent-region-'));
    try {
      const base = { mode: 'aws', clusterName: 'prod', domain: 'prod.internal', peerIndex: 0, peerCount: 3, dataDir: '/d', clusterToken: 't', etcdConfigFile: join(dir, 'etcd.conf.yml') };
      writeFileSync(join(dir, 'no-region.json'), JSON.stringify(base));
      writeFileSync(join(dir, 'region.json'), JSON.stringify({ ...base, region: 'eu-west-1' }));
      const { AWS_REGION: _r, AWS_DEFAULT_REGION: _d, ...env } = process.env;
      const missing = spawnSync(process.execPath, [bundle.path, 'promote', '--config', join(dir, 'no-region.json')], { encoding: 'utf8', env });
      expect(missing.status).toBe(2);
      expect(missing.stderr).toContain('aws mode needs "region" (or AWS_REGION set)');
      // With the region written by the construct, the same command runs (nothing to promote: no AWS call needed).
      const given = spawnSync(process.execPath, [bundle.path, 'promote', '--config', join(dir, 'region.json')], { encoding: 'utf8', env });
      expect(given.status).toBe(0);
      expect(given.stdout).toContain('nothing to promote');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
