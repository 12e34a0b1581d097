/**
 * The Node.js the agent runs on: what the instances install, what the units
 * run, what the bundle is built for and what the agent accepts at start.
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { AGENT_MIN_NODE_MAJOR, AGENT_NODE, AGENT_PATH, nodeRuntimeProblem } from '../../contract/agent-commands';
import { bundleNodeAgent } from '../../runtime/bundle';
import { decodeUserData } from '../policy/rules';
import { synthCluster } from '../helpers/synth';

const root = join(__dirname, '..', '..');

/** The oldest Node.js major each bundled AWS SDK client declares in `engines.node`. */
function sdkNodeFloors(): Record<string, number> {
  const deps = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies).filter((d) => d.startsWith('@aws-sdk/'));
  return Object.fromEntries(
    deps.map((d) => {
      const engines: string = JSON.parse(readFileSync(require.resolve(`${d}/package.json`, { paths: [root] }), 'utf8')).engines.node;
      return [d, Number(/^>=\s*(\d+)/.exec(engines)![1])];
    }),
  );
}

describe("the agent's Node.js", () => {
  test('the oldest major the agent accepts is the floor of the AWS SDK it bundles (when the SDK raises it, raise AGENT_MIN_NODE_MAJOR)', () => {
    const floors = sdkNodeFloors();
    expect(Object.keys(floors).length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...Object.values(floors))).toBe(AGENT_MIN_NODE_MAJOR);
  });

  test('instances get a namespaced Amazon Linux 2023 package of a major the agent accepts', () => {
    expect(AGENT_NODE.major).toBeGreaterThanOrEqual(AGENT_MIN_NODE_MAJOR);
    expect(AGENT_NODE.dnfPackage).toBe(`nodejs${AGENT_NODE.major}`);
    expect(AGENT_NODE.binary).toBe(`/usr/bin/node-${AGENT_NODE.major}`);
  });

  test.each([
    ['18.20.4', false],
    ['v18.19.0', false],
    ['19.9.0', false],
    ['20.0.0', true],
    ['22.12.0', true],
    ['24.1.0', true],
    ['not-a-version', false],
  ])('Node.js %s is accepted: %s', (version, accepted) => {
    expect(nodeRuntimeProblem(version) === undefined).toBe(accepted);
  });

  test('the refusal names the version it needs and how to get it', () => {
    expect(nodeRuntimeProblem('18.20.4', '/usr/bin/node')).toBe(
      'node-agent needs Node.js 20 or later (the AWS SDK it bundles requires it), but runs on Node.js 18.20.4 (/usr/bin/node); ' +
        'on Amazon Linux 2023 install nodejs22 and run the agent with /usr/bin/node-22',
    );
  });

  test('the shipped bundle refuses to start on Node.js 18, before any command, and runs on this one', () => {
    const bundle = bundleNodeAgent();
    const dir = mkdtempSync(join(tmpdir(), 'agent-node18-'));
    try {
      const pretend18 = join(dir, 'pretend-node-18.js');
      writeFileSync(pretend18, "Object.defineProperty(process.versions, 'node', { value: '18.20.4' });\n");
      const old = spawnSync(process.execPath, ['-r', pretend18, bundle.path, 'boot', '--config', '/nonexistent.json'], { encoding: 'utf8', cwd: '/' });
      expect(old.status).toBe(1);
      expect(old.stderr).toContain('node-agent needs Node.js 20 or later (the AWS SDK it bundles requires it), but runs on Node.js 18.20.4');
      expect(old.stderr).not.toContain('/nonexistent.json');
      const current = spawnSync(process.execPath, [bundle.path, '--help'], { encoding: 'utf8', cwd: '/' });
      expect(current.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every unit of every peer runs the agent with the binary its user data installs', () => {
    const stack = synthCluster();
    const scripts = Object.values(stack.resources('aws_launch_template')).map((lt) => decodeUserData(lt.user_data));
    expect(scripts).toHaveLength(9);
    for (const script of scripts) {
      const installed = /^test -x (\S+) \|\| dnf install -y nodejs(\d+)$/m.exec(script)!;
      expect(installed.slice(1)).toEqual([AGENT_NODE.binary, String(AGENT_NODE.major)]);
      const runners = [...script.matchAll(new RegExp(`^ExecStart=(\\S+) ${AGENT_PATH.replace(/[.]/g, '\\.')} `, 'gm'))].map((m) => m[1]);
      expect(runners.length).toBeGreaterThanOrEqual(3);
      expect(new Set(runners)).toEqual(new Set([installed[1]]));
    }
  });
});
