/**
 * Pure arithmetic of the count-and-modulo layout: which peer lives where and
 * what failures the cluster survives. No cdktf here, so the Lambda, the agent
 * and the simulation can import it too. The size and zone checks live here
 * so the local cluster's CLI refuses the same topologies as the construct.
 */
import { peerIndices, peerName, zoneIndexOf } from './naming';

/** Votes needed for a decision in a cluster of `size` members. */
export function quorumOf(size: number): number {
  return Math.floor(size / 2) + 1;
}

/** How many members may be down at once while the rest keep quorum. */
export function faultToleranceOf(size: number): number {
  return size - quorumOf(size);
}

/** Peers in the fullest zone: `ceil(size / zones)` under count-and-modulo. */
function largestZonePeerCount(size: number, zoneCount: number): number {
  return Math.ceil(size / zoneCount);
}

/** Where one peer sits. */
export interface PeerPlacement {
  readonly index: number;
  readonly name: string;
  readonly zoneIndex: number;
}

/** The placement of every peer: peer i in zone i mod Z. */
export function placePeers(size: number, zoneCount: number): PeerPlacement[] {
  return peerIndices(size).map((index) => ({
    index,
    name: peerName(index),
    zoneIndex: zoneIndexOf(index, zoneCount),
  }));
}

/** What a given size and zone count survive, stated as numbers. */
export interface FailureBudget {
  readonly quorum: number;
  /** Members that may be down at once. */
  readonly faultTolerance: number;
  /** Peers lost when the fullest zone goes down. */
  readonly largestZone: number;
  /** True when the cluster keeps quorum without its fullest zone. */
  readonly survivesZoneLoss: boolean;
  /** Extra single-node failures survivable on top of losing the fullest zone (negative: zone loss alone is fatal). */
  readonly extraNodesAfterZoneLoss: number;
}

/** Computes the failure budget of `size` peers over `zoneCount` zones. */
export function failureBudget(size: number, zoneCount: number): FailureBudget {
  const quorum = quorumOf(size);
  const largestZone = largestZonePeerCount(size, zoneCount);
  const extra = size - largestZone - quorum;
  return {
    quorum,
    faultTolerance: size - quorum,
    largestZone,
    survivesZoneLoss: extra >= 0,
    extraNodesAfterZoneLoss: extra,
  };
}

/**
 * What a topology must survive: the `tolerate` prop of the cluster and the
 * local cluster's `--tolerate`. A single-zone test cluster (`'node'`) is not
 * offered: every topology spans at least 3 zones.
 */
export const TOLERANCES = ['zone-and-node', 'zone'] as const;
/** One of {@link TOLERANCES}. */
export type Tolerance = (typeof TOLERANCES)[number];
/** The library's promise: a whole zone plus one more node may fail at once. */
export const DEFAULT_TOLERANCE: Tolerance = 'zone-and-node';

/** The answer to "does the cluster keep quorum through this failure?", with the arithmetic. */
export interface FailureAnswer {
  readonly survives: boolean;
  /** Peers minus the peers lost, against the quorum, e.g. `9 − 3 − 1 = 5 ≥ quorum 5`. */
  readonly arithmetic: string;
}

/** What `size` peers over `zoneCount` zones survive under count-and-modulo placement. */
export interface Survivability {
  /** Number of peers. */
  readonly size: number;
  /** Number of zones. */
  readonly zoneCount: number;
  /** Votes needed: a majority of `size`. */
  readonly quorum: number;
  /** Peers in the fullest zone. */
  readonly largestZone: number;
  /** The fullest zone goes down. */
  readonly zone: FailureAnswer;
  /** The fullest zone and one more peer go down. */
  readonly zoneAndNode: FailureAnswer;
  /** Any two peers go down (wherever they are). */
  readonly anyTwoNodes: FailureAnswer;
  /** The two fullest zones go down. */
  readonly twoZones: FailureAnswer;
}

/** The failures of {@link Survivability}, as the messages and the README say them. */
export const FAILURE_WORDS = { zone: 'a zone', zoneAndNode: 'a zone plus a node', anyTwoNodes: 'any two nodes', twoZones: 'two zones' } as const;
type Failure = keyof typeof FAILURE_WORDS;
const FAILURE_OF_TOLERANCE: Record<Tolerance, Failure> = { 'zone-and-node': 'zoneAndNode', zone: 'zone' };

/** Peers per zone, fullest first. */
function zoneSizesDescending(size: number, zoneCount: number): number[] {
  const counts = new Array<number>(zoneCount).fill(0);
  for (const p of placePeers(size, zoneCount)) counts[p.zoneIndex]++;
  return counts.sort((a, b) => b - a);
}

/** Computes what `size` peers over `zoneCount` zones survive, each answer with its arithmetic. */
export function survivability(size: number, zoneCount: number): Survivability {
  const quorum = quorumOf(size);
  const [first = 0, second = 0] = zoneSizesDescending(size, zoneCount);
  const answer = (...lost: number[]): FailureAnswer => {
    const left = lost.reduce((n, l) => n - l, size);
    const survives = left >= quorum;
    return { survives, arithmetic: `${[size, ...lost].join(' − ')} = ${left} ${survives ? '≥' : '<'} quorum ${quorum}` };
  };
  return {
    size,
    zoneCount,
    quorum,
    largestZone: first,
    zone: answer(first),
    zoneAndNode: answer(first, 1),
    anyTwoNodes: answer(2),
    twoZones: answer(first, second),
  };
}

/** One sentence: what the topology survives and what it does not, each with its arithmetic (the `tolerates` output). */
export function describeSurvivability(s: Survivability): string {
  const failures = Object.keys(FAILURE_WORDS) as Failure[];
  const list = (fs: Failure[]) => fs.map((f) => `${FAILURE_WORDS[f]} (${s[f].arithmetic})`).join(', ');
  const survived = failures.filter((f) => s[f].survives);
  const not = failures.filter((f) => !s[f].survives);
  const head = `${s.size} peers over ${s.zoneCount} zones`;
  const yes = survived.length ? `survive ${list(survived)}` : 'survive none of these failures';
  return not.length ? `${head} ${yes}; not ${list(not)}` : `${head} ${yes}`;
}

/** A size and zone count. */
export interface Topology {
  readonly size: number;
  readonly zoneCount: number;
}

const LARGEST_SIZE_SUGGESTED = 99;

/**
 * The nearest topologies that survive what `tolerate` asks: the smallest larger
 * size over the same zones, and the fewest more zones for the same size.
 */
export function nearestTopologies(size: number, zoneCount: number, tolerate: Tolerance): Topology[] {
  const meets = (n: number, z: number) => survivability(n, z)[FAILURE_OF_TOLERANCE[tolerate]].survives;
  const found: Topology[] = [];
  for (let n = size % 2 === 0 ? size + 1 : size + 2; n <= LARGEST_SIZE_SUGGESTED; n += 2) {
    if (meets(n, zoneCount)) {
      found.push({ size: n, zoneCount });
      break;
    }
  }
  for (let z = zoneCount + 1; z <= size; z++) {
    if (meets(size, z)) {
      found.push({ size, zoneCount: z });
      break;
    }
  }
  return found;
}

/**
 * Why `size` peers over `zoneCount` zones do not survive what `tolerate` asks,
 * with the arithmetic and the nearest topologies that do; `undefined` when they do.
 * The construct and the local cluster refuse with this text.
 */
export function toleranceProblem(size: number, zoneCount: number, tolerate: Tolerance): string | undefined {
  const s = survivability(size, zoneCount);
  const asked = FAILURE_OF_TOLERANCE[tolerate];
  if (s[asked].survives) return undefined;
  const what =
    asked === 'zone' || !s.zone.survives
      ? `do not survive ${FAILURE_WORDS.zone}: ${s.zone.arithmetic}`
      : `survive ${FAILURE_WORDS.zone} but not ${FAILURE_WORDS[asked]}: ${s[asked].arithmetic}`;
  const nearest = nearestTopologies(size, zoneCount, tolerate).map((t) => `${t.size} over ${t.zoneCount} zones`);
  return `${size} peers over ${zoneCount} zones ${what}${nearest.length ? `; use ${nearest.join(' or ')}` : ''}`;
}

/** The tolerance next below `tolerate`, if there is one to ask for instead. */
function weakerThan(tolerate: Tolerance): Tolerance | undefined {
  return TOLERANCES[TOLERANCES.indexOf(tolerate) + 1];
}

/**
 * Size must be odd and at least 3; zones at least 3 and distinct, no more than
 * the peers; and the layout must survive what `tolerate` asks.
 */
export function validateSizeAndZones(size: number, zones: string[], tolerate: Tolerance = DEFAULT_TOLERANCE): void {
  if (!Number.isInteger(size) || size < 3) {
    throw new Error(`size must be a whole number of at least 3 peers (got ${size}): fewer peers cannot lose any member and keep quorum`);
  }
  if (size % 2 === 0) {
    throw new Error(
      `size ${size} is even: an even cluster tolerates no more failures than size ${size - 1} but needs one more vote; use ${size - 1} or ${size + 1}`,
    );
  }
  if (!Array.isArray(zones) || zones.length < 3) {
    throw new Error(
      `zones lists ${zones?.length ?? 0} zone(s); at least 3 are needed so the cluster survives the loss of one zone (e.g. ["us-east-1a", "us-east-1b", "us-east-1c"])`,
    );
  }
  if (new Set(zones).size !== zones.length) {
    throw new Error(`zones lists a zone twice (${zones.join(', ')}): each entry must be a different availability zone`);
  }
  if (zones.length > size) {
    const empty = zones.length - size;
    throw new Error(
      `zones has ${zones.length} zones for ${size} peers: ${empty} of them would hold no peer (peer i sits in zone i mod ${zones.length}); pass at most ${size} zones`,
    );
  }
  if (!(TOLERANCES as readonly string[]).includes(tolerate)) {
    throw new Error(`tolerate must be one of ${TOLERANCES.map((t) => `'${t}'`).join(', ')}, got ${JSON.stringify(tolerate)}`);
  }
  // With at least 3 zones every odd size survives a zone (a test checks this for every size up to 99),
  // so only 'zone-and-node' refuses here; the check is the same for both.
  const problem = toleranceProblem(size, zones.length, tolerate);
  if (problem) {
    const weaker = weakerThan(tolerate);
    throw new Error(`${problem}${weaker ? `, or set tolerate: '${weaker}'` : ''}`);
  }
}

/** The README's table of what each topology survives, rendered from {@link survivability}. */
export function survivabilityTable(sizes: number[], zoneCounts: number[]): string {
  const cell = (a: FailureAnswer) => `${a.survives ? 'yes' : 'no'}: ${a.arithmetic.replace(' quorum ', ' ')}`;
  const rows = [
    `| peers | zones | quorum | fullest zone | ${Object.values(FAILURE_WORDS).join(' | ')} | by default (\`tolerate: '${DEFAULT_TOLERANCE}'\`) |`,
    `|---|---|---|---|${Object.keys(FAILURE_WORDS).map(() => '---|').join('')}---|`,
  ];
  for (const size of sizes) {
    for (const zoneCount of zoneCounts) {
      if (zoneCount > size) {
        rows.push(`| ${size} | ${zoneCount} | | | | | | | refused: more zones than peers |`);
        continue;
      }
      const s = survivability(size, zoneCount);
      const nearest = nearestTopologies(size, zoneCount, DEFAULT_TOLERANCE).map((t) => `${t.size}/${t.zoneCount}`);
      const verdict = toleranceProblem(size, zoneCount, DEFAULT_TOLERANCE)
        ? `refused: use ${nearest.join(' or ')}, or \`tolerate: '${weakerThan(DEFAULT_TOLERANCE)}'\``
        : 'synthesizes';
      rows.push(`| ${size} | ${zoneCount} | ${s.quorum} | ${s.largestZone} | ${[s.zone, s.zoneAndNode, s.anyTwoNodes, s.twoZones].map(cell).join(' | ')} | ${verdict} |`);
    }
  }
  return rows.join('\n');
}
