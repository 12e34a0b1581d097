/** bench:handoff's pure half: the summary per (role, path), the targets' verdicts and the table. No root needed. */
import { handoffVerdicts, HandoffRow, renderHandoffTable, summarizeHandoff, victimPeer } from '../../scripts/bench-handoff-figures';

const row = (over: Partial<HandoffRow>): HandoffRow => ({
  round: 1,
  role: 'leader',
  path: 'hand-off',
  peer: 'peer-0',
  gapSeconds: 0.2,
  gapWhileStoppingSeconds: 0.1,
  quietGapSeconds: 0.1,
  probeGapSeconds: 0.05,
  probeQuietGapSeconds: 0.02,
  replacementSeconds: 12,
  failedWrites: 0,
  leadership: 'moved to peer-1',
  ...over,
});

describe('bench:handoff figures', () => {
  test('one line per role and path, leader first, hand-off before crash, with median and max over the rounds', () => {
    const rows = [
      row({ role: 'follower', path: 'crash', gapSeconds: 1.0 }),
      row({ role: 'leader', path: 'crash', gapSeconds: 1.2, failedWrites: 1 }),
      row({ role: 'leader', path: 'crash', gapSeconds: 2.0, round: 2 }),
      row({ role: 'leader', path: 'hand-off', gapSeconds: 0.3, probeGapSeconds: 0.4 }),
      row({ role: 'leader', path: 'hand-off', gapSeconds: 0.1, round: 2 }),
      row({ role: 'leader', path: 'hand-off', gapSeconds: 0.5, round: 3 }),
    ];
    expect(summarizeHandoff(rows)).toEqual([
      { role: 'leader', path: 'hand-off', rounds: 3, gapMedianSeconds: 0.3, gapMaxSeconds: 0.5, gapsSeconds: [0.3, 0.1, 0.5], probeGapMedianSeconds: 0.05, probeGapMaxSeconds: 0.4, failedWrites: 0 },
      { role: 'leader', path: 'crash', rounds: 2, gapMedianSeconds: 1.6, gapMaxSeconds: 2, gapsSeconds: [1.2, 2.0], probeGapMedianSeconds: 0.05, probeGapMaxSeconds: 0.05, failedWrites: 1 },
      { role: 'follower', path: 'crash', rounds: 1, gapMedianSeconds: 1, gapMaxSeconds: 1, gapsSeconds: [1.0], probeGapMedianSeconds: 0.05, probeGapMaxSeconds: 0.05, failedWrites: 0 },
    ]);
  });

  test.each([
    // leader hand-off gaps (quiet 0.1 s each), follower hand-off gaps, verdicts
    [[0.35, 0.4], [0.1], /^met: 2 of 2 planned leader/, /^met: 1 of 1 planned follower/],
    [[0.35, 0.45], [0.1], /^missed in part: 1 of 2 planned leader/, /^met/],
    [[1.4, 4.6], [0.2], /^missed: 0 of 2 planned leader/, /^missed: 0 of 1 planned follower .* \(0\.10 s\)$/],
    [[], [], /^not measured$/, /^not measured$/],
  ])('leader gaps %j, follower gaps %j', (leader, follower, leaderVerdict, followerVerdict) => {
    const rows = [
      ...leader.map((g) => row({ role: 'leader', gapSeconds: g })),
      ...follower.map((g) => row({ role: 'follower', gapSeconds: g })),
      // The crash path never counts towards the planned targets, however short.
      row({ role: 'leader', path: 'crash', gapSeconds: 0 }),
      row({ role: 'follower', path: 'crash', gapSeconds: 0 }),
    ];
    const v = handoffVerdicts(rows);
    expect(v.leader).toMatch(leaderVerdict);
    expect(v.follower).toMatch(followerVerdict);
  });

  test('the probe\'s verdicts read the probe\'s gaps against the probe\'s quiet gaps', () => {
    const rows = [
      row({ role: 'leader', gapSeconds: 1.4, probeGapSeconds: 0.3, probeQuietGapSeconds: 0.05 }),
      row({ role: 'follower', gapSeconds: 1.2, probeGapSeconds: 0.04, probeQuietGapSeconds: 0.05 }),
    ];
    expect(handoffVerdicts(rows, 'probe')).toEqual({
      leader: 'met: 1 of 1 planned leader replacements within their quiet gap + 0.3 s',
      follower: "met: 1 of 1 planned follower replacements within the run's largest quiet gap (0.05 s)",
    });
    expect(handoffVerdicts(rows, 'load').leader).toMatch(/^missed/);
    expect(handoffVerdicts(rows, 'load').follower).toMatch(/^missed/);
  });

  test('the table has a line per role and path and the quiet gaps as the noise floor', () => {
    const table = renderHandoffTable([row({}), row({ path: 'crash', gapSeconds: 1.25, quietGapSeconds: 0.3 })]);
    expect(table.split('\n')).toEqual([
      '| replaced | path | rounds | load: longest write gap, median s | max s | every round s | probe: median s | max s | failed writes |',
      '|---|---|---:|---:|---:|---|---:|---:|---:|',
      '| leader | planned hand-off | 1 | 0.20 | 0.20 | 0.20 | 0.05 | 0.05 | 0 |',
      '| leader | crash (no hook) | 1 | 1.25 | 1.25 | 1.25 | 0.05 | 0.05 | 0 |',
      '| (quiet, before each) | – | 2 | 0.20 | 0.30 | 0.10, 0.30 | 0.02 | 0.02 | – |',
    ]);
  });
});

describe('which peer a round replaces', () => {
  test('a follower is never the leader, whatever the round and the cluster size, and the rounds take turns', () => {
    for (const peers of [3, 5, 9]) {
      for (let leader = 0; leader < peers; leader++) {
        const followers = Array.from({ length: 2 * peers }, (_, i) => victimPeer('follower', leader, i + 1, peers));
        expect(followers).not.toContain(leader);
        expect(new Set(followers.slice(0, peers - 1)).size).toBe(peers - 1);
      }
    }
    // Round 3 of 3 peers picked the leader before (leader + round) % peers.
    expect(victimPeer('follower', 0, 3, 3)).toBe(1);
    expect(victimPeer('leader', 2, 1, 5)).toBe(2);
  });
});
