import { Construct } from 'constructs';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { currentRegionName } from './terraform-strings';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { CLUSTER_TAG_KEY } from '../contract/naming';

/** Props of {@link EtcdEncryption}. */
export interface EtcdEncryptionProps {
  /** Name of the cluster, in the key's alias and tags. */
  readonly clusterName: string;
  /**
   * An existing customer-managed key to use instead of creating one. Its key
   * policy must let this account's IAM policies grant use, and let CloudWatch
   * Logs use it for this account's log groups.
   * @default - a key is created, with rotation on
   */
  readonly kmsKeyArn?: string;
}

/**
 * The cluster's customer-managed KMS key: volumes, the artifact bucket, the
 * CA secret, the DNS updater's environment and logs, and the alarm topic
 * are encrypted with it.
 */
export class EtcdEncryption extends Construct {
  /** ARN of the key in use. */
  public readonly keyArn: string;

  constructor(scope: Construct, id: string, props: EtcdEncryptionProps) {
    super(scope, id);
    if (props.kmsKeyArn !== undefined) {
      validateKmsKeyArn(props.kmsKeyArn, 'kmsKeyArn');
      this.keyArn = props.kmsKeyArn;
      return;
    }
    const account = new DataAwsCallerIdentity(this, 'account').accountId;
    const region = currentRegionName(this);
    const partition = new DataAwsPartition(this, 'partition').partition;
    const key = new KmsKey(this, 'key', {
      description: `etcd cluster ${props.clusterName}: volumes, artifacts, CA secret, DNS updater logs`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      tags: { [CLUSTER_TAG_KEY]: props.clusterName },
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            // Key policies' "*" resource means this key. IAM policies in the account grant the actual uses.
            Sid: 'AccountAdministersAndDelegatesToIam',
            Effect: 'Allow',
            Principal: { AWS: `arn:${partition}:iam::${account}:root` },
            Action: 'kms:*',
            Resource: '*',
          },
          {
            Sid: 'CloudWatchLogsOfThisAccount',
            Effect: 'Allow',
            Principal: { Service: `logs.${region}.amazonaws.com` },
            Action: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
            Resource: '*',
            Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${partition}:logs:${region}:${account}:log-group:*` } },
          },
          {
            // Alarms publish to the cluster's alarm topic, which this key encrypts.
            Sid: 'CloudWatchAlarmsOfThisAccount',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Resource: '*',
            Condition: { StringEquals: { 'aws:SourceAccount': account } },
          },
        ],
      }),
    });
    new KmsAlias(this, 'alias', { name: `alias/${props.clusterName}-etcd`, targetKeyId: key.keyId });
    this.keyArn = key.arn;
  }
}

/** A KMS key ARN (or a Terraform reference to one); throws naming `propName`. */
export function validateKmsKeyArn(arn: string, propName: string): void {
  if (!/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/.test(arn) && !arn.startsWith('${')) {
    throw new Error(`${propName} must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/UUID), got "${arn}"; aliases are not accepted because IAM policies need the key`);
  }
}
