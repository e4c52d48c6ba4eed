// `rotor check` and signed audit checkpoints: a failed or overdue publication is a WARNING
// (never CRITICAL: rotations go on without it), added to the check result like any problem.
import type { Rotor } from '../context.js';
import { PLUGIN_CODES, type CheckResult, type Problem } from '../status/check.js';
import { checkpointHealth } from './checkpoint-publish.js';

/** `result` with the checkpoint warning added, when checkpoints are configured and unwell. */
export async function withCheckpointWarning(
  result: CheckResult,
  rotor: Pick<Rotor, 'store' | 'policy' | 'clock'>,
): Promise<CheckResult> {
  const health = await checkpointHealth(rotor);
  if (!health || health.status === 'OK') return result;
  const upgrade = result.status === 'OK' || result.status === 'UNKNOWN';
  return {
    ...result,
    ...(upgrade
      ? {
          status: 'WARNING' as const,
          code: PLUGIN_CODES.WARNING,
          summary: result.summary.replace(
            /^ROTOR \w+ - /,
            'ROTOR WARNING - audit checkpoint not published; ',
          ),
        }
      : {}),
    problems: [
      ...result.problems,
      {
        secret: 'ROTOR_AUDIT',
        environment: '*',
        problem: 'audit-checkpoint' as Problem,
        status: 'WARNING',
        detail: health.detail,
      },
    ],
  };
}
