/**
 * The local launch template: which etcd the next launch installs, and the
 * template's version, which every change raises and each instance records at
 * launch, so the roller sees an instance as out of date as Auto Scaling's
 * template version shows it.
 */
import { EtcdBinaries, etcdEnv } from '../runtime/etcd-binaries';

/** What one launch of a peer runs, from the template as it is at that moment. */
export interface LaunchSpec {
  /** The etcd server the instance starts. */
  readonly etcd: EtcdBinaries;
  /** The environment of etcd itself on that instance. */
  readonly etcdEnv: NodeJS.ProcessEnv;
  readonly templateVersion: number;
}

export class LocalLaunchTemplate {
  private binaries: EtcdBinaries;
  private currentEnv: NodeJS.ProcessEnv;
  private currentVersion = 1;
  /** One group's own etcd, overriding the template's (`useEtcdFor`): upgrade-stops' broken binary. */
  private readonly etcdOf = new Map<number, EtcdBinaries>();

  constructor(etcd: EtcdBinaries) {
    this.binaries = etcd;
    this.currentEnv = etcdEnv(etcd);
  }

  /**
   * A new template: instances launched from now on run these binaries (their agent too), those running keep
   * theirs, as on AWS after a version change until the roller replaces them.
   */
  useEtcd(binaries: EtcdBinaries): void {
    this.binaries = binaries;
    this.currentEnv = etcdEnv(binaries);
    this.currentVersion++;
  }

  /**
   * A new version that changes nothing but itself, as raising `rolling.generation` does on AWS: every running
   * instance is out of date, so the roller replaces them all (rolling-replace).
   */
  rollGeneration(): void {
    this.currentVersion++;
  }

  /**
   * Peer `peerIndex`'s later launches start this etcd server instead of the template's (`undefined`: the
   * template's again), without a new version: the roller sees them as up to date. Only etcd itself is started
   * from it; the agent and etcdctl keep the template's PATH.
   */
  useEtcdFor(peerIndex: number, binaries: EtcdBinaries | undefined): void {
    if (binaries) this.etcdOf.set(peerIndex, binaries);
    else this.etcdOf.delete(peerIndex);
  }

  /** The template's version now. */
  get version(): number {
    return this.currentVersion;
  }

  /** The etcd version the template installs. */
  get etcd(): EtcdBinaries {
    return this.binaries;
  }

  /** The environment of the agent and etcdctl on instances launched now (the template's etcd on the PATH). */
  get env(): NodeJS.ProcessEnv {
    return this.currentEnv;
  }

  /** What peer `peerIndex` launched now runs. */
  launchOf(peerIndex: number): LaunchSpec {
    const own = this.etcdOf.get(peerIndex);
    return { etcd: own ?? this.binaries, etcdEnv: own ? etcdEnv(own) : this.currentEnv, templateVersion: this.currentVersion };
  }
}
