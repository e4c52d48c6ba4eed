// Reminders by webhook: a Slack-compatible JSON body (`text`, `blocks`), POSTed with a timeout
// and signed like the staged flow's http hooks (x-rotor-timestamp, x-rotor-signature: v1= HMAC-SHA256
// of `<timestamp>.<body>`), so a receiver can check it came from Rotor and is fresh.
import { createHash } from 'node:crypto';
import { RotorError } from '../errors.js';
import { parseSchemeUrl } from '../scheme-url.js';
import { signBody } from '../rotation/stages/run-step.js';
import type { WebhookChannelSpec } from '../policy/schedule-schema.js';
import { redactCredentials, type NotifyChannel } from './notify-channel.js';

export interface WebhookChannelOptions {
  env: NodeJS.ProcessEnv;
  /** Per request (default 10 s). */
  timeoutMs?: number;
}

function channelId(spec: WebhookChannelSpec): string {
  const ref = 'url' in spec.url ? `url:${spec.url.url}` : `env:${spec.url.env}`;
  return `webhook:${createHash('sha256').update(ref).digest('hex').slice(0, 12)}`;
}

export function createWebhookChannel(
  spec: WebhookChannelSpec,
  options: WebhookChannelOptions,
): NotifyChannel {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const literal = 'url' in spec.url ? spec.url.url : undefined;
  const target = literal ? new URL(literal).origin : `$${'env' in spec.url ? spec.url.env : ''}`;
  return {
    id: channelId(spec),
    kind: 'webhook',
    target,
    async send(message, meta) {
      const url = literal ?? ('env' in spec.url ? options.env[spec.url.env] : undefined);
      if (!url)
        throw new RotorError(
          'ERR_ROTOR_NOTIFY_CONFIG',
          `the webhook URL variable ${target} is not set`,
        );
      const parsed = parseSchemeUrl(url, ['http:', 'https:'], {
        notUrl: () =>
          new RotorError('ERR_ROTOR_NOTIFY_CONFIG', `the webhook URL in ${target} is not a URL`),
        wrongScheme: () =>
          new RotorError('ERR_ROTOR_NOTIFY_CONFIG', 'the webhook URL must be http:// or https://'),
      });
      const key = options.env[spec.keyEnv];
      if (!key)
        throw new RotorError(
          'ERR_ROTOR_NOTIFY_CONFIG',
          `the webhook signing key variable $${spec.keyEnv} is not set`,
        );
      const body = JSON.stringify({
        text: `${message.subject}\n${message.text}`,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: message.subject.slice(0, 150) } },
          { type: 'section', text: { type: 'mrkdwn', text: message.text } },
        ],
        rotor: {
          event: 'rotor.reminder',
          secret: meta.secret,
          environment: meta.environment,
          slot: meta.slot,
        },
      });
      const timestamp = String(Math.floor(Date.now() / 1000));
      let response: Response;
      try {
        // Redirects are not followed: a signed request goes only where rotor.yaml says.
        response = await fetch(parsed, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'rotor',
            'x-rotor-event': 'rotor.reminder',
            'x-rotor-timestamp': timestamp,
            'x-rotor-signature': signBody(key, timestamp, body),
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
        throw new RotorError(
          'ERR_ROTOR_NOTIFY_FAILED',
          cause === 'TimeoutError'
            ? `webhook ${parsed.origin} gave no answer within ${timeoutMs} ms`
            : `webhook ${parsed.origin} not reachable (${redactCredentials(cause, key)})`,
        );
      }
      await response.body?.cancel().catch(() => {});
      if (response.status < 200 || response.status >= 300) {
        throw new RotorError(
          'ERR_ROTOR_NOTIFY_FAILED',
          `webhook ${parsed.origin} answered ${response.status}`,
        );
      }
    },
  };
}
