import { decideRecovery, newestSnapshot, PeerReport, SnapshotRef } from '../../node-agent/recovery';

const S: SnapshotRef = { key: 'snapshots/frequent/2026-11-25T01-00-00Z-rev500.db', at: 10_000 };
const self = { index: 4, peerCount: 9 };
const fresh = (peer: number, at = 20_000): PeerReport => ({ peer, state: 'fresh', at });
const all = (make: (peer: number) => PeerReport) => Array.from({ length: 9 }, (_, i) => make(i));

describe('the recovery table (a fresh volume, no quorum)', () => {
  test('no snapshot: the first formation bootstraps, even beside peers already starting (they cannot answer before quorum)', () => {
    expect(decideRecovery(self, { reports: [] })).toMatchObject({ action: 'bootstrap' });
    expect(decideRecovery(self, { reports: all((i) => fresh(i)) })).toMatchObject({ action: 'bootstrap' });
    expect(decideRecovery(self, { reports: all((i) => (i < 3 ? { peer: i, state: 'member', at: 5 } : fresh(i))) })).toMatchObject({ action: 'bootstrap' });
  });

  test('every peer reported an empty volume after the newest snapshot: restore it', () => {
    expect(decideRecovery(self, { newestSnapshot: S, reports: all((i) => fresh(i)) })).toMatchObject({ action: 'restore', snapshot: S });
  });

  test('this peer\'s own report does not matter (it is deciding now); every other one does', () => {
    const reports = all((i) => fresh(i)).filter((r) => r.peer !== 4);
    expect(decideRecovery(self, { newestSnapshot: S, reports }).action).toBe('restore');
    expect(decideRecovery(self, { newestSnapshot: S, reports: reports.filter((r) => r.peer !== 7) })).toMatchObject({
      action: 'wait',
      reason: expect.stringContaining('peer-7 has not reported since it was taken'),
    });
  });

  test('a report from before the newest snapshot is stale: that peer may hold data since', () => {
    const reports = all((i) => (i === 0 || i === 8 ? fresh(i, 9_000) : fresh(i)));
    expect(decideRecovery(self, { newestSnapshot: S, reports })).toMatchObject({ action: 'wait', reason: expect.stringContaining('peer-0, peer-8 have not reported') });
    // A report recorded in the same instant as the snapshot is not after it.
    expect(decideRecovery(self, { newestSnapshot: S, reports: all((i) => fresh(i, i === 1 ? S.at : 20_000)) }).action).toBe('wait');
  });

  test('a peer holding data never has a snapshot restored beside it', () => {
    const reports = all((i) => (i === 6 ? { peer: 6, state: 'member', at: 20_000 } : fresh(i)));
    expect(decideRecovery(self, { newestSnapshot: S, reports })).toMatchObject({ action: 'wait', reason: expect.stringContaining('peer-6 holds data newer than snapshot') });
    // Data restored from an older snapshot is still data.
    const older = all((i) => (i === 6 ? { peer: 6, state: 'member', at: 20_000, restoredFrom: 'snapshots/frequent/older.db' } : fresh(i)));
    expect(decideRecovery(self, { newestSnapshot: S, reports: older }).action).toBe('wait');
  });

  test('peers already started on the same snapshot: the slower ones restore it too', () => {
    const reports = all((i) => (i < 5 ? { peer: i, state: 'member', at: 30_000, restoredFrom: S.key } : fresh(i)));
    expect(decideRecovery(self, { newestSnapshot: S, reports })).toMatchObject({ action: 'restore', snapshot: S });
  });

  test('a peer that already ran in the cluster restored from S rejoins it instead of restoring again', () => {
    const reports = all((i) => (i < 5 ? { peer: i, state: 'member', at: 30_000, restoredFrom: S.key } : fresh(i)));
    expect(decideRecovery(self, { newestSnapshot: S, reports, ownRestoredFrom: S.key })).toMatchObject({
      action: 'wait',
      reason: expect.stringContaining('must rejoin that cluster once it has quorum'),
    });
    // Every volume gone again before a newer snapshot: nobody holds that cluster, so restoring S again is safe.
    expect(decideRecovery(self, { newestSnapshot: S, reports: all((i) => ({ ...fresh(i), restoredFrom: S.key })), ownRestoredFrom: S.key }).action).toBe('restore');
  });

  test('the snapshot to restore: the newest frequent one; a daily one only when no frequent one is left', () => {
    const daily = { key: 'snapshots/daily/2026-11-25.db', at: 10_001 };
    const frequent = { key: 'snapshots/frequent/2026-11-25T01-00-00Z-rev500.db', at: 10_000 };
    const older = { key: 'snapshots/frequent/2026-11-25T00-45-00Z-rev400.db', at: 9_000 };
    // The daily copy is uploaded just after the frequent one, and its key is rewritten all day: never chosen beside it.
    expect(newestSnapshot([older, daily, frequent])).toBe(frequent);
    expect(newestSnapshot([daily, { key: 'snapshots/daily/2026-11-24.db', at: 5_000 }])).toBe(daily);
    expect(newestSnapshot([older, { key: 'snapshots/frequent/x.db.json', at: 99_000 }, { key: 'peers/peer-1.json', at: 99_000 }])).toBe(older);
    expect(newestSnapshot([])).toBeUndefined();
  });
});
