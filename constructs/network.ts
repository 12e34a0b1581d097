import { Construct } from 'constructs';
import { Op, TerraformSelf } from 'cdktf';
import { currentRegionName } from './terraform-strings';
import { DataAwsSubnet } from '@cdktf/provider-aws/lib/data-aws-subnet';
import { DataAwsVpc } from '@cdktf/provider-aws/lib/data-aws-vpc';
import { DataAwsVpcEndpoint } from '@cdktf/provider-aws/lib/data-aws-vpc-endpoint';
import { Eip } from '@cdktf/provider-aws/lib/eip';
import { InternetGateway } from '@cdktf/provider-aws/lib/internet-gateway';
import { NatGateway } from '@cdktf/provider-aws/lib/nat-gateway';
import { RouteTable } from '@cdktf/provider-aws/lib/route-table';
import { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { Subnet } from '@cdktf/provider-aws/lib/subnet';
import { Vpc } from '@cdktf/provider-aws/lib/vpc';
import { VpcEndpoint } from '@cdktf/provider-aws/lib/vpc-endpoint';
import { CLUSTER_TAG_KEY } from '../contract/naming';

/** AWS APIs the node agent calls without the internet: EC2 and Auto Scaling for the volume, Secrets Manager for the cluster CA. */
export const INTERFACE_ENDPOINT_SERVICES = ['ec2', 'autoscaling', 'secretsmanager'] as const;

/** Props of {@link EtcdNetwork}. */
export interface EtcdNetworkProps {
  /** Cluster name, used in resource names and tags. */
  readonly clusterName: string;
  /** Availability zones, in the order that count-and-modulo uses (peer i in `zones[i % zones.length]`). */
  readonly zones: string[];
  /**
   * An existing VPC to deploy into. When set, `subnetIds` is required and no
   * network resources are created.
   * @default - a new VPC is created
   */
  readonly vpcId?: string;
  /**
   * Existing private subnets, one per zone and in the same order as `zones`.
   * Each subnet's zone, and that it lies in `vpcId`, is checked at plan time.
   * @default - one private subnet per zone is created
   */
  readonly subnetIds?: string[];
  /**
   * CIDR block of the created VPC; subnets are carved from it (/20 each for a /16).
   * @default '10.40.0.0/16'
   */
  readonly cidrBlock?: string;
  /**
   * Let the peers reach the internet. In a created VPC, that is one NAT gateway
   * per zone (so losing a zone never cuts the others off). Needed when the etcd
   * release is downloaded from the internet (the default `etcd.baseUrl`).
   *
   * Set to `false` for an air-gapped cluster: the peers' egress is limited to
   * HTTPS and DNS inside the VPC and HTTPS to S3, and the etcd release must come
   * from the artifact bucket (`etcd.baseUrl`) or the image (`etcd.preinstalled`).
   * A created VPC then gets interface endpoints for EC2, Auto Scaling and Secrets
   * Manager instead of NAT gateways. An existing VPC must already have them
   * (with private DNS, in its primary CIDR, open to the peers on 443) and an S3
   * gateway endpoint on the subnets' route tables; they are looked up at plan time.
   * @default true
   */
  readonly internetEgress?: boolean;
}

/**
 * The network the peers live in: a created VPC with one private subnet per
 * zone, or an existing VPC and subnets. Either way, an S3 gateway endpoint
 * lets instances fetch the node agent without the internet.
 */
export class EtcdNetwork extends Construct {
  /** The VPC id. */
  public readonly vpcId: string;
  /** One private subnet id per zone, in the order of `zones`. */
  public readonly subnetIds: string[];
  /** The created VPC's CIDR; `undefined` for an existing VPC. */
  public readonly cidrBlock?: string;
  /** Without internet egress: the S3 gateway endpoint's prefix list, for egress rules limited to the VPC and S3. */
  public readonly airGapped?: { readonly vpcCidr: string; readonly s3PrefixListId: string };

  constructor(scope: Construct, id: string, props: EtcdNetworkProps) {
    super(scope, id);
    const usesExisting = props.vpcId !== undefined || props.subnetIds !== undefined;
    if (usesExisting) {
      validateExistingNetwork(props);
      this.vpcId = props.vpcId!;
      this.subnetIds = [...props.subnetIds!];
      this.checkSubnets(props.zones, this.vpcId, this.subnetIds);
      if (props.internetEgress === false) this.airGapped = this.existingEndpoints(this.vpcId);
      return;
    }

    const cidrBlock = props.cidrBlock ?? '10.40.0.0/16';
    const prefix = parseCidr(cidrBlock, 'network.cidrBlock');
    if (prefix.length > 20) {
      throw new Error(`network.cidrBlock ${cidrBlock} is too small: use a /20 or larger so each zone gets a /24 or larger subnet`);
    }
    this.cidrBlock = cidrBlock;
    const tags = (name: string) => ({ Name: `${props.clusterName}-${name}`, [CLUSTER_TAG_KEY]: props.clusterName });

    const vpc = new Vpc(this, 'vpc', {
      cidrBlock,
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: tags('vpc'),
    });
    this.vpcId = vpc.id;

    // Private subnets take netnums 0..Z-1, public (NAT) ones 8..8+Z-1: adding a zone never renumbers another.
    const privateSubnets = props.zones.map(
      (zone, z) =>
        new Subnet(this, `private-${zone}`, {
          vpcId: vpc.id,
          availabilityZone: zone,
          cidrBlock: subnetCidr(cidrBlock, 4, z),
          mapPublicIpOnLaunch: false,
          tags: tags(`private-${zone}`),
        }),
    );
    this.subnetIds = privateSubnets.map((s) => s.id);

    const privateRouteTables = props.zones.map(
      (zone, z) =>
        new RouteTable(this, `private-routes-${zone}`, {
          vpcId: vpc.id,
          tags: tags(`private-${zone}`),
        }),
    );
    privateRouteTables.forEach(
      (table, z) =>
        new RouteTableAssociation(this, `private-routes-assoc-${props.zones[z]}`, {
          subnetId: privateSubnets[z].id,
          routeTableId: table.id,
        }),
    );

    const region = currentRegionName(this);
    const s3Endpoint = new VpcEndpoint(this, 's3-endpoint', {
      vpcId: vpc.id,
      serviceName: `com.amazonaws.${region}.s3`,
      vpcEndpointType: 'Gateway',
      routeTableIds: privateRouteTables.map((t) => t.id),
      tags: tags('s3'),
    });

    if (props.internetEgress ?? true) {
      const igw = new InternetGateway(this, 'igw', { vpcId: vpc.id, tags: tags('igw') });
      props.zones.forEach((zone, z) => {
        const publicSubnet = new Subnet(this, `public-${zone}`, {
          vpcId: vpc.id,
          availabilityZone: zone,
          cidrBlock: subnetCidr(cidrBlock, 4, 8 + z),
          mapPublicIpOnLaunch: false,
          tags: tags(`public-${zone}`),
        });
        const publicRoutes = new RouteTable(this, `public-routes-${zone}`, {
          vpcId: vpc.id,
          route: [{ cidrBlock: '0.0.0.0/0', gatewayId: igw.id }],
          tags: tags(`public-${zone}`),
        });
        new RouteTableAssociation(this, `public-routes-assoc-${zone}`, {
          subnetId: publicSubnet.id,
          routeTableId: publicRoutes.id,
        });
        const eip = new Eip(this, `nat-ip-${zone}`, { domain: 'vpc', tags: tags(`nat-${zone}`) });
        const nat = new NatGateway(this, `nat-${zone}`, {
          subnetId: publicSubnet.id,
          allocationId: eip.id,
          tags: tags(`nat-${zone}`),
          dependsOn: [igw],
        });
        privateRouteTables[z].putRoute([{ cidrBlock: '0.0.0.0/0', natGatewayId: nat.id }]);
      });
    } else {
      // Without a route out, the agent reaches the EC2 and Auto Scaling APIs through interface endpoints.
      const endpointGroup = new SecurityGroup(this, 'endpoint-sg', {
        name: `${props.clusterName}-endpoints`,
        description: 'HTTPS from the VPC to the interface endpoints used by the etcd node agent',
        vpcId: vpc.id,
        ingress: [{ fromPort: 443, toPort: 443, protocol: 'tcp', cidrBlocks: [cidrBlock], description: 'HTTPS from the VPC' }],
        tags: tags('endpoints'),
      });
      for (const service of INTERFACE_ENDPOINT_SERVICES) {
        new VpcEndpoint(this, `${service}-endpoint`, {
          vpcId: vpc.id,
          serviceName: `com.amazonaws.${region}.${service}`,
          vpcEndpointType: 'Interface',
          privateDnsEnabled: true,
          subnetIds: this.subnetIds,
          securityGroupIds: [endpointGroup.id],
          tags: tags(service),
        });
      }
      this.airGapped = { vpcCidr: cidrBlock, s3PrefixListId: s3Endpoint.prefixListId };
    }
  }

  /** Fails the plan, not the boot, when an existing subnet is in the wrong zone or another VPC. */
  private checkSubnets(zones: string[], vpcId: string, subnetIds: string[]): void {
    subnetIds.forEach((subnetId, z) => {
      new DataAwsSubnet(this, `existing-subnet-${zones[z]}`, {
        id: subnetId,
        lifecycle: {
          postcondition: [
            {
              condition: Op.eq(TerraformSelf.getString('availability_zone'), zones[z]),
              errorMessage: `network.subnetIds[${z}] must be a subnet in ${zones[z]} (zones[${z}]); order subnetIds like zones.`,
            },
            {
              condition: Op.eq(TerraformSelf.getString('vpc_id'), vpcId),
              errorMessage: `network.subnetIds[${z}] must be a subnet of network.vpcId (${vpcId}); the private hosted zone and the security group live in that VPC.`,
            },
          ],
        },
      });
    });
  }

  /**
   * Restricted egress in an existing VPC: looks up (at plan time) the endpoints
   * the peers need without the internet, and the VPC's CIDR for the egress rules.
   */
  private existingEndpoints(vpcId: string): { vpcCidr: string; s3PrefixListId: string } {
    const region = currentRegionName(this);
    const vpc = new DataAwsVpc(this, 'existing-vpc', { id: vpcId });
    const endpoint = (service: string, type: 'Gateway' | 'Interface') =>
      new DataAwsVpcEndpoint(this, `existing-${service}-endpoint`, {
        vpcId,
        serviceName: `com.amazonaws.${region}.${service}`,
        filter: [{ name: 'vpc-endpoint-type', values: [type] }],
        lifecycle: {
          postcondition: [
            {
              condition: type === 'Gateway' ? Op.eq(TerraformSelf.getString('state'), 'available') : TerraformSelf.getAny('private_dns_enabled'),
              errorMessage:
                `network.internetEgress: false in network.vpcId needs an available ${service} ${type.toLowerCase()} endpoint` +
                (type === 'Interface' ? ' with private DNS enabled' : '') + ' in that VPC (see the README: air-gapped VPCs).',
            },
          ],
        },
      });
    const s3 = endpoint('s3', 'Gateway');
    for (const service of INTERFACE_ENDPOINT_SERVICES) endpoint(service, 'Interface');
    return { vpcCidr: vpc.cidrBlock, s3PrefixListId: s3.prefixListId };
  }
}

function validateExistingNetwork(props: EtcdNetworkProps): void {
  if (props.vpcId === undefined) {
    throw new Error('network.subnetIds was given without network.vpcId: pass the VPC id of those subnets too');
  }
  if (props.subnetIds === undefined) {
    throw new Error('network.vpcId was given without network.subnetIds: pass one private subnet id per zone, in the order of zones');
  }
  if (props.subnetIds.length !== props.zones.length) {
    throw new Error(
      `network.subnetIds has ${props.subnetIds.length} subnets for ${props.zones.length} zones: ` +
        `pass exactly one subnet per zone, in the order of zones (${props.zones.join(', ')})`,
    );
  }
  if (new Set(props.subnetIds).size !== props.subnetIds.length) {
    throw new Error('network.subnetIds lists a subnet twice: each zone needs its own subnet');
  }
  if (props.cidrBlock !== undefined) {
    throw new Error('network.cidrBlock applies only to a created VPC: drop it when passing vpcId and subnetIds');
  }
}

/** Parses `a.b.c.d/len`; throws naming `propName` when malformed. */
export function parseCidr(cidr: string, propName: string): { address: number; length: number } {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = match ? match.slice(1, 5).map(Number) : [];
  const length = match ? Number(match[5]) : NaN;
  if (!match || octets.some((o) => o > 255) || length > 32) {
    throw new Error(`${propName} must be an IPv4 CIDR like 10.40.0.0/16, got "${cidr}"`);
  }
  const address = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  return { address, length };
}

/** Same as Terraform's `cidrsubnet(base, newbits, netnum)`, computed at synth time so plans show real CIDRs. */
export function subnetCidr(base: string, newbits: number, netnum: number): string {
  const { address, length } = parseCidr(base, 'cidr');
  const newLength = length + newbits;
  if (newLength > 32 || netnum >= 2 ** newbits) {
    throw new Error(`cannot carve subnet ${netnum} with ${newbits} extra bits from ${base}`);
  }
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  const subnet = ((address & mask) + netnum * 2 ** (32 - newLength)) >>> 0;
  const octets = [24, 16, 8, 0].map((shift) => (subnet >>> shift) & 255);
  return `${octets.join('.')}/${newLength}`;
}
