import { loadConfig, type WebhookSettings } from '../../config.ts';

// The webhook settings of this process: the server and the worker install theirs from
// their configuration when they start; until then, those of the environment.

let current: WebhookSettings | undefined;

export function useWebhookSettings(settings: WebhookSettings): void {
  current = settings;
}

export function webhookSettings(): WebhookSettings {
  return (current ??= loadConfig().webhooks);
}
