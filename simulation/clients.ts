/**
 * The clients' side of the local cluster: a certificate from the cluster CA,
 * a host in a zone of its own (never killed or partitioned), and what a
 * client sees: health on each peer's address and the member list through
 * `etcdctl --discovery-srv`.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { parseMemberList } from '../node-agent/membership';
import { CertificateMaterial, issueCertificate } from '../node-agent/pki';
import { run } from '../node-agent/system';
import { createHost, Host, PREFIX, Zone } from './net';

/** The clients' certificate files, in `dir`. */
export interface ClientFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** Issues the load generator's client certificate from `ca` into `dir`. */
export async function writeClientCertificate(ca: CertificateMaterial, clusterName: string, dir: string): Promise<ClientFiles> {
  await fs.mkdir(dir, { recursive: true });
  const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'client.crt'), key: join(dir, 'client.key') };
  const clientCert = await issueCertificate(ca, { commonName: `${clusterName}-load-generator`, dnsNames: [], lifetimeHours: 24, usage: 'client' });
  await fs.writeFile(files.ca, ca.certPem);
  await fs.writeFile(files.cert, clientCert.certPem);
  await fs.writeFile(files.key, clientCert.keyPem, { mode: 0o600 });
  return files;
}

/** The clients' host (etcdctl, SRV discovery), in `zone`. */
export function createClientHost(zone: Zone): Promise<Host> {
  return createHost(`${PREFIX}-client`, `${PREFIX}-vclient`, zone, `${zone.prefix}.10`);
}

/** Member list (name → member id; a learner's name marked), by `etcdctl --discovery-srv` from the clients' namespace. */
export async function memberList(host: Host, domain: string, files: ClientFiles, env: NodeJS.ProcessEnv): Promise<Map<string, string>> {
  const r = await run('ip', [
    'netns', 'exec', host.namespace, 'etcdctl', '--discovery-srv', domain,
    '--cacert', files.ca, '--cert', files.cert, '--key', files.key,
    '--command-timeout', '5s', '-w', 'simple', 'member', 'list',
  ], 20_000, env);
  if (r.code !== 0) throw new Error(`etcdctl member list failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  return new Map(parseMemberList(r.stdout).map((m) => [m.name + (m.isLearner ? ' (learner)' : ''), m.id]));
}
