import { Construct } from 'constructs';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration';
import { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning';
import { CLUSTER_TAG_KEY } from '../contract/naming';

/** Props of {@link PrivateBucket}. */
export interface PrivateBucketProps {
  /** Name of the cluster, in the bucket's name and tags. */
  readonly clusterName: string;
  /** What the bucket holds, in its name: `<cluster>-etcd-<purpose>-…`. */
  readonly purpose: string;
  /** KMS key for default encryption. */
  readonly kmsKeyArn?: string;
}

/** A bucket as every bucket of the cluster must be: private, KMS-encrypted, versioned, TLS only, never force-destroyed. */
export class PrivateBucket extends Construct {
  /** The bucket. */
  public readonly bucket: S3Bucket;

  constructor(scope: Construct, id: string, props: PrivateBucketProps) {
    super(scope, id);
    this.bucket = new S3Bucket(this, 'bucket', {
      bucketPrefix: `${props.clusterName.slice(0, 24)}-etcd-${props.purpose}-`,
      forceDestroy: false,
      tags: { [CLUSTER_TAG_KEY]: props.clusterName },
    });
    new S3BucketPublicAccessBlock(this, 'public-access-block', {
      bucket: this.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketServerSideEncryptionConfigurationA(this, 'encryption', {
      bucket: this.bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: props.kmsKeyArn }, bucketKeyEnabled: true }],
    });
    new S3BucketVersioningA(this, 'versioning', { bucket: this.bucket.id, versioningConfiguration: { status: 'Enabled' } });
    new S3BucketPolicy(this, 'tls-only', {
      bucket: this.bucket.id,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'DenyInsecureTransport',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: [this.bucket.arn, `${this.bucket.arn}/*`],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      }),
    });
  }
}
