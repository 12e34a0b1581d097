/**
 * Certificates for etcd, issued by the agent at every boot: a cluster CA kept
 * in secret storage (created once, by whichever peer boots first), and for
 * peer N one short-lived certificate for `peer-N.<domain>` plus the SRV domain,
 * valid for server and client auth (etcd uses it on both ports and as a peer
 * client). ECDSA P-256 through WebCrypto; @peculiar/x509 builds the DER.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, createPublicKey, randomBytes, webcrypto } from 'crypto';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

// @peculiar/x509 expects the DOM's Crypto; Node's webcrypto implements it.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A CA or leaf certificate and its private key, both PEM. */
export interface CertificateMaterial {
  readonly certPem: string;
  /** PKCS#8 PEM. */
  readonly keyPem: string;
}

/** Lifetime of the cluster CA. */
export const CA_LIFETIME_DAYS = 3650;

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f; // positive
  return bytes.toString('hex');
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

async function importKey(keyPem: string): Promise<CryptoKey> {
  const der = Buffer.from(keyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, true, ['sign']) as Promise<CryptoKey>;
}

/** Creates a self-signed CA for a cluster. */
export async function createCa(commonName: string, now = new Date()): Promise<CertificateMaterial> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + CA_LIFETIME_DAYS * 86_400_000),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: pem('PRIVATE KEY', (await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) as ArrayBuffer) };
}

/** Options of {@link issueCertificate}. */
export interface IssueOptions {
  readonly commonName: string;
  /** DNS subject alternative names. */
  readonly dnsNames: string[];
  readonly lifetimeHours: number;
  /** Server and client auth (peers), or client auth only (users such as kube-apiserver). */
  readonly usage: 'peer' | 'client';
  readonly now?: Date;
}

/** Issues a leaf certificate signed by `ca`, with a fresh key. */
export async function issueCertificate(ca: CertificateMaterial, options: IssueOptions): Promise<CertificateMaterial> {
  if (!(options.lifetimeHours > 0)) throw new Error(`certificate lifetime must be positive, got ${options.lifetimeHours} hours`);
  const now = options.now ?? new Date();
  const caCert = new x509.X509Certificate(ca.certPem);
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const usages = options.usage === 'peer' ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.clientAuth];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
    new x509.ExtendedKeyUsageExtension(usages),
    await x509.AuthorityKeyIdentifierExtension.create(caCert),
  ];
  if (options.dnsNames.length) extensions.push(new x509.SubjectAlternativeNameExtension(options.dnsNames.map((value) => ({ type: 'dns' as const, value }))));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${options.commonName}`,
    issuer: caCert.subject,
    // A few minutes back: a peer whose clock is slightly behind must still accept it.
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + options.lifetimeHours * 3_600_000),
    signingKey: await importKey(ca.keyPem),
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions,
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: pem('PRIVATE KEY', (await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) as ArrayBuffer) };
}

/** Checks that a stored CA is usable: parses, is a CA, key matches, not expired. */
export async function validateCa(ca: CertificateMaterial, now = new Date()): Promise<void> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(ca.certPem);
  } catch (error) {
    throw new Error(`the stored cluster CA certificate cannot be parsed: ${(error as Error).message}`);
  }
  if (cert.notAfter <= now) throw new Error(`the cluster CA expired on ${cert.notAfter.toISOString()}; rotate it (see the README)`);
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  if (!basic?.ca) throw new Error('the stored cluster CA certificate is not a CA (basicConstraints cA is false)');
  let keyMatches = false;
  try {
    const fromKey = createPublicKey(createPrivateKey(ca.keyPem)).export({ type: 'spki', format: 'der' });
    keyMatches = Buffer.from(cert.publicKey.rawData).equals(fromKey);
  } catch (error) {
    throw new Error(`the stored cluster CA key cannot be read: ${(error as Error).message}`);
  }
  if (!keyMatches) throw new Error('the stored cluster CA key does not match its certificate');
}
