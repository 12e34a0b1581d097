/**
 * Security rules over a synthesized cdk.tf.json. Each returns the violations
 * it finds, one line per offending resource, so a test can show both that the
 * stack passes and that a deliberately broken stack is caught.
 */
import { parseAgentConfig } from '../../contract/agent-config';
import { renderEtcdConfig } from '../../node-agent/etcd-config';
import { CLUSTER_TAG_KEY, FORMATTED_TAG_KEY, PEER_INDEX_TAG_KEY } from '../../contract/naming';

type Json = Record<string, any>;
const resources = (tf: Json, type: string): [string, Json][] => Object.entries(tf.resource?.[type] ?? {});
const refersTo = (value: unknown, type: string, name: string) => typeof value === 'string' && value.includes(`${type}.${name}.`);

/**
 * Turns a `${base64encode(join("", [ "…", ref, "…" ]))}` user data expression
 * back into the script text, with each Terraform reference shown as `<ref:…>`.
 */
export function decodeUserData(expression: string): string {
  const inner = /^\$\{base64encode\(join\("", \[([\s\S]*)\]\)\)\}$/.exec(expression);
  if (!inner) throw new Error('user data is not base64encode(join(...)) of literals and references');
  let out = '';
  const body = inner[1];
  for (let i = 0; i < body.length; ) {
    const c = body[i];
    if (c === '"') {
      let j = i + 1;
      while (body[j] !== '"') {
        if (body[j] === '\\') {
          const next = body[j + 1];
          out += next === 'n' ? '\n' : next === 't' ? '\t' : next;
          j += 2;
        } else if (body.startsWith('$${', j)) {
          out += '${';
          j += 3;
        } else {
          out += body[j++];
        }
      }
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z0-9_.\-[\]]+/.exec(body.slice(i))!;
      out += `<ref:${m[0]}>`;
      i += m[0].length;
    } else {
      i++;
    }
  }
  return out;
}

/** EBS volumes (data and root) are encrypted, data volumes with a customer-managed key. */
export function ebsEncryptedWithKms(tf: Json): string[] {
  const v: string[] = [];
  for (const [name, vol] of resources(tf, 'aws_ebs_volume')) {
    if (vol.encrypted !== true) v.push(`aws_ebs_volume.${name} is not encrypted`);
    if (!vol.kms_key_id) v.push(`aws_ebs_volume.${name} has no customer-managed kms_key_id`);
  }
  for (const [name, lt] of resources(tf, 'aws_launch_template')) {
    for (const bd of lt.block_device_mappings ?? []) if (String(bd.ebs?.encrypted) !== 'true') v.push(`aws_launch_template.${name} has an unencrypted ${bd.device_name}`);
  }
  return v;
}

/** IMDSv2 is required with a hop limit of 1 on every launch template. */
export function imdsV2Required(tf: Json): string[] {
  return resources(tf, 'aws_launch_template').flatMap(([name, lt]) => {
    const m = lt.metadata_options ?? {};
    const v: string[] = [];
    if (m.http_tokens !== 'required') v.push(`aws_launch_template.${name} does not require IMDSv2 tokens`);
    if (m.http_put_response_hop_limit !== 1) v.push(`aws_launch_template.${name} has an IMDS hop limit other than 1`);
    return v;
  });
}

/** No instance or subnet hands out public IPs. */
export function noPublicIps(tf: Json): string[] {
  const v: string[] = [];
  for (const [name, lt] of resources(tf, 'aws_launch_template')) {
    for (const ni of lt.network_interfaces ?? []) if (String(ni.associate_public_ip_address) !== 'false') v.push(`aws_launch_template.${name} may associate a public IP`);
  }
  for (const [name, subnet] of resources(tf, 'aws_subnet')) if (subnet.map_public_ip_on_launch === true) v.push(`aws_subnet.${name} maps public IPs on launch`);
  return v;
}

/** Whether IPv4 CIDRs together cover every address (the world in pieces, e.g. 0.0.0.0/1 + 128.0.0.0/1). */
function coverTheWorld(cidrs: string[]): boolean {
  const ranges = cidrs
    .map((c) => /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(c))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => {
      const start = m.slice(1, 5).reduce((n, o) => n * 256 + Number(o), 0);
      return [start, start + 2 ** (32 - Number(m[5])) - 1];
    })
    .sort((a, b) => a[0] - b[0]);
  let reach = -1;
  for (const [first, last] of ranges) if (first <= reach + 1) reach = Math.max(reach, last);
  return reach === 2 ** 32 - 1;
}

/** Nothing is open to the world: no ingress from 0.0.0.0/0 or ::/0, nor from blocks that together cover it. */
export function noWorldIngress(tf: Json): string[] {
  const world = (cidr: unknown) => cidr === '0.0.0.0/0' || cidr === '::/0';
  const v: string[] = [];
  const cidrsByGroup = new Map<string, string[]>();
  for (const [name, rule] of resources(tf, 'aws_vpc_security_group_ingress_rule')) {
    if (world(rule.cidr_ipv4) || world(rule.cidr_ipv6)) v.push(`aws_vpc_security_group_ingress_rule.${name} allows the world`);
    else if (rule.cidr_ipv4) cidrsByGroup.set(rule.security_group_id, [...(cidrsByGroup.get(rule.security_group_id) ?? []), rule.cidr_ipv4]);
  }
  for (const [group, cidrs] of cidrsByGroup) if (coverTheWorld(cidrs)) v.push(`ingress rules of ${group} together allow the world (${cidrs.join(', ')})`);
  for (const [name, sg] of resources(tf, 'aws_security_group')) {
    for (const rule of sg.ingress ?? []) if ([...(rule.cidr_blocks ?? []), ...(rule.ipv6_cidr_blocks ?? [])].some(world)) v.push(`aws_security_group.${name} allows the world`);
  }
  return v;
}

const READ_ONLY = /^[a-z0-9-]+:(Describe|List|Get)[A-Za-z]*$/;

/**
 * Writes that have no resource ARNs in IAM, with the condition that is their only scope: allowed on "*" only
 * under that condition.
 */
const CONDITION_SCOPED_WRITES: Record<string, (st: Json) => boolean> = {
  'cloudwatch:PutMetricData': (st) => typeof st.Condition?.StringEquals?.['cloudwatch:namespace'] === 'string',
};

/**
 * No IAM statement allows a write action on `Resource: "*"`, except a write that has no resource ARNs and is
 * scoped by its condition. (Key policies are exempt: their "*" is the key itself.)
 */
export function noWildcardOnWrites(tf: Json): string[] {
  const v: string[] = [];
  for (const type of ['aws_iam_role_policy', 'aws_iam_policy']) {
    for (const [name, p] of resources(tf, type)) {
      for (const st of JSON.parse(p.policy).Statement) {
        if (st.Effect !== 'Allow') continue;
        const actions: string[] = [st.Action].flat();
        const wildcard = [st.Resource].flat().includes('*');
        const writes = actions.filter((a) => !READ_ONLY.test(a) && !CONDITION_SCOPED_WRITES[a]?.(st));
        if (wildcard && writes.length) v.push(`${type}.${name} allows ${writes.join(', ')} on "*"`);
      }
    }
  }
  return v;
}

/** Every bucket blocks public access entirely and denies requests without TLS. */
export function bucketsPrivateAndTlsOnly(tf: Json): string[] {
  const v: string[] = [];
  for (const [name] of resources(tf, 'aws_s3_bucket')) {
    const block = resources(tf, 'aws_s3_bucket_public_access_block').find(([, b]) => refersTo(b.bucket, 'aws_s3_bucket', name))?.[1];
    if (!block || !['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets'].every((k) => block[k] === true)) {
      v.push(`aws_s3_bucket.${name} does not block all public access`);
    }
    const policy = resources(tf, 'aws_s3_bucket_policy').find(([, b]) => refersTo(b.bucket, 'aws_s3_bucket', name))?.[1];
    const tlsOnly = policy && JSON.parse(policy.policy).Statement.some((s: Json) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false');
    if (!tlsOnly) v.push(`aws_s3_bucket.${name} does not deny requests without TLS`);
  }
  return v;
}

/** Log groups keep logs for a bounded time and are encrypted with a customer-managed key. */
export function logGroupsRetainedAndEncrypted(tf: Json): string[] {
  return resources(tf, 'aws_cloudwatch_log_group').flatMap(([name, lg]) => {
    const v: string[] = [];
    if (!(lg.retention_in_days > 0)) v.push(`aws_cloudwatch_log_group.${name} keeps logs forever (no retention_in_days)`);
    if (!lg.kms_key_id) v.push(`aws_cloudwatch_log_group.${name} is not encrypted with a customer-managed key`);
    return v;
  });
}

/** Every peer's etcd runs TLS on both ports with client certificate auth, as its boot configuration renders it. */
export function etcdTlsConfigured(tf: Json): string[] {
  return resources(tf, 'aws_launch_template').flatMap(([name, lt]) => {
    const script = decodeUserData(lt.user_data);
    const json = /<<'END_OF_CONFIG'\n([\s\S]*?)\nEND_OF_CONFIG/.exec(script)?.[1];
    if (!json) return [`aws_launch_template.${name} carries no agent configuration`];
    let etcdConfig: string;
    try {
      etcdConfig = renderEtcdConfig(parseAgentConfig(JSON.parse(json), `aws_launch_template.${name}`));
    } catch (error) {
      return [`aws_launch_template.${name}: ${(error as Error).message}`];
    }
    const v: string[] = [];
    if ((etcdConfig.match(/client-cert-auth: true/g) ?? []).length !== 2) v.push(`aws_launch_template.${name}: etcd does not require client certificates on both ports`);
    if (/^(listen|advertise|initial-advertise)[a-z-]*-urls: http:/m.test(etcdConfig)) v.push(`aws_launch_template.${name}: etcd serves plain http`);
    return v;
  });
}

const matchesAction = (pattern: string, action: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i').test(action);
const VOLUME_ACTIONS = ['ec2:AttachVolume', 'ec2:DetachVolume', 'ec2:CreateTags'];
const refName = (value: unknown, type: string) => (typeof value === 'string' ? new RegExp(`\\$\\{${type}\\.([\\w-]+)\\.`).exec(value)?.[1] : undefined);

/** Every Allow statement of the inline and attached policies of role `roleName`, with where it comes from. */
function statementsOfRole(tf: Json, roleName: string): { from: string; st: Json }[] {
  const out: { from: string; st: Json }[] = [];
  for (const [name, p] of resources(tf, 'aws_iam_role_policy')) {
    if (refName(p.role, 'aws_iam_role') === roleName) for (const st of JSON.parse(p.policy).Statement) out.push({ from: `aws_iam_role_policy.${name}`, st });
  }
  for (const [, a] of resources(tf, 'aws_iam_role_policy_attachment')) {
    if (refName(a.role, 'aws_iam_role') !== roleName) continue;
    const policyName = refName(a.policy_arn, 'aws_iam_policy');
    const policy = policyName ? tf.resource.aws_iam_policy?.[policyName] : undefined;
    if (!policy) {
      out.push({ from: `an attached policy ${a.policy_arn}`, st: { Effect: 'Allow', Action: '*', Resource: '*' } }); // unknown: assume the worst
      continue;
    }
    for (const st of JSON.parse(policy.policy).Statement) out.push({ from: `aws_iam_policy.${policyName}`, st });
  }
  return out.filter(({ st }) => st.Effect === 'Allow');
}

/**
 * Each peer's instances can attach, detach and tag only that peer's volume: every statement of the role its
 * launch template runs with that allows ec2:AttachVolume, ec2:DetachVolume or ec2:CreateTags is conditioned on the
 * cluster's tag and on the peer-index tag of that very peer (further conditions only narrow an Allow), and
 * CreateTags is limited to the formatted-at tag key.
 */
export function eachPeerAttachesOnlyItsOwnVolume(tf: Json): string[] {
  const v: string[] = [];
  for (const [name, lt] of resources(tf, 'aws_launch_template')) {
    const instanceTags = (lt.tag_specifications ?? []).find((t: Json) => t.resource_type === 'instance')?.tags ?? {};
    const peer = instanceTags[PEER_INDEX_TAG_KEY];
    const cluster = instanceTags[CLUSTER_TAG_KEY];
    const profileName = refName(lt.iam_instance_profile?.arn ?? lt.iam_instance_profile?.name, 'aws_iam_instance_profile');
    const roleName = profileName ? refName(tf.resource.aws_iam_instance_profile?.[profileName]?.role, 'aws_iam_role') : undefined;
    if (peer === undefined || !roleName) {
      v.push(`aws_launch_template.${name} has no peer-index tag or no instance role this rule can follow`);
      continue;
    }
    for (const { from, st } of statementsOfRole(tf, roleName)) {
      const actions: string[] = [st.Action].flat();
      if (!actions.some((a) => VOLUME_ACTIONS.some((va) => matchesAction(a, va)))) continue;
      const equals = st.Condition?.StringEquals ?? {};
      if (equals[`aws:ResourceTag/${PEER_INDEX_TAG_KEY}`] !== peer || equals[`aws:ResourceTag/${CLUSTER_TAG_KEY}`] !== cluster) {
        v.push(`aws_launch_template.${name} (peer ${peer}) may attach or detach volumes other than its own through ${from} (${st.Sid ?? 'a statement'}: ${JSON.stringify(st.Condition ?? 'no condition')})`);
      }
      const tagKeys = st.Condition?.['ForAllValues:StringEquals']?.['aws:TagKeys'];
      if (actions.some((a) => matchesAction(a, 'ec2:CreateTags')) && JSON.stringify([tagKeys].flat()) !== JSON.stringify([FORMATTED_TAG_KEY])) {
        v.push(`aws_launch_template.${name} (peer ${peer}) may set tag keys other than ${FORMATTED_TAG_KEY} through ${from} (${st.Sid ?? 'a statement'})`);
      }
    }
  }
  return v;
}

export const RULES = {
  eachPeerAttachesOnlyItsOwnVolume,
  ebsEncryptedWithKms,
  imdsV2Required,
  noPublicIps,
  noWorldIngress,
  noWildcardOnWrites,
  bucketsPrivateAndTlsOnly,
  logGroupsRetainedAndEncrypted,
  etcdTlsConfigured,
};
