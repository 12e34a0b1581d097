/** The failure table: which peers each scenario hits, derived from the layout, row by row. No root needed. */
import { peerIndices } from '../../contract/naming';
import { succeeded } from '../../simulation/cli';
import { unexpectedEnd } from '../../simulation/roll-failures';
import { expectedMemberIdChanges, FAILURES, peersInZone, SCENARIOS, slowDiskVictim, volumeLostVictim, volumeStillAttachedVictim, zoneAndNodeVictims } from '../../simulation/failures';

describe('the failure table', () => {
  test.each([
    // peers, zones, zone-and-node victims, volume-lost victim, volume-still-attached victim
    [9, 3, [0, 3, 6, 1], 4, 2],
    [3, 3, [0, 1], 1, 2],
    [5, 5, [0, 1], 2, 2],
    [7, 3, [0, 3, 6, 1], 3, 2],
  ])('%i peers over %i zones: zone-and-node hits %j, volume-lost peer %i, volume-still-attached peer %i', (peers, zones, zoneAndNode, lost, attached) => {
    const t = { peers, zones };
    expect(zoneAndNodeVictims(t)).toEqual(zoneAndNode);
    expect(volumeLostVictim(t)).toBe(lost);
    expect(volumeStillAttachedVictim(t)).toBe(attached);
    // The slow disk is the last peer's.
    expect(slowDiskVictim(t)).toBe(peers - 1);
    // Every victim is a peer of this layout.
    for (const v of [...zoneAndNode, lost, attached, slowDiskVictim(t)]) expect(peerIndices(peers)).toContain(v);
  });

  test('peer i sits in zone i mod zones', () => {
    expect(peersInZone({ peers: 9, zones: 3 }, 1)).toEqual([1, 4, 7]);
    expect(peersInZone({ peers: 5, zones: 3 }, 2)).toEqual([2]);
  });

  test('only volume-lost changes a member id: its victim rejoins as a new member', () => {
    for (const name of SCENARIOS) expect(FAILURES[name]).toBeDefined();
    expect(expectedMemberIdChanges('volume-lost', { peers: 9, zones: 3 })).toEqual(['peer-4']);
    expect(expectedMemberIdChanges('volume-lost', { peers: 3, zones: 3 })).toEqual(['peer-1']);
    for (const name of SCENARIOS.filter((n) => n !== 'volume-lost')) expect(expectedMemberIdChanges(name, { peers: 9, zones: 3 })).toEqual([]);
  });

  test('the CLI passes a run that lost nothing and changed exactly the expected member ids', () => {
    const run = { scenario: 'volume-lost' as const, peers: 3, zones: 3, lost: 0 };
    expect(succeeded({ ...run, memberIdsChanged: ['peer-1'] })).toBe(true);
    expect(succeeded({ ...run, memberIdsChanged: ['peer-4'] })).toBe(false);
    expect(succeeded({ ...run, memberIdsChanged: [] })).toBe(false);
    expect(succeeded({ ...run, lost: 1, memberIdsChanged: ['peer-1'] })).toBe(false);
    expect(succeeded({ scenario: 'whole-cluster', peers: 9, zones: 3, lost: 0, memberIdsChanged: [] })).toBe(true);
    expect(succeeded({ scenario: 'whole-cluster', peers: 9, zones: 3, lost: 0, memberIdsChanged: ['peer-0'] })).toBe(false);
  });

  describe('upgrade-stops: how the roll must end', () => {
    const stop = (peer?: number) => ({ action: 'stop' as const, ...(peer === undefined ? {} : { peer }), reason: 'peer-1 is not healthy 40 s after its launch: its instance i-9 is Pending; nothing more is replaced' });
    test.each([
      // end, broken peer, what is wrong (undefined: as expected)
      ['stopped at the broken peer', stop(1), 1, undefined],
      ['stopped at another peer (a good replacement missed the deadline)', stop(0), 1, /^the roller stopped at peer-0, not at peer-1, whose etcd cannot start: peer-1 is not/],
      ['stopped at no peer (the version rule)', { action: 'stop' as const, reason: 'refusing to skip a minor version' }, 1, /^the roller stopped at no peer, not at peer-1/],
      ['done despite the broken peer', { action: 'done' as const, reason: 'every peer runs the current launch template' }, 1, /^the roller did not stop at peer-1, whose etcd cannot start: done: /],
      ['ended before the broken replacement', stop(0), undefined, /^the roller ended \(stop: .*\) before its replacement 2, which was to get the broken etcd$/],
    ])('%s', (_what, end, broken, wrong) => {
      const found = unexpectedEnd(end, broken);
      if (wrong === undefined) expect(found).toBeUndefined();
      else expect(found).toMatch(wrong);
    });
  });
});
