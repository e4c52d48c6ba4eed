// Settings both SQL rotators share for the end of a login's life: how long live sessions on a
// retired login may hold its retire up (`drain`), and whether the login a team imported stays
// valid after its version is retired (`keepOriginalLogin`).
import { z } from 'zod';
import { parseDuration } from '../../core/duration.js';

const duration = z
  .string()
  .refine((text) => {
    try {
      parseDuration(text);
      return true;
    } catch {
      return false;
    }
  }, 'a duration such as 1h, 24h, 7d')
  .describe('a duration such as 1h, 24h, 7d');

export const drainSchema = z
  .strictObject({
    within: duration
      .default('24h')
      .describe(
        'how long after the grace window live sessions may postpone a retire before it turns CRITICAL',
      ),
    then: z
      .enum(['wait', 'terminate'])
      .default('wait')
      .describe(
        'wait: keep postponing (CRITICAL, naming the sessions); terminate: end the sessions and retire',
      ),
  })
  .describe('live sessions on a login whose grace window is over');

export const keepOriginalLoginSchema = z
  .boolean()
  .default(false)
  .describe(
    'keep the imported login valid after its version is retired (a WARNING in status/check: a credential outside rotation)',
  );

export type DrainConfig = z.infer<typeof drainSchema>;

/** `drain` with its defaults, `within` in ms. */
export function drainOf(config: { drain?: Partial<DrainConfig> | undefined }): {
  withinMs: number;
  within: string;
  then: 'wait' | 'terminate';
} {
  const within = config.drain?.within ?? '24h';
  return { withinMs: parseDuration(within), within, then: config.drain?.then ?? 'wait' };
}

/** True when `drain.then: terminate` and the grace window ended more than `drain.within` ago. */
export function drainExpired(
  config: { drain?: Partial<DrainConfig> | undefined },
  graceEndedAt: number | undefined,
  now: number,
): boolean {
  const d = drainOf(config);
  return d.then === 'terminate' && graceEndedAt !== undefined && now >= graceEndedAt + d.withinMs;
}
