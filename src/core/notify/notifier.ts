// The reminder channels rotor.yaml's `notify:` block configures.
import type { NotifySpec } from '../policy/schedule-schema.js';
import { createEmailChannel } from './email-channel.js';
import type { Notifier, NotifyChannel } from './notify-channel.js';
import { createWebhookChannel } from './webhook-channel.js';

export type { Notifier, NotifyChannel };

/**
 * E-mail and webhook channels from `notify:`; none when it is absent.
 *
 * @example
 * const notifier = createNotifier(rotor.policy().notify, { env: rotor.env });
 */
export function createNotifier(
  spec: NotifySpec | undefined,
  options: { env: NodeJS.ProcessEnv; timeoutMs?: number },
): Notifier {
  const channels: NotifyChannel[] = [];
  const timeout = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
  if (spec?.email) channels.push(createEmailChannel(spec.email, { env: options.env, ...timeout }));
  for (const webhook of spec?.webhooks ?? [])
    channels.push(createWebhookChannel(webhook, { env: options.env, ...timeout }));
  return { channels, close: async () => {} };
}
