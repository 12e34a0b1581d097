/**
 * Where the cluster CA lives. Created exactly once by whichever peer boots
 * first; every other peer reads it. The CA key never leaves the store except
 * into the memory of an agent issuing a certificate.
 */
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createHash, randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import { join } from 'path';
import { AWS_RETRY, RetryOptions, SDK_CLIENT_CONFIG, withRetry } from '../runtime/retry';
import type { CertificateMaterial } from './pki';
import type { CaStore } from './ports';

function parseMaterial(text: string, where: string): CertificateMaterial {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${where} does not hold JSON; expected {"certPem": …, "keyPem": …}`);
  }
  const v = value as Partial<CertificateMaterial>;
  if (typeof v.certPem !== 'string' || typeof v.keyPem !== 'string') throw new Error(`${where} lacks certPem or keyPem`);
  return { certPem: v.certPem, keyPem: v.keyPem };
}

/**
 * The CA in a Secrets Manager secret (encrypted with the cluster's KMS key).
 * The stack creates the secret without a value; the first agent writes one
 * with a deterministic ClientRequestToken, so a second agent racing it gets
 * ResourceExistsException and reads the winner's CA instead of writing its own.
 */
export class SecretsManagerCaStore implements CaStore {
  constructor(
    private readonly secretId: string,
    private readonly client = new SecretsManagerClient(SDK_CLIENT_CONFIG),
    private readonly retry: RetryOptions = AWS_RETRY,
  ) {}

  /** The idempotency token of the one and only initial version. */
  static initialVersionToken(secretId: string): string {
    return `etcd-ca-initial-${createHash('sha256').update(secretId).digest('hex').slice(0, 40)}`;
  }

  async getOrCreate(create: () => Promise<CertificateMaterial>): Promise<CertificateMaterial> {
    const existing = await this.read();
    if (existing) return existing;
    const material = await create();
    try {
      await withRetry(
        () =>
          this.client.send(
            new PutSecretValueCommand({
              SecretId: this.secretId,
              ClientRequestToken: SecretsManagerCaStore.initialVersionToken(this.secretId),
              SecretString: JSON.stringify(material),
            }),
          ),
        this.retry,
      );
      return material;
    } catch (error) {
      if ((error as Error).name !== 'ResourceExistsException') throw error;
      const winner = await this.read();
      if (!winner) throw new Error(`secret ${this.secretId} reported a CA version that cannot be read`);
      return winner;
    }
  }

  private async read(): Promise<CertificateMaterial | undefined> {
    try {
      const r = await withRetry(() => this.client.send(new GetSecretValueCommand({ SecretId: this.secretId })), this.retry);
      if (!r.SecretString) throw new Error(`secret ${this.secretId} has a binary value; expected the CA as JSON`);
      return parseMaterial(r.SecretString, `secret ${this.secretId}`);
    } catch (error) {
      // A secret without any value yet answers ResourceNotFoundException too.
      if ((error as Error).name === 'ResourceNotFoundException') return undefined;
      throw error;
    }
  }
}

/** The CA in a directory (local mode): `ca.json`, created with an exclusive link so two agents cannot both write one. */
export class DirectoryCaStore implements CaStore {
  constructor(private readonly dir: string) {}

  async getOrCreate(create: () => Promise<CertificateMaterial>): Promise<CertificateMaterial> {
    const file = join(this.dir, 'ca.json');
    const existing = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
    if (existing !== undefined) return parseMaterial(existing, file);
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const material = await create();
    const temporary = join(this.dir, `ca.json.${process.pid}.${randomBytes(8).toString('hex')}`);
    await fs.writeFile(temporary, JSON.stringify(material), { mode: 0o600, flag: 'wx' });
    try {
      await fs.link(temporary, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      await fs.rm(temporary, { force: true });
    }
    // Whoever won, the file is the one CA: return what it holds.
    return parseMaterial(await fs.readFile(file, 'utf8'), file);
  }
}
