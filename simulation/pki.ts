/**
 * A local CA for the simulated cluster (openssl): peer certificates for
 * `peer-N.<domain>` with the SRV domain as a second SAN, as etcd's DNS
 * discovery expects, and one client certificate for the load generator.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { runChecked } from '../node-agent/system';

/** Paths of one certificate and its key. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

/** A CA kept in `dir`. */
export class LocalCa {
  readonly cert: string;
  private readonly key: string;

  constructor(private readonly dir: string) {
    this.cert = join(dir, 'ca.crt');
    this.key = join(dir, 'ca.key');
  }

  async create(name: string): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    await runChecked('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', this.key, '-out', this.cert, '-days', '2', '-subj', `/CN=${name}`,
    ]);
  }

  /** Issues a certificate valid for server and client auth with the given DNS names. */
  async issue(fileName: string, commonName: string, dnsNames: string[]): Promise<CertFiles> {
    const key = join(this.dir, `${fileName}.key`);
    const csr = join(this.dir, `${fileName}.csr`);
    const cert = join(this.dir, `${fileName}.crt`);
    const ext = join(this.dir, `${fileName}.ext`);
    await runChecked('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${commonName}`]);
    const san = dnsNames.length ? `subjectAltName=${dnsNames.map((d) => `DNS:${d}`).join(',')}\n` : '';
    await fs.writeFile(ext, `${san}extendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n`);
    await runChecked('openssl', ['x509', '-req', '-in', csr, '-CA', this.cert, '-CAkey', this.key, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
    return { cert, key };
  }
}
