/** The local cluster's CLI checks the layout like the construct does, before it needs root. No root needed here. */
import { spawnSync } from 'child_process';
import { join } from 'path';
import { topologyProblem } from '../../simulation/cli';

const FIVE_OVER_THREE = '5 peers over 3 zones survive a zone but not a zone plus a node: 5 − 2 − 1 = 2 < quorum 3; use 9 over 3 zones or 5 over 5 zones';

describe('the local cluster refuses a layout as the construct does', () => {
  test('the zone-and-node scenario refuses a layout that cannot survive it, with the construct message', () => {
    expect(topologyProblem(5, 3, 'zone-and-node', ['zone-and-node'])).toBe(`the zone-and-node scenario kills a zone plus a node: ${FIVE_OVER_THREE}`);
    // Asking for less does not help that scenario.
    expect(topologyProblem(5, 3, 'zone', ['zone-and-node'])).toBe(`the zone-and-node scenario kills a zone plus a node: ${FIVE_OVER_THREE}`);
    expect(topologyProblem(7, 3, 'zone', ['whole-cluster', 'zone-and-node'])).toContain('7 − 3 − 1 = 3 < quorum 4; use 9 over 3 zones or 7 over 4 zones');
    expect(topologyProblem(9, 3, 'zone-and-node', ['zone-and-node'])).toBeUndefined();
    expect(topologyProblem(5, 5, 'zone-and-node', ['zone-and-node'])).toBeUndefined();
  });

  test('other scenarios follow --tolerate, zone-and-node by default like the construct', () => {
    expect(topologyProblem(5, 3, 'zone-and-node', ['whole-cluster'])).toBe(`${FIVE_OVER_THREE}, or pass --tolerate zone`);
    expect(topologyProblem(5, 3, 'zone', ['whole-cluster'])).toBeUndefined();
    expect(topologyProblem(8, 3, 'zone', ['whole-cluster'])).toMatch(/^--peers 8 is even/);
    expect(topologyProblem(9, 2, 'zone', ['whole-cluster'])).toMatch(/^--zones gives 2 zone\(s\)/);
  });

  test('the CLI exits 2 with that message before it asks for root', () => {
    const cli = join(__dirname, '..', '..', 'simulation', 'cli.ts');
    const run = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', cli, '--scenario', 'zone-and-node', '--peers', '5', '--zones', '3'], {
      encoding: 'utf8',
      cwd: join(__dirname, '..', '..'),
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`the zone-and-node scenario kills a zone plus a node: ${FIVE_OVER_THREE}`);
    expect(run.stderr).not.toContain('needs root');
  });

  test('flags are parsed strictly: an unknown flag or a flag without its value exits 2 with the usage', () => {
    const cli = join(__dirname, '..', '..', 'simulation', 'cli.ts');
    const simulate = (...args: string[]) => spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', cli, ...args], { encoding: 'utf8', cwd: join(__dirname, '..', '..') });
    const unknown = simulate('--scenario', 'zone-and-node', '--bogus', '1');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown option '--bogus'[\s\S]*usage: npm run simulate/);
    const missing = simulate('--scenario');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--scenario <value>' argument missing[\s\S]*usage: npm run simulate/);
  });

  test('--etcd takes 3.4 or 3.5 and nothing else, before it asks for root', () => {
    const cli = join(__dirname, '..', '..', 'simulation', 'cli.ts');
    const run = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', cli, '--scenario', 'whole-cluster', '--etcd', '3.6'], { encoding: 'utf8', cwd: join(__dirname, '..', '..') });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--etcd must be one of 3.4, 3.5 (the etcd minor version to run), got "3.6"');
    expect(run.stderr).toContain('[--etcd 3.5|3.4]');
    expect(run.stderr).not.toContain('needs root');
  });

  test('a scenario that upgrades from 3.4 with --etcd 3.4, or with --scenario all, is refused at once, before any scenario runs', () => {
    const cli = join(__dirname, '..', '..', 'simulation', 'cli.ts');
    for (const scenario of ['rolling-upgrade', 'all']) {
      const run = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', cli, '--scenario', scenario, '--etcd', '3.4'], { encoding: 'utf8', cwd: join(__dirname, '..', '..') });
      expect(run.status).toBe(2);
      expect(run.stderr).toContain('rolling-upgrade forms the cluster on etcd 3.4 and upgrades it to the --etcd version; --etcd 3.4 leaves nothing to upgrade: use --etcd 3.5');
      expect(run.stderr).not.toContain('simulation failed');
      expect(run.stdout).not.toContain('scenario ');
    }
  });

  test.each(['x', '2.5', '1e10', '0'])('--zones %s is refused as not a whole number, naming the flag', (zones) => {
    const cli = join(__dirname, '..', '..', 'simulation', 'cli.ts');
    const run = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', cli, '--scenario', 'whole-cluster', '--zones', zones], { encoding: 'utf8', cwd: join(__dirname, '..', '..') });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`--zones must be a whole number from 1 to 999, got ${zones}`);
  });
});
