/** The systemd units of the maintenance timer (`node-agent maintain`), rendered into every peer's user data. */
import { AGENT_COMMANDS, agentCommandLine } from '../contract/agent-commands';

/**
 * Every few minutes, after etcd: defragments this peer's member when worth it, one member of the cluster at a
 * time, and on the leader gets the cluster out of NOSPACE. A oneshot: a run still going delays the next.
 */
export function maintenanceUnits(everyMinutes: number): { service: string; timer: string } {
  return {
    service: `[Unit]
Description=etcd maintenance: defragmentation one member at a time, NOSPACE recovery
After=etcd.service
Requisite=etcd.service

[Service]
Type=oneshot
ExecStart=${agentCommandLine(AGENT_COMMANDS.maintain)}
TimeoutStartSec=2h
`,
    timer: `[Unit]
Description=etcd maintenance every ${everyMinutes} minute(s)

[Timer]
OnBootSec=3min
OnUnitActiveSec=${everyMinutes}min
RandomizedDelaySec=20s

[Install]
WantedBy=timers.target
`,
  };
}
