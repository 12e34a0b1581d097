/**
 * Hosts and zones on one machine: each zone is a Linux bridge with its own
 * /24 (10.77.Z.0/24, gateway .1 on the host), each instance a network
 * namespace joined to its zone's bridge by a veth pair. The host routes
 * between zones; namespaces get a route for the simulation's /16 only, so
 * nothing they send can leave the machine.
 */
import { promises as fs } from 'fs';
import { run, runChecked } from '../node-agent/system';

/** Prefix of every namespace, link and file the simulation creates: clean-up finds leftovers by it. */
export const PREFIX = 'etcdsim';
export const SIM_NETWORK = '10.77.0.0/16';

/** One simulated availability zone. */
export interface Zone {
  readonly index: number;
  readonly bridge: string;
  readonly gateway: string;
  /** First three octets, e.g. `10.77.1`. */
  readonly prefix: string;
}

/** One simulated instance: a namespace with an address in its zone. */
export interface Host {
  readonly namespace: string;
  readonly hostVeth: string;
  readonly ip: string;
  readonly zone: Zone;
}

/** Zone z's bridge and addresses. Zone index `clientZone` is reserved for the clients' host. */
export function zoneAt(index: number): Zone {
  return { index, bridge: `${PREFIX}-br${index}`, gateway: `10.77.${index}.1`, prefix: `10.77.${index}` };
}

export async function createZone(zone: Zone): Promise<void> {
  await runChecked('ip', ['link', 'add', zone.bridge, 'type', 'bridge']);
  await runChecked('ip', ['addr', 'add', `${zone.gateway}/24`, 'dev', zone.bridge]);
  await runChecked('ip', ['link', 'set', zone.bridge, 'up']);
}

/**
 * A new namespace on `bridge` by a veth pair (`hostVeth` on the bridge, `eth0` inside) with `ip`/24, and a route
 * to `network` only, through `gateway`: the one way the local cluster and the latency benchmark make a host.
 */
export async function addNamespaceOnBridge(namespace: string, hostVeth: string, bridge: string, ip: string, network: string, gateway: string): Promise<void> {
  await runChecked('ip', ['netns', 'add', namespace]);
  await runChecked('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace]);
  await runChecked('ip', ['link', 'set', hostVeth, 'master', bridge, 'up']);
  await runChecked('ip', ['-n', namespace, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
  await runChecked('ip', ['-n', namespace, 'link', 'set', 'eth0', 'up']);
  await runChecked('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
  await runChecked('ip', ['-n', namespace, 'route', 'add', network, 'via', gateway]);
}

/** Creates a namespace with `ip` in `zone`, resolving names through the zone's gateway (the DNS server). */
export async function createHost(namespace: string, hostVeth: string, zone: Zone, ip: string): Promise<Host> {
  await addNamespaceOnBridge(namespace, hostVeth, zone.bridge, ip, SIM_NETWORK, zone.gateway);
  await fs.mkdir(`/etc/netns/${namespace}`, { recursive: true });
  await fs.writeFile(`/etc/netns/${namespace}/resolv.conf`, `nameserver ${zone.gateway}\noptions timeout:1 attempts:2\n`);
  return { namespace, hostVeth, ip, zone };
}

/** Removes a host; the veth is deleted explicitly because it can outlive a namespace that a process still holds. */
export async function destroyHost(host: Pick<Host, 'namespace' | 'hostVeth'>): Promise<void> {
  await run('ip', ['link', 'del', host.hostVeth]);
  await run('ip', ['netns', 'del', host.namespace]);
  await fs.rm(`/etc/netns/${host.namespace}`, { recursive: true, force: true });
}

/** Cuts a zone off: its bridge goes down, so its hosts reach nothing and nothing reaches them. */
export async function partitionZone(zone: Zone): Promise<void> {
  await runChecked('ip', ['link', 'set', zone.bridge, 'down']);
}

export async function healZone(zone: Zone): Promise<void> {
  await runChecked('ip', ['link', 'set', zone.bridge, 'up']);
}

/** Where the host's original ip_forward value is kept until a run restores it (it survives a killed run). */
const FORWARDING_BEFORE = '/run/etcdsim-ip-forward-before';

/** Turns on routing between zones, remembering the host's own setting the first time. */
export async function enableForwarding(): Promise<void> {
  const current = (await fs.readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim();
  await fs.writeFile(FORWARDING_BEFORE, current, { flag: 'wx' }).catch(() => undefined);
  await fs.writeFile('/proc/sys/net/ipv4/ip_forward', '1');
}

/** Puts back the host's own setting, as it was before the first run that has not restored it. */
export async function restoreForwarding(): Promise<void> {
  const before = await fs.readFile(FORWARDING_BEFORE, 'utf8').catch(() => undefined);
  if (before === undefined) return;
  await fs.writeFile('/proc/sys/net/ipv4/ip_forward', before.trim());
  await fs.rm(FORWARDING_BEFORE, { force: true });
}

/** Removes every namespace, link and netns config the simulation may have left behind (a killed run). */
export async function removeLeftoverNetwork(): Promise<string[]> {
  const removed: string[] = [];
  const namespaces = (await run('ip', ['netns', 'list'])).stdout
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith(PREFIX));
  const links = (await run('ip', ['-o', 'link', 'show'])).stdout
    .split('\n')
    .map((l) => l.split(':')[1]?.trim().split('@')[0])
    .filter((n): n is string => !!n && n.startsWith(PREFIX));
  for (const link of links) {
    await run('ip', ['link', 'del', link]);
    removed.push(`link ${link}`);
  }
  for (const ns of namespaces) {
    await run('ip', ['netns', 'del', ns]);
    removed.push(`netns ${ns}`);
  }
  for (const entry of await fs.readdir('/etc/netns').catch(() => [] as string[])) {
    if (entry.startsWith(PREFIX)) await fs.rm(`/etc/netns/${entry}`, { recursive: true, force: true });
  }
  return removed;
}
