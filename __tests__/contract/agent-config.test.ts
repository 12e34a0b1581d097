import { parseAgentConfig } from '../../contract/agent-config';
import { renderEtcdConfig } from '../../node-agent/etcd-config';

const valid = { mode: 'aws', clusterName: 'prod', domain: 'Prod.Etcd.Internal.', peerIndex: 4, peerCount: 9, dataDir: '/var/lib/etcd', clusterToken: 'prod-etcd' };

describe('agent configuration', () => {
  test('defaults and normalization', () => {
    const c = parseAgentConfig(valid);
    expect(c).toMatchObject({ domain: 'prod.etcd.internal', fsType: 'ext4', etcdUser: 'etcd', tls: false, pkiDir: '/etc/etcd/pki' });
    expect(c.deadlines.attachSeconds).toBe(600);
  });

  test.each([
    [{ ...valid, mode: 'gcp' }, '"mode" must be "aws" or "local", got "gcp"'],
    [{ ...valid, peerIndex: 9 }, '"peerIndex" 9 is outside the cluster of 9 peers'],
    [{ ...valid, dataDir: '/' }, '"dataDir" must be an absolute path other than /'],
    [{ ...valid, dataDir: 'data' }, '"dataDir" must be an absolute path other than /, such as /var/lib/etcd, got "data"'],
    // The mount table writes /var/lib/etcd: a trailing slash would read as "mounted elsewhere" after mkfs.
    [{ ...valid, dataDir: '/var/lib/etcd/' }, '"dataDir" must be written as the mount table writes it'],
    [{ ...valid, dataDir: '/var//lib/etcd' }, '"dataDir" must be written as the mount table writes it'],
    [{ ...valid, dataDir: '/var/lib/../etcd' }, '"dataDir" must be written as the mount table writes it'],
    [{ ...valid, fsType: 'btrfs' }, '"fsType" must be "ext4" or "xfs", got "btrfs"'],
    [{ ...valid, clusterName: '' }, '"clusterName" must be a non-empty string'],
    [{ ...valid, mode: 'local' }, 'local mode needs "local": { "volumeFile": PATH, "ipAddress": IP }'],
    [{ ...valid, deadlines: { dnsSeconds: 0 } }, '"deadlines.dnsSeconds" must be a positive number of seconds'],
    [null, 'expected a JSON object'],
    [{ ...valid, tls: true }, 'TLS needs the cluster CA\'s location: "ca": { "secretId": SECRET_ARN }'],
    [{ ...valid, mode: 'local', tls: true, local: { volumeFile: '/v', ipAddress: '10.0.0.1' } }, 'TLS needs the cluster CA\'s location: "ca": { "dir": PATH }'],
  ])('%j is refused', (raw, message) => {
    expect(() => parseAgentConfig(raw, 'config.json')).toThrow(message);
  });
});

describe('etcd configuration', () => {
  test('identity by FQDN, DNS discovery, no IP anywhere', () => {
    const yaml = renderEtcdConfig(parseAgentConfig(valid));
    expect(yaml).toContain('name: peer-4\n');
    expect(yaml).toContain('discovery-srv: prod.etcd.internal\n');
    expect(yaml).toContain('initial-advertise-peer-urls: http://peer-4.prod.etcd.internal:2380\n');
    expect(yaml).toContain('advertise-client-urls: http://peer-4.prod.etcd.internal:2379\n');
    expect(yaml).toContain('initial-cluster-token: prod-etcd\n');
    expect(yaml).not.toMatch(/advertise[^\n]*\d+\.\d+\.\d+\.\d+/);
    expect(yaml).toContain('pre-vote: true\n');
  });

  test('TLS: https URLs and client certificate auth on both ports', () => {
    const yaml = renderEtcdConfig(parseAgentConfig({ ...valid, tls: true, pkiDir: '/pki', ca: { secretId: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/etcd/cluster-ca' } }));
    expect(yaml).toContain('initial-advertise-peer-urls: https://peer-4.prod.etcd.internal:2380\n');
    expect(yaml).toContain('peer-transport-security:\n  cert-file: /pki/peer.crt\n  key-file: /pki/peer.key\n  trusted-ca-file: /pki/ca.crt\n  client-cert-auth: true\n');
    expect(yaml).toContain('client-transport-security:\n  cert-file: /pki/server.crt\n');
  });
});
