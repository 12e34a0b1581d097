import { LocalBackend, S3Backend, S3BackendConfig, TerraformBackend, TerraformStack } from 'cdktf';
import type { BackendSettings } from './settings';

/**
 * Gives `stack` the backend `settings` name. The library never sets one; the default app always does, so that
 * cdktf does not add its own, a local backend at an absolute path of the synthesizing machine.
 */
export function useBackend(stack: TerraformStack, settings: BackendSettings): TerraformBackend {
  if (settings.kind === 'local') return new LocalBackend(stack, { path: settings.path });
  const { kind: _kind, ...config } = settings;
  // A partial configuration (no bucket or key) is allowed: `terraform init -backend-config=…` completes it.
  // cdktf's types predate `use_lockfile`; S3Backend writes every given key in snake case.
  return new S3Backend(stack, config as S3BackendConfig);
}
