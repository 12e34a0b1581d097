import { execFileSync, spawnSync } from 'child_process';
import { X509Certificate } from 'crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { mockClient } from 'aws-sdk-client-mock';
import { GetSecretValueCommand, PutSecretValueCommand, ResourceExistsException, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { writePeerCertificates } from '../../node-agent/certificates';
import { DirectoryCaStore, SecretsManagerCaStore } from '../../node-agent/ca-store';
import { parseAgentConfig } from '../../contract/agent-config';
import { createCa, issueCertificate, validateCa } from '../../node-agent/pki';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0 || process.env.CI === 'true';

describe('certificates issued by the agent (checked with OpenSSL through node:crypto)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'pki-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('a peer certificate: the FQDN and the SRV domain as SANs, the asked lifetime, server+client auth, chained to the CA', async () => {
    const now = new Date('2026-11-24T12:00:00Z');
    const ca = await createCa('prod etcd CA', now);
    const leaf = await issueCertificate(ca, { commonName: 'peer-3.prod.internal', dnsNames: ['peer-3.prod.internal', 'prod.internal'], lifetimeHours: 720, usage: 'peer', now });
    const cert = new X509Certificate(leaf.certPem);
    const caCert = new X509Certificate(ca.certPem);
    expect(cert.subjectAltName).toBe('DNS:peer-3.prod.internal, DNS:prod.internal');
    expect(cert.subject).toBe('CN=peer-3.prod.internal');
    expect(new Date(cert.validTo).getTime() - now.getTime()).toBe(720 * 3_600_000);
    expect(now.getTime() - new Date(cert.validFrom).getTime()).toBe(5 * 60_000);
    expect(cert.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(cert.ca).toBe(false);
    expect(caCert.ca).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(require('crypto').createPrivateKey(leaf.keyPem))).toBe(true);
    // Another CA did not sign it.
    const other = new X509Certificate((await createCa('other CA')).certPem);
    expect(cert.verify(other.publicKey)).toBe(false);
  });

  (hasOpenssl ? test : test.skip)('openssl verify accepts the peer certificate for server and client use, the client one only for client use', async () => {
    const ca = await createCa('prod etcd CA');
    const peer = await issueCertificate(ca, { commonName: 'peer-0.prod.internal', dnsNames: ['peer-0.prod.internal', 'prod.internal'], lifetimeHours: 24, usage: 'peer' });
    const client = await issueCertificate(ca, { commonName: 'kube-apiserver', dnsNames: [], lifetimeHours: 24, usage: 'client' });
    writeFileSync(join(dir, 'ca.crt'), ca.certPem);
    writeFileSync(join(dir, 'peer.crt'), peer.certPem);
    writeFileSync(join(dir, 'client.crt'), client.certPem);
    const verify = (file: string, purpose: string) => spawnSync('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), '-purpose', purpose, join(dir, file)], { encoding: 'utf8' }).status;
    expect(verify('peer.crt', 'sslserver')).toBe(0);
    expect(verify('peer.crt', 'sslclient')).toBe(0);
    expect(verify('client.crt', 'sslclient')).toBe(0);
    expect(verify('client.crt', 'sslserver')).not.toBe(0);
    expect(execFileSync('openssl', ['x509', '-in', join(dir, 'peer.crt'), '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' })).toContain('DNS:peer-0.prod.internal, DNS:prod.internal');
  });

  test('a stored CA whose key does not match, that is not a CA, or that expired is refused', async () => {
    const a = await createCa('a');
    const b = await createCa('b');
    await expect(validateCa(a)).resolves.toBeUndefined();
    await expect(validateCa({ certPem: a.certPem, keyPem: b.keyPem })).rejects.toThrow('the stored cluster CA key does not match its certificate');
    const leaf = await issueCertificate(a, { commonName: 'x', dnsNames: [], lifetimeHours: 1, usage: 'client' });
    await expect(validateCa(leaf)).rejects.toThrow('is not a CA');
    await expect(validateCa(a, new Date(Date.now() + 3651 * 86_400_000))).rejects.toThrow('the cluster CA expired');
    await expect(validateCa({ certPem: 'garbage', keyPem: a.keyPem })).rejects.toThrow('cannot be parsed');
  });

  test('the agent writes ca.crt, peer and server certificates, keys readable by their owner only', async () => {
    const config = parseAgentConfig({
      mode: 'local', clusterName: 'sim', domain: 'sim.test', peerIndex: 2, peerCount: 3, dataDir: join(dir, 'data'), etcdUser: 'root',
      clusterToken: 't', tls: true, pkiDir: join(dir, 'pki'), ca: { dir: join(dir, 'ca') }, certLifetimeHours: 48,
      local: { volumeFile: '/unused', ipAddress: '10.0.0.2' },
    });
    const issued = await writePeerCertificates(config, new DirectoryCaStore(join(dir, 'ca')));
    expect(issued.names).toEqual(['peer-2.sim.test', 'sim.test']);
    const peer = new X509Certificate(readFileSync(join(dir, 'pki', 'peer.crt')));
    expect(peer.checkIssued(new X509Certificate(readFileSync(join(dir, 'pki', 'ca.crt'))))).toBe(true);
    expect(readFileSync(join(dir, 'pki', 'server.crt'), 'utf8')).toBe(readFileSync(join(dir, 'pki', 'peer.crt'), 'utf8'));
    expect(statSync(join(dir, 'pki', 'peer.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'pki', 'server.key')).mode & 0o777).toBe(0o600);
    // A renewal issues a new certificate from the same CA.
    await writePeerCertificates(config, new DirectoryCaStore(join(dir, 'ca')));
    expect(new X509Certificate(readFileSync(join(dir, 'pki', 'peer.crt'))).serialNumber).not.toBe(peer.serialNumber);
  });
});

describe('node-agent issue-client-cert', () => {
  test('issues a client certificate from an existing CA, and never creates one', async () => {
    const { main } = await import('../../node-agent/cli');
    const dir = mkdtempSync(join(tmpdir(), 'client-'));
    const quiet = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const quietErr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['issue-client-cert', '--ca-dir', join(dir, 'ca'), '--name', 'kube-apiserver', '--out', join(dir, 'out')])).toBe(1);
      const ca = await new DirectoryCaStore(join(dir, 'ca')).getOrCreate(() => createCa('prod'));
      expect(await main(['issue-client-cert', '--ca-dir', join(dir, 'ca'), '--name', 'kube-apiserver', '--out', join(dir, 'out'), '--hours', '48'])).toBe(0);
      const cert = new X509Certificate(readFileSync(join(dir, 'out', 'kube-apiserver.crt')));
      expect(cert.subject).toBe('CN=kube-apiserver');
      expect(cert.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
      expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
      expect(statSync(join(dir, 'out', 'kube-apiserver.key')).mode & 0o777).toBe(0o600);
      expect(await main(['issue-client-cert', '--ca-dir', join(dir, 'ca'), '--name', 'bad name', '--out', join(dir, 'out')])).toBe(2);
    } finally {
      quiet.mockRestore();
      quietErr.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('where the CA lives', () => {
  test('a directory: agents racing to create it all end up with one CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ca-'));
    try {
      let created = 0;
      const make = async () => {
        created++;
        return createCa('race');
      };
      const results = await Promise.all(Array.from({ length: 5 }, () => new DirectoryCaStore(dir).getOrCreate(make)));
      expect(new Set(results.map((r) => r.certPem)).size).toBe(1);
      expect(created).toBeGreaterThanOrEqual(1);
      const again = await new DirectoryCaStore(dir).getOrCreate(async () => {
        throw new Error('must not create a second CA');
      });
      expect(again.certPem).toBe(results[0].certPem);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('Secrets Manager (mocked SDK)', () => {
    const sm = mockClient(SecretsManagerClient);
    const secretId = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/etcd/cluster-ca-AbCdEf';
    const noWait = { attempts: 3, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => undefined };
    beforeEach(() => sm.reset());

    test('an existing CA is read, never rewritten', async () => {
      const ca = await createCa('prod');
      sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(ca) });
      const got = await new SecretsManagerCaStore(secretId, new SecretsManagerClient({}), noWait).getOrCreate(async () => {
        throw new Error('must not create');
      });
      expect(got).toEqual(ca);
      expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    });

    test('no CA yet: the first agent writes one with the fixed initial-version token', async () => {
      sm.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT", $metadata: {} }));
      sm.on(PutSecretValueCommand).resolves({});
      const ca = await createCa('prod');
      const got = await new SecretsManagerCaStore(secretId, new SecretsManagerClient({}), noWait).getOrCreate(async () => ca);
      expect(got).toEqual(ca);
      expect(sm.commandCalls(PutSecretValueCommand)[0].args[0].input).toEqual({
        SecretId: secretId,
        ClientRequestToken: SecretsManagerCaStore.initialVersionToken(secretId),
        SecretString: JSON.stringify(ca),
      });
      expect(SecretsManagerCaStore.initialVersionToken(secretId)).toMatch(/^etcd-ca-initial-[0-9a-f]{40}$/);
    });

    test('an agent that lost the race reads the winner\'s CA instead of its own', async () => {
      const winner = await createCa('winner');
      sm.on(GetSecretValueCommand)
        .rejectsOnce(new ResourceNotFoundException({ message: 'no value', $metadata: {} }))
        .resolves({ SecretString: JSON.stringify(winner) });
      sm.on(PutSecretValueCommand).rejects(new ResourceExistsException({ message: 'A resource with the ID you requested already exists.', $metadata: {} }));
      const got = await new SecretsManagerCaStore(secretId, new SecretsManagerClient({}), noWait).getOrCreate(() => createCa('loser'));
      expect(got).toEqual(winner);
    });

    test('a secret holding something else is a clear error', async () => {
      sm.on(GetSecretValueCommand).resolves({ SecretString: '{"hello":"world"}' });
      await expect(new SecretsManagerCaStore(secretId, new SecretsManagerClient({}), noWait).getOrCreate(() => createCa('x'))).rejects.toThrow(`secret ${secretId} lacks certPem or keyPem`);
    });
  });
});
