/**
 * The roll scenarios on the real local cluster (issue #16): the roller replaces
 * peers one at a time through the planned hand-off. rolling-upgrade runs the
 * default 9 peers; rolling-replace and upgrade-stops run 3, since the roller's
 * logic is the same and each step costs real time. Needs root, and etcd 3.4 as
 * well as 3.5 for the upgrades.
 */
import type { ScenarioResult } from '../../simulation/scenarios';
import { BROKEN_ETCD_MESSAGE } from '../../simulation/broken-etcd';
import { UPGRADE_STOPS } from '../../simulation/roll-failures';
import { describeWithRoot } from '../helpers/privileges';
import { etcd34, etcd35, expectHealedWithoutLoss, expectRanOn, runCleanly, scenarioHooks, simulationWhy } from '../helpers/scenarios';

/** Nothing lost or failed on any of the `peers` members, and the same member ids. */
function expectWritesKept(r: ScenarioResult, peers: number) {
  expect(r.failed).toBe(0);
  expect(r.lost).toBe(0);
  expect(r.lostKeys).toEqual([]);
  expect(r.verifiedMembers).toBe(peers);
  expect(r.acked).toBeGreaterThan(0);
  expect(r.memberIdsUnchanged).toBe(true);
}

describeWithRoot(`local cluster: rolling a change, on etcd ${etcd35.etcd?.version ?? '3.5'}`, simulationWhy ?? etcd35.why, () => {
  const progress = scenarioHooks();
  const etcd = () => etcd35.etcd!;

  test('rolling-upgrade: formed on 3.4, the roller upgrades every peer to 3.5 through the hand-off, one at a time, the leader last; nothing lost, same members', async () => {
    if (!etcd34.etcd) throw new Error(`rolling-upgrade needs etcd 3.4 as well: ${etcd34.why}`);
    const r = await runCleanly('rolling-upgrade', { peers: 9, progress, etcd: etcd() });
    expectRanOn(r, etcd());
    expect(r.failed).toBe(0);
    expectHealedWithoutLoss(r, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.memberIdsUnchanged).toBe(true);
    // The cluster version as etcd itself reports it, before and after.
    expect(r.clusterVersionBefore).toBe('3.4.0');
    expect(r.clusterVersionAfter).toBe('3.5.0');
    expect(r.stepUnavailableSeconds).toHaveLength(9);
    // Every step replaced a 3.4 peer; only the last one led, and it handed leadership over before it stopped.
    expect(r.rollSteps!.map((x) => x.from)).toEqual(Array(9).fill(etcd34.etcd.version));
    expect(r.rollSteps!.slice(0, 8).map((x) => x.leadership)).toEqual(Array(8).fill('none'));
    expect(r.rollSteps![8].leadership).toMatch(/^moved to peer-\d$/);
  }, 900_000);


  test('rolling-replace: a new launch template generation, no version change; the roller replaces every peer through the hand-off, the leader last (3 peers)', async () => {
    const r = await runCleanly('rolling-replace', { peers: 3, progress, etcd: etcd() });
    expectRanOn(r, etcd());
    expectWritesKept(r, 3);
    // One replacement per peer, each on a new IP, each launch hook completed by the DNS updater.
    expect(r.replacements.map((x) => x.peer).sort()).toEqual([0, 1, 2]);
    expect(new Set(r.replacements.map((x) => x.ip)).size).toBe(3);
    expect(r.replacements.filter((x) => !x.hookCompleted)).toEqual([]);
    // Every step replaced a peer on the same version; only the last led, and it handed leadership over first.
    expect(r.rollSteps!.map((x) => x.from)).toEqual(Array(3).fill(etcd().version));
    expect(r.rollSteps!.slice(0, 2).map((x) => x.leadership)).toEqual(['none', 'none']);
    expect(r.rollSteps![2].leadership).toMatch(/^moved to peer-\d$/);
    expect(r.stepUnavailableSeconds).toHaveLength(3);
  }, 600_000);

  test('upgrade-stops: the second replacement\'s new etcd cannot start; the roller stops there and says why, the cluster keeps quorum and writes (3 peers)', async () => {
    if (!etcd34.etcd) throw new Error(`upgrade-stops needs etcd 3.4 as well: ${etcd34.why}`);
    const r = await runCleanly('upgrade-stops', { peers: 3, progress, etcd: etcd() });
    expectWritesKept(r, 3);
    // Two replacements: the first healthy on 3.5, the second never; the roller stopped at that one, by its deadline.
    expect(r.rollerStopped).toBe(true);
    expect(r.rollSteps!.map((x) => x.from)).toEqual([etcd34.etcd.version, etcd34.etcd.version]);
    expect(r.stoppedAtPeer).toBe(r.rollSteps![1].peer);
    expect(r.stopReason).toMatch(new RegExp(`^${r.stoppedAtPeer} is not healthy ${UPGRADE_STOPS.replaceDeadlineSeconds} s after its launch: .+; nothing more is replaced$`));
    // Why, from the peer itself: its etcd's last words, on every launch its group made with the broken template.
    expect(r.stoppedPeerEtcdLog).toBe(BROKEN_ETCD_MESSAGE);
    expect(r.brokenLaunches).toBeGreaterThanOrEqual(1);
    // Nothing more was replaced: the third peer still runs 3.4, so the cluster version stayed 3.4.
    expect(r.clusterVersionBefore).toBe('3.4.0');
    expect(r.clusterVersionAfter).toBe('3.4.0');
    expect(r.etcdVersion).toBe(`${etcd34.etcd.version}, ${etcd().version}`);
    const third = [0, 1, 2].find((p) => !r.rollSteps!.some((s) => s.peer === `peer-${p}`));
    expect(r.replacements.filter((x) => x.peer === third)).toEqual([]);
    // Quorum all along, and writes acknowledged after the stop.
    expect(r.quorum).toBe(2);
    expect(r.healthyLowest).toBeGreaterThanOrEqual(r.quorum!);
    expect(r.afterStop!.acked).toBeGreaterThan(0);
    expect(r.afterStop!.unavailableSeconds).toBeLessThan(UPGRADE_STOPS.watchAfterStopSeconds / 2);
  }, 600_000);
});
