import { agentUnit, etcdUnit, learnerPromoteUnit, renderUserData } from '../../constructs/user-data';
import { buildAgentConfig } from '../../contract/agent-config';

const input = {
  agentConfig: buildAgentConfig({
    mode: 'aws',
    clusterName: 'prod',
    domain: 'prod.etcd.internal',
    peerIndex: 4,
    peerCount: 9,
    tls: false,
    dataDir: '/var/lib/etcd',
    clusterToken: 'prod-etcd',
  }),
  agentBucket: 'bucket',
  agentKey: 'node-agent/abc.js',
  agentSha256: 'a'.repeat(64),
  etcd: { version: '3.5.17', baseUrl: 'https://example.invalid/v3.5.17', preinstalled: false },
};

describe('user data', () => {
  const script = renderUserData(input);

  test('carries the peer identity as the agent config', () => {
    const json = script.slice(script.indexOf("<<'END_OF_CONFIG'\n") + 18, script.indexOf('\nEND_OF_CONFIG'));
    expect(JSON.parse(json)).toMatchObject({ peerIndex: 4, clusterName: 'prod', domain: 'prod.etcd.internal', mode: 'aws' });
  });

  test('verifies the agent and etcd before using them', () => {
    expect(script).toContain(`echo "${'a'.repeat(64)}  /usr/local/lib/etcd-node-agent/agent.js" | sha256sum -c -`);
    expect(script).toContain('SHA256SUMS');
    const pinned = renderUserData({ ...input, etcd: { ...input.etcd, sha256: 'b'.repeat(64) } });
    expect(pinned).toContain(`ETCD_SHA256=${'b'.repeat(64)}`);
    expect(renderUserData({ ...input, etcd: { ...input.etcd, preinstalled: true } })).not.toContain('TARBALL');
  });

  test('etcd requires and follows the agent, so a failed volume step means no etcd', () => {
    const unit = etcdUnit('/etc/etcd/etcd.conf.yml', 'etcd', '/var/lib/etcd');
    expect(unit).toMatch(/^Requires=etcd-node-agent\.service$/m);
    expect(unit).toMatch(/^AssertPathIsMountPoint=\/var\/lib\/etcd$/m);
    expect(unit).toMatch(/^After=etcd-node-agent\.service$/m);
    expect(agentUnit()).toMatch(/^Type=oneshot$/m);
    expect(agentUnit()).toMatch(/^OnFailure=etcd-node-agent-failed\.service$/m);
    expect(script).toContain(unit.trimEnd());
  });

  test('etcd pulls in the learner promotion, which runs after etcd and goes down with it', () => {
    const etcd = etcdUnit('/etc/etcd/etcd.conf.yml', 'etcd', '/var/lib/etcd');
    expect(etcd).toMatch(/^Wants=etcd-learner-promote\.service$/m);
    const promote = learnerPromoteUnit();
    expect(promote).toMatch(/^After=etcd\.service$/m);
    expect(promote).toMatch(/^BindsTo=etcd\.service$/m);
    // The namespaced Node.js 22 of Amazon Linux 2023, not the image's default /usr/bin/node (18, past its end of life).
    expect(promote).toMatch(/^ExecStart=\/usr\/bin\/node-22 \/usr\/local\/lib\/etcd-node-agent\/agent\.js promote --config \/etc\/etcd-node-agent\/config\.json$/m);
    expect(promote).toMatch(/^Restart=on-failure$/m);
    expect(script).toContain(promote.trimEnd());
  });

  test('the AWS CLI calls get the region (neither the CLI nor the JavaScript SDK reads it from instance metadata)', () => {
    const withRegion = renderUserData({ ...input, agentConfig: { ...input.agentConfig, region: 'eu-west-1' } });
    expect(withRegion.match(/^export AWS_DEFAULT_REGION=eu-west-1$/gm)).toHaveLength(2);
    const reportScript = withRegion.slice(withRegion.indexOf("<<'END_OF_SCRIPT'"), withRegion.indexOf('END_OF_SCRIPT\n'));
    expect(reportScript).toContain('export AWS_DEFAULT_REGION=eu-west-1');
    expect(withRegion.indexOf('export AWS_DEFAULT_REGION')).toBeLessThan(withRegion.indexOf('aws s3 cp'));
  });

  test('installs the Node.js the units run the agent with, explicitly, before anything starts', () => {
    const lines = script.split('\n');
    const install = lines.indexOf('test -x /usr/bin/node-22 || dnf install -y nodejs22');
    expect(install).toBeGreaterThan(0);
    // The boot fails here (set -e) if the binary is missing, not later in a unit.
    expect(lines[install + 1]).toBe('/usr/bin/node-22 --version');
    expect(install).toBeLessThan(lines.findIndex((l) => l.startsWith('systemctl ')));
    expect(script).not.toMatch(/dnf install -y nodejs(\s|$)/);
    const runners = [...script.matchAll(/^ExecStart=(\S+) \/usr\/local\/lib\/etcd-node-agent\/agent\.js /gm)].map((m) => m[1]);
    expect(runners.length).toBeGreaterThanOrEqual(2);
    expect(new Set(runners)).toEqual(new Set(['/usr/bin/node-22']));
  });

  test('has no Terraform interpolation or escape of its own', () => {
    expect(script).not.toContain('${');
    expect(script).not.toContain('%{');
    expect(script).not.toContain('\\');
  });
});

describe('maintenance timer', () => {
  const script = renderUserData(input);
  test('every peer runs node-agent maintain every minute by default, only while etcd runs, with time for a NOSPACE recovery', () => {
    expect(script).toContain("cat > /etc/systemd/system/etcd-maintenance.timer <<'END_OF_UNIT'");
    expect(script).toMatch(/ExecStart=\S+ \S+ maintain --config \/etc\/etcd-node-agent\/config.json/);
    expect(script).toMatch(/Description=etcd maintenance every 1 minute\(s\)\n\n\[Timer\]\nOnBootSec=3min\nOnUnitActiveSec=1min/);
    expect(script).toContain('Requisite=etcd.service');
    expect(script).toContain('TimeoutStartSec=2h');
    expect(script).toMatch(/systemctl enable etcd-node-agent.service etcd.service .*etcd-maintenance.timer/);
    expect(renderUserData({ ...input, maintenanceEveryMinutes: 5 })).toContain('OnUnitActiveSec=5min');
  });
});

describe('metrics timer', () => {
  const script = renderUserData(input);
  test('every peer publishes its metrics every minute, only while etcd runs', () => {
    expect(script).toContain("cat > /etc/systemd/system/etcd-metrics.timer <<'END_OF_UNIT'");
    expect(script).toMatch(/ExecStart=\S+ \S+ metrics --config \/etc\/etcd-node-agent\/config.json/);
    expect(script).toMatch(/OnUnitActiveSec=1min/);
    expect(script).toMatch(/Requisite=etcd.service/);
    expect(script).toMatch(/systemctl enable etcd-node-agent.service etcd.service .*etcd-metrics.timer/);
  });
});

describe('hand-off service', () => {
  const script = renderUserData(input);
  test('every peer runs the hand-off watcher from boot, not bound to etcd, so a dead etcd still completes the hook at once', () => {
    const unit = script.slice(script.indexOf("cat > /etc/systemd/system/etcd-hand-off.service <<'END_OF_UNIT'"));
    expect(unit).toMatch(/ExecStart=\/usr\/bin\/node-22 \S+ hand-off --config \/etc\/etcd-node-agent\/config.json/);
    expect(unit.slice(0, unit.indexOf('END_OF_UNIT\n'))).not.toMatch(/Requisite=|BindsTo=|Requires=etcd/);
    expect(script).toMatch(/systemctl enable etcd-node-agent.service etcd.service etcd-hand-off.service/);
    expect(script).toContain('systemctl start --no-block etcd-hand-off.service');
  });
});
