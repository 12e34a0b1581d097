import { spawnSync } from 'child_process';
import { join } from 'path';
import { bundleEntry } from '../../constructs/bundle';

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
});
