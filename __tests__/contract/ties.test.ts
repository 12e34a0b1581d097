/**
 * Every string two moments must agree on, checked on both sides: what the
 * synthesized stack (synth time) writes is what the Lambda (event time) and
 * the agent (boot time) read.
 */
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { AGENT_COMMANDS, agentCommandsIn } from '../../contract/agent-commands';
import { parseAgentConfig } from '../../contract/agent-config';
import { LAUNCH_HOOK_NAME, LAUNCH_TRANSITION, SUBSCRIBED_DETAIL_TYPES, TERMINATE_HOOK_NAME, TERMINATE_TRANSITION } from '../../contract/events';
import { CLUSTER_TAG_KEY, PEER_INDEX_TAG_KEY } from '../../contract/naming';
import { updaterSettingsFromEnv } from '../../contract/updater-settings';
import { rollerSettingsFromEnv } from '../../contract/roller-settings';
import { classifyEvent } from '../../lambda/events';
import { main } from '../../node-agent/cli';
import { AwsVolumeProvider } from '../../node-agent/aws';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { renderEtcdConfig } from '../../node-agent/etcd-config';
import { decodeUserData } from '../policy/rules';
import { synthCluster } from '../helpers/synth';

const stack = synthCluster();
const launchTemplates = Object.values(stack.resources('aws_launch_template'));
const scripts = launchTemplates.map((lt) => decodeUserData(lt.user_data));

async function runCli(argv: string[], nodeVersion?: string): Promise<{ code: number; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  const write = process.stderr.write;
  const out = process.stdout.write;
  process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
  process.stdout.write = ((chunk: string) => ((stdout += chunk), true)) as typeof process.stdout.write;
  try {
    return { code: await main(argv, nodeVersion), stderr, stdout };
  } finally {
    process.stderr.write = write;
    process.stdout.write = out;
  }
}

describe('the contract between synth, event and boot time', () => {
  test('every agent command the units run is one the CLI accepts', async () => {
    const named = new Set(scripts.flatMap(agentCommandsIn));
    expect([...named].sort()).toEqual(
      [AGENT_COMMANDS.boot, AGENT_COMMANDS.handOff, AGENT_COMMANDS.maintain, AGENT_COMMANDS.metrics, AGENT_COMMANDS.promote, AGENT_COMMANDS.renewCertificates, AGENT_COMMANDS.snapshot, AGENT_COMMANDS.verifyBackup].sort(),
    );
    for (const command of Object.values(AGENT_COMMANDS)) {
      // Without its flags a known command is a usage error about the flags, never "unknown command".
      const { code, stderr } = await runCli([command, '--no-such-flag', 'x']);
      expect(code).toBe(2);
      expect(stderr).not.toContain('unknown command');
    }
    expect((await runCli(['no-such-command'])).stderr).toContain('unknown command no-such-command');
  });

  test("a failed issue-client-cert is that command's failure: it does not say etcd will not start", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'client-cert-'));
    try {
      // An empty CA directory: a client never creates the CA, so the command fails.
      const { code, stdout, stderr } = await runCli([AGENT_COMMANDS.issueClientCert, '--ca-dir', join(dir, 'ca'), '--name', 'kube-apiserver', '--out', join(dir, 'out')]);
      expect(code).toBe(1);
      expect(stderr).toContain('the cluster CA does not exist yet');
      const errors = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.level === 'error');
      expect(errors.map((l) => [l.msg, l.command])).toEqual([['issue-client-cert failed', 'issue-client-cert']]);
      expect(stdout + stderr).not.toContain('etcd will not start');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('on too old a Node.js every command is refused before it runs, naming the version it needs', async () => {
    for (const command of Object.values(AGENT_COMMANDS)) {
      const { code, stderr } = await runCli([command, '--config', '/nonexistent.json'], '18.20.4');
      expect([command, code]).toEqual([command, 1]);
      expect(stderr).toContain('node-agent needs Node.js 20 or later');
      expect(stderr).not.toContain('/nonexistent.json');
    }
  });

  test('the agent config in every launch template is one the agent parses, for its own peer', () => {
    scripts.forEach((script) => {
      const json = script.slice(script.indexOf("<<'END_OF_CONFIG'\n") + 18, script.indexOf('\nEND_OF_CONFIG'));
      const config = parseAgentConfig(JSON.parse(json));
      expect(config.clusterName).toBe('test');
      expect(config.peerCount).toBe(9);
      // The quota the default 20 GiB volume holds, capped at etcd's suggested 8 GiB, reaches etcd's config.
      expect(config.database.quotaBackendBytes).toBe(8 * 1024 ** 3);
      expect(renderEtcdConfig(config)).toContain('\nquota-backend-bytes: 8589934592\n');
    });
    const indices = scripts.map((s) => JSON.parse(s.slice(s.indexOf("<<'END_OF_CONFIG'\n") + 18, s.indexOf('\nEND_OF_CONFIG'))).peerIndex);
    expect(indices.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test("the roller's environment is what the roller reads, and its target is the version every launch template installs", () => {
    const fn = Object.values(stack.resources('aws_lambda_function')).find((f) => f.function_name === 'test-etcd-roller')!;
    const settings = rollerSettingsFromEnv(fn.environment.variables);
    expect(settings).toMatchObject({ clusterName: 'test', peerCount: 9, replaceDeadlineSeconds: 1200 });
    expect(settings.backupBucket).toMatch(/^\$\{aws_s3_bucket\./);
    for (const script of scripts) expect(script).toContain(`ETCD_VERSION=${settings.targetVersion}\n`);
  });

  test("the Lambda's environment is what the Lambda reads", () => {
    const fn = Object.values(stack.resources('aws_lambda_function')).find((f) => f.function_name === 'test-etcd-dns-updater')!;
    const settings = updaterSettingsFromEnv(fn.environment.variables);
    expect(settings).toMatchObject({ clusterName: 'test', domain: 'test.etcd.internal', peerCount: 9, recordTtl: 10 });
  });

  test("every event the rule delivers, for every peer's group and hook, is one the Lambda acts on", () => {
    const rule = Object.values(stack.resources('aws_cloudwatch_event_rule')).find((r) => r.event_pattern);
    const pattern = JSON.parse(rule!.event_pattern);
    expect(pattern['detail-type']).toEqual([...SUBSCRIBED_DETAIL_TYPES]);
    const hooks = Object.values(stack.resources('aws_autoscaling_group'))
      .flatMap((g) => g.initial_lifecycle_hook ?? [])
      .filter((h) => h.lifecycle_transition === LAUNCH_TRANSITION);
    expect(hooks).toHaveLength(9);
    const fn = Object.values(stack.resources('aws_lambda_function')).find((f) => f.function_name === 'test-etcd-dns-updater')!;
    const { clusterName, peerCount } = updaterSettingsFromEnv(fn.environment.variables);
    for (const hook of hooks) expect(hook.name).toBe(LAUNCH_HOOK_NAME);
    for (const groupName of pattern.detail.AutoScalingGroupName as string[]) {
      for (const detailType of pattern['detail-type'] as string[]) {
        const trigger = classifyEvent(
          {
            source: pattern.source[0],
            'detail-type': detailType,
            detail: { AutoScalingGroupName: groupName, LifecycleHookName: hooks[0].name, LifecycleActionToken: 't', EC2InstanceId: 'i-1' },
          },
          clusterName,
          peerCount,
        );
        expect(trigger.kind).toBe('peer');
      }
    }
  });

  test("every peer's group has the terminate hook under the name the agent's hand-off completes", () => {
    const groups = Object.values(stack.resources('aws_autoscaling_group'));
    expect(groups).toHaveLength(9);
    for (const group of groups) {
      const terminate = (group.initial_lifecycle_hook ?? []).filter((h: { lifecycle_transition: string }) => h.lifecycle_transition === TERMINATE_TRANSITION);
      expect(terminate.map((h: { name: string }) => h.name)).toEqual([TERMINATE_HOOK_NAME]);
    }
  });

  test("the one tag key each peer's role may set, on its own volume, is the key the agent records formatting in", async () => {
    const sent: { Resources?: string[]; Tags?: { Key?: string }[] }[] = [];
    const ec2 = { send: async (command: { input: (typeof sent)[number] }) => void sent.push(command.input) } as unknown as EC2Client;
    const config = parseAgentConfig({ mode: 'aws', region: 'us-east-1', clusterName: 'test', domain: 'test.etcd.internal', peerIndex: 0, peerCount: 9, dataDir: '/var/lib/etcd', clusterToken: 'test-etcd' });
    await new AwsVolumeProvider(config, { ec2 }).formatRecord({ volumeId: 'vol-1', device: '/dev/nvme1n1' }).write(new Date());
    const written = sent.flatMap((input) => input.Tags ?? []).map((t) => t.Key);
    expect(written).toHaveLength(1);
    const own = Object.values(stack.resources('aws_iam_role_policy')).filter((p) => p.name === 'etcd-own-volume');
    expect(own).toHaveLength(9);
    for (const p of own) {
      const tagging = JSON.parse(p.policy).Statement.filter((st: { Action: string[] }) => st.Action.includes('ec2:CreateTags'));
      expect(tagging.map((st: { Condition: Record<string, Record<string, string[]>> }) => st.Condition['ForAllValues:StringEquals']['aws:TagKeys'])).toEqual([written]);
    }
  });

  test('volumes carry the tag keys the agent looks them up by', () => {
    const volumes = Object.values(stack.resources('aws_ebs_volume'));
    expect(volumes).toHaveLength(9);
    for (const v of volumes) expect(Object.keys(v.tags)).toEqual(expect.arrayContaining([CLUSTER_TAG_KEY, PEER_INDEX_TAG_KEY]));
  });
});
