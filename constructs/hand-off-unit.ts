/**
 * The systemd unit of the planned hand-off (`node-agent hand-off`): a
 * long-running service that watches this instance's Auto Scaling target
 * lifecycle state and, once the terminate hook holds the instance, hands the
 * peer over and completes the hook.
 */
import { AGENT_COMMANDS, agentCommandLine } from '../contract/agent-commands';

/** Unit name, as enabled by the boot script. */
export const HAND_OFF_UNIT = 'etcd-hand-off.service';

/**
 * Not bound to etcd: with etcd down it must still complete the hook at once,
 * rather than leave the instance waiting out the timeout.
 */
export function handOffUnit(): string {
  return `[Unit]
Description=etcd planned hand-off: on termination move leadership away, stop etcd, release the volume, complete the lifecycle hook
Wants=network-online.target
After=network-online.target etcd-node-agent.service

[Service]
Type=simple
ExecStart=${agentCommandLine(AGENT_COMMANDS.handOff)}
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
`;
}
