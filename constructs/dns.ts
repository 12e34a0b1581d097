import { Construct } from 'constructs';
import { Route53Record } from '@cdktf/provider-aws/lib/route53-record';
import { Route53Zone } from '@cdktf/provider-aws/lib/route53-zone';
import {
  ETCD_CLIENT_PORT,
  ETCD_PEER_PORT,
  peerFqdn,
  peerIndices,
  peerName,
  srvNames,
  srvRecordValues,
  SrvNames,
  PLACEHOLDER_ADDRESS,
} from '../contract/naming';


/** Props of {@link EtcdDns}. */
export interface EtcdDnsProps {
  /** Private domain of the cluster, e.g. `etcd.internal`. */
  readonly domain: string;
  /** VPC the private hosted zone is associated with. */
  readonly vpcId: string;
  /** Number of peers: one `peer-N` A record each. */
  readonly peerCount: number;
  /** Publish the TLS SRV names (`_etcd-server-ssl._tcp`) instead of the plain ones. */
  readonly tls: boolean;
  /**
   * TTL of the `peer-N` A records, in seconds. Short, so a replaced peer is found quickly.
   * @default 10
   */
  readonly peerRecordTtl?: number;
  /**
   * TTL of the SRV records, in seconds. They never change while the size stays.
   * @default 60
   */
  readonly srvRecordTtl?: number;
}

/**
 * The cluster's private DNS: a Route 53 zone in the VPC, one placeholder A
 * record per peer that the DNS updater owns from then on, and the static SRV
 * records that etcd's `--discovery-srv` reads.
 */
export class EtcdDns extends Construct {
  /** The hosted zone. */
  public readonly zone: Route53Zone;
  /** The SRV record names published. */
  public readonly srvNames: SrvNames;
  /** Peer FQDNs, by index. */
  public readonly peerFqdns: string[];

  constructor(scope: Construct, id: string, props: EtcdDnsProps) {
    super(scope, id);
    const peerTtl = props.peerRecordTtl ?? 10;
    const srvTtl = props.srvRecordTtl ?? 60;
    if (!Number.isInteger(peerTtl) || peerTtl < 1 || peerTtl > 300) {
      throw new Error(`peerRecordTtl must be a whole number of seconds from 1 to 300 (short, so replacements are found fast), got ${peerTtl}`);
    }
    if (!Number.isInteger(srvTtl) || srvTtl < 1 || srvTtl > 86400) {
      throw new Error(`srvRecordTtl must be a whole number of seconds from 1 to 86400, got ${srvTtl}`);
    }

    this.zone = new Route53Zone(this, 'zone', {
      name: props.domain,
      comment: `etcd cluster discovery for ${props.domain}; peer-N records are written by the DNS updater`,
      vpc: [{ vpcId: props.vpcId }],
    });

    this.peerFqdns = peerIndices(props.peerCount).map((i) => peerFqdn(props.domain, i));
    for (const i of peerIndices(props.peerCount)) {
      new Route53Record(this, peerName(i), {
        zoneId: this.zone.zoneId,
        name: this.peerFqdns[i],
        type: 'A',
        ttl: peerTtl,
        records: [PLACEHOLDER_ADDRESS],
        // The DNS updater is the only writer after creation; a plan must never put the placeholder back.
        lifecycle: { ignoreChanges: ['records', 'ttl'] },
      });
    }

    this.srvNames = srvNames(props.domain, props.tls);
    new Route53Record(this, 'srv-server', {
      zoneId: this.zone.zoneId,
      name: this.srvNames.server,
      type: 'SRV',
      ttl: srvTtl,
      records: srvRecordValues(props.domain, props.peerCount, ETCD_PEER_PORT),
    });
    new Route53Record(this, 'srv-client', {
      zoneId: this.zone.zoneId,
      name: this.srvNames.client,
      type: 'SRV',
      ttl: srvTtl,
      records: srvRecordValues(props.domain, props.peerCount, ETCD_CLIENT_PORT),
    });
  }
}
