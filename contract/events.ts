/**
 * The events that reach the DNS updater: the EventBridge rule (synth time)
 * subscribes to them and the Lambda (event time) classifies them.
 */

/** EventBridge source of Auto Scaling events. */
export const AUTO_SCALING_SOURCE = 'aws.autoscaling';
/** EventBridge source and detail type of the scheduled reconcile. */
export const SCHEDULE_SOURCE = 'aws.events';
export const SCHEDULED_DETAIL_TYPE = 'Scheduled Event';

/** Auto Scaling detail types that say a peer's instance changed. */
export const AUTO_SCALING_DETAIL_TYPES = {
  launchSuccessful: 'EC2 Instance Launch Successful',
  terminateSuccessful: 'EC2 Instance Terminate Successful',
  launchUnsuccessful: 'EC2 Instance Launch Unsuccessful',
  terminateUnsuccessful: 'EC2 Instance Terminate Unsuccessful',
  launchLifecycleAction: 'EC2 Instance-launch Lifecycle Action',
} as const;

/**
 * The detail types the rule delivers to the Lambda. The unsuccessful ones are
 * left to the scheduled reconcile: they change no instance that serves.
 */
export const SUBSCRIBED_DETAIL_TYPES: readonly string[] = [
  AUTO_SCALING_DETAIL_TYPES.launchSuccessful,
  AUTO_SCALING_DETAIL_TYPES.terminateSuccessful,
  AUTO_SCALING_DETAIL_TYPES.launchLifecycleAction,
];

/** Name of the launch lifecycle hook on every peer's group. */
export const LAUNCH_HOOK_NAME = 'etcd-peer-dns-ready';
/** Lifecycle transition of the launch hook. */
export const LAUNCH_TRANSITION = 'autoscaling:EC2_INSTANCE_LAUNCHING';

/**
 * Name of the terminate lifecycle hook on every peer's group: the instance's
 * `node-agent hand-off` sees its target lifecycle state become `Terminated`,
 * hands off (leadership, etcd, volume) and completes this hook.
 */
export const TERMINATE_HOOK_NAME = 'etcd-peer-hand-off';
/** Lifecycle transition of the terminate hook. */
export const TERMINATE_TRANSITION = 'autoscaling:EC2_INSTANCE_TERMINATING';
