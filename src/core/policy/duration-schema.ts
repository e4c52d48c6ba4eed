// A duration field of rotor.yaml (`90d`, `30s`), checked by the parser the engine uses, so a
// value the schema accepts is one every caller of parseDuration accepts.
import { z } from 'zod';
import { parseDuration } from '../duration.js';

/**
 * A duration string; a bad one is refused with parseDuration's own message. `example` becomes
 * the JSON Schema description ("a duration such as …"); `positive` also refuses zero.
 *
 * @example
 * const grace = durationSchema({ example: '24h, 7d' }).default('24h');
 */
export function durationSchema(options: { example?: string; positive?: boolean } = {}) {
  const text =
    options.example === undefined
      ? z.string()
      : z.string().describe(`a duration such as ${options.example}`);
  return text.superRefine((value, ctx) => {
    try {
      const ms = parseDuration(value);
      if (options.positive && ms <= 0)
        ctx.addIssue({ code: 'custom', message: 'must be longer than zero' });
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });
}
