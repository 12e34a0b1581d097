/**
 * The package's public API: exactly what constructs/index.ts names, every export and every public member of its
 * classes and interfaces documented in TSDoc (the reference a user reads in their editor), and no internals.
 */
import { join } from 'path';
import * as ts from 'typescript';

const index = join(__dirname, '..', '..', 'constructs', 'index.ts');

function publicApi(): { exports: string[]; undocumented: string[] } {
  const program = ts.createProgram([index], { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, skipLibCheck: true, types: ['node'], noEmit: true });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(index)!)!;
  const undocumented: string[] = [];
  const documented = (symbol: ts.Symbol) => ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim() !== '';
  const exports = checker.getExportsOfModule(module).map((exported) => {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (!documented(symbol)) undocumented.push(exported.name);
    if (symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface)) {
      for (const member of symbol.members?.values() ?? []) {
        const declaration = member.declarations?.[0];
        if (!declaration || member.name === '__constructor') continue;
        const modifiers = ts.canHaveModifiers(declaration) ? (ts.getModifiers(declaration) ?? []) : [];
        if (modifiers.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword)) continue;
        if (!documented(member)) undocumented.push(`${exported.name}.${member.name}`);
      }
    }
    return exported.name;
  });
  return { exports: exports.sort(), undocumented };
}

describe('public API', () => {
  const api = publicApi();

  test('the index exports the constructs, their props and options, and the naming and quorum helpers; no internals', () => {
    expect(api.exports).toEqual(
      [
        'EtcdCluster', 'EtcdClusterProps', 'EtcdReleaseOptions', 'DatabaseOptions', 'CompactionPolicy', 'PeerVolumeOptions', 'GP3_LIMITS',
        'BackupOptions', 'MonitoringOptions', 'MonitoringThresholds', 'RollingOptions',
        'EtcdNetwork', 'EtcdNetworkProps', 'EtcdDns', 'EtcdDnsProps', 'EtcdDnsUpdater', 'EtcdDnsUpdaterProps', 'EtcdEncryption', 'EtcdEncryptionProps',
        'EtcdPeer', 'EtcdPeerProps', 'EtcdSecurity', 'EtcdSecurityProps', 'EtcdArtifacts', 'EtcdArtifactsProps', 'EtcdBackups', 'EtcdBackupsProps',
        'EtcdMonitoring', 'EtcdMonitoringProps', 'EtcdRoller', 'EtcdRollerProps', 'PrivateBucket', 'PrivateBucketProps', 'Bundle',
        'CLUSTER_TAG_KEY', 'PEER_INDEX_TAG_KEY', 'ETCD_CLIENT_PORT', 'ETCD_PEER_PORT', 'SrvNames', 'autoScalingGroupName', 'clientUrl', 'peerFqdn',
        'peerName', 'peerUrl', 'srvNames', 'zoneOf',
        'DEFAULT_TOLERANCE', 'Survivability', 'TOLERANCES', 'Tolerance', 'describeSurvivability', 'faultToleranceOf', 'quorumOf', 'survivability',
        'survivabilityTable',
      ].sort(),
    );
    for (const internal of ['parseCidr', 'subnetCidr', 'resolveVolumeOptions', 'LAMBDA_BUNDLE_OPTIONS', 'BundleOptions', 'bundleEntry', 'validateClientCidrs', 'ownVolumeStatement']) {
      expect(api.exports).not.toContain(internal);
    }
  });

  test('every export, and every public member of its classes and interfaces, has TSDoc', () => {
    expect(api.undocumented).toEqual([]);
  });
});
