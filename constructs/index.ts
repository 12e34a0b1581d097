/** Public API of the library. */
export * from './etcd-cluster';
export * from './network';
export * from './dns';
export * from './dns-updater';
export * from './encryption';
export * from './peer';
export * from './security';
export * from './artifacts';
export * from './backups';
export * from './monitoring';
export * from './private-bucket';
export * from '../contract/naming';
export * from '../contract/topology';
export * from './roller';
