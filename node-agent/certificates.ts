/** Boot step 7 (and the daily renewal): this peer's certificates, issued from the cluster CA into the PKI dir. */
import { X509Certificate } from 'crypto';
import { promises as fs } from 'fs';
import { join } from 'path';
import type { AgentConfig } from '../contract/agent-config';
import { peerFqdn } from '../contract/naming';
import { createCa, issueCertificate, validateCa } from './pki';
import type { CaStore } from './ports';
import { ownDataDir, writeFileAtomically } from './system';

/** What {@link writePeerCertificates} issued. */
export interface IssuedCertificates {
  readonly names: string[];
  readonly notAfter: string;
}

/**
 * Issues this peer's certificate from the cluster CA (creating the CA if the
 * store holds none) and writes ca.crt, peer.crt/key and server.crt/key into
 * the PKI dir. etcd reloads certificate files on new connections, so a renewal
 * needs no restart.
 */
export async function writePeerCertificates(config: AgentConfig, caStore: CaStore): Promise<IssuedCertificates> {
  const ca = await caStore.getOrCreate(() => createCa(`${config.clusterName} etcd CA`));
  await validateCa(ca);
  const fqdn = peerFqdn(config.domain, config.peerIndex);
  const names = [fqdn, config.domain];
  const leaf = await issueCertificate(ca, { commonName: fqdn, dnsNames: names, lifetimeHours: config.certLifetimeHours, usage: 'peer' });
  await fs.mkdir(config.pkiDir, { recursive: true, mode: 0o755 });
  await writeFileAtomically(join(config.pkiDir, 'ca.crt'), ca.certPem, 0o644);
  for (const kind of ['peer', 'server']) {
    await writeFileAtomically(join(config.pkiDir, `${kind}.key`), leaf.keyPem, 0o600);
    await writeFileAtomically(join(config.pkiDir, `${kind}.crt`), leaf.certPem, 0o644);
  }
  // etcd runs as its own user and must read its key: a failed chown fails the boot rather than etcd later.
  if (config.etcdUser !== 'root') await ownDataDir(config.pkiDir, config.etcdUser);
  return { names, notAfter: new Date(new X509Certificate(leaf.certPem).validTo).toISOString() };
}
