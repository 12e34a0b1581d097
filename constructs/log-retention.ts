/** The retention periods CloudWatch Logs accepts, in days; anything else fails at apply. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** Refuses at synth a retention CloudWatch Logs would refuse at apply, naming `prop`. */
export function validateLogRetentionDays(days: number, prop = 'logRetentionDays'): number {
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(days)) {
    throw new Error(`${prop} must be one of CloudWatch Logs' retention periods (${LOG_RETENTION_DAYS.join(', ')} days), got ${days}`);
  }
  return days;
}
