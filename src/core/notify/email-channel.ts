// Reminders by e-mail: nodemailer over SMTP, with the SMTP URL (and its password) read from the
// environment variable rotor.yaml names, at send time, so a missing variable is a delivery
// failure that is audited and retried, not a crash.
import { RotorError } from '../errors.js';
import { parseSchemeUrl } from '../scheme-url.js';
import type { EmailChannelSpec } from '../policy/schedule-schema.js';
import { redactCredentials, type NotifyChannel } from './notify-channel.js';

export interface EmailChannelOptions {
  env: NodeJS.ProcessEnv;
  /** Connection, greeting and socket timeouts (default 15 s). */
  timeoutMs?: number;
}

export function createEmailChannel(
  spec: EmailChannelSpec,
  options: EmailChannelOptions,
): NotifyChannel {
  const timeoutMs = options.timeoutMs ?? 15_000;
  return {
    id: 'email',
    kind: 'email',
    target: spec.to.join(', '),
    async send(message) {
      const url = options.env[spec.smtpUrlEnv];
      if (!url) {
        throw new RotorError(
          'ERR_ROTOR_NOTIFY_CONFIG',
          `the SMTP URL variable $${spec.smtpUrlEnv} is not set`,
        );
      }
      const parsed = parseSchemeUrl(url, ['smtp:', 'smtps:'], {
        notUrl: () =>
          new RotorError(
            'ERR_ROTOR_NOTIFY_CONFIG',
            `$${spec.smtpUrlEnv} is not a URL (smtp://user:password@host:587 or smtps://…)`,
          ),
        wrongScheme: () =>
          new RotorError(
            'ERR_ROTOR_NOTIFY_CONFIG',
            `$${spec.smtpUrlEnv} must be an smtp:// or smtps:// URL`,
          ),
      });
      // nodemailer is loaded only when a reminder is sent (start-up time of every command counts).
      const { createTransport } = await import('nodemailer');
      const transport = createTransport({
        url,
        connectionTimeout: timeoutMs,
        greetingTimeout: timeoutMs,
        socketTimeout: timeoutMs,
      });
      try {
        await transport.sendMail({
          from: spec.from,
          to: [...spec.to],
          subject: message.subject,
          text: message.text,
        });
      } catch (error) {
        const text = error instanceof Error ? error.message : String(error);
        const user = decodeURIComponent(parsed.username);
        const password = decodeURIComponent(parsed.password);
        throw new RotorError(
          'ERR_ROTOR_NOTIFY_FAILED',
          `e-mail via ${parsed.hostname}:${parsed.port || (parsed.protocol === 'smtps:' ? 465 : 587)} failed: ${redactCredentials(text, password, user)}`,
        );
      } finally {
        transport.close();
      }
    },
  };
}
