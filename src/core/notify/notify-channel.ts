// A place reminders go: an e-mail list or a webhook. `target` names it for the audit log and the
// report without any credential (recipients, or a webhook's origin only: a Slack webhook's
// path is itself a secret).
import type { ReminderMessage } from './reminder-message.js';

export interface NotifyChannel {
  /** Stable across restarts and reordering in rotor.yaml: part of the reminder's unique key. */
  readonly id: string;
  readonly kind: 'email' | 'webhook';
  readonly target: string;
  send(
    message: ReminderMessage,
    meta: { secret: string; environment: string; slot: string },
  ): Promise<void>;
}

export interface Notifier {
  readonly channels: readonly NotifyChannel[];
  close(): Promise<void>;
}

/** Cuts credentials (and anything after them) out of an error message from a transport. */
export function redactCredentials(message: string, ...secrets: (string | undefined)[]): string {
  let out = message;
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join('[redacted]');
  // A URL with userinfo, anywhere: keep scheme and host.
  return out.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1[redacted]@').slice(0, 500);
}
