/**
 * Real-etcd tests on each version the project runs: the suite gets that
 * version's binaries, and its process (the agent code under test runs
 * in-process) finds them first on its PATH, as a whole local run does.
 */
import { EtcdBinaries, etcdBinaries, EtcdMinor, pathWithEtcd } from '../../runtime/etcd-binaries';
import { describeUnless } from './privileges';

/**
 * `describe(name)` on etcd `minor`, named with the version the binaries
 * report. Without the binaries it skips with the command that fetches them,
 * and fails in CI (see `describeUnless`).
 */
export function describeWithEtcd(minor: EtcdMinor, name: string, body: (etcd: () => EtcdBinaries) => void): void {
  let binaries: EtcdBinaries | undefined;
  let why: string | undefined;
  try {
    binaries = etcdBinaries(minor);
  } catch (error) {
    why = (error as Error).message;
  }
  const etcd = (): EtcdBinaries => {
    if (!binaries) throw new Error(`etcd ${minor} is unavailable: ${why}`);
    return binaries;
  };
  describeUnless(`${name}, on etcd ${binaries?.version ?? minor}`, why, 'These tests need that etcd version.', () => {
    let savedPath: string | undefined;
    beforeAll(() => {
      savedPath = process.env.PATH;
      process.env.PATH = pathWithEtcd(etcd());
    });
    afterAll(() => {
      if (savedPath === undefined) delete process.env.PATH;
      else process.env.PATH = savedPath;
    });
    body(etcd);
  });
}
