// An app's webhooks: where events are sent and which, on or off, the
// signing secret (shown once, when made or rotated), each delivery with
// its attempts, and redelivering one.

import { $, button, form, gql, h, input, mutateApp, table, when } from './lib.js';

const QUERY = `query($appId: ID!) { webhooks(appId: $appId, first: 100) { edges { node {
  id url eventTypes enabled disabledAt disabledReason previousSecretExpiresAt createdAt
} } } }`;

const DELIVERIES = `query($appId: ID!, $id: ID!) { webhook(appId: $appId, id: $id) { url deliveries(first: 50) { edges { node {
  id eventType status createdAt finishedAt nextAttemptAt failureReason
  attempts { attemptedAt durationMs statusCode error succeeded }
} } } } }`;

export async function render(app, page, { reload }) {
  const data = await gql(QUERY, { appId: app.id });
  const webhooks = data.webhooks.edges.map(({ node }) => node);
  const mutate = (name, inputType, selection, input) => mutateApp(app, name, inputType, selection, input);
  const showSecret = (text) => {
    $('webhook-secret').hidden = false;
    $('webhook-secret').textContent = text;
  };

  async function showDeliveries(webhook) {
    const found = await gql(DELIVERIES, { appId: app.id, id: webhook.id });
    const deliveries = found.webhook.deliveries.edges.map(({ node }) => node);
    $('deliveries').replaceChildren(
      h('h4', {}, `Deliveries to ${found.webhook.url} `, button('Refresh', () => showDeliveries(webhook), { id: 'refresh-deliveries' })),
      table(
        'delivery-list',
        ['Event', 'Status', 'Made', 'Finished', 'Attempts', ''],
        deliveries.map((delivery) => [
          delivery.eventType,
          delivery.failureReason ? `${delivery.status.toLowerCase()}: ${delivery.failureReason}` : delivery.status.toLowerCase(),
          when(delivery.createdAt),
          delivery.finishedAt ? when(delivery.finishedAt) : delivery.nextAttemptAt ? `next try ${when(delivery.nextAttemptAt)}` : '',
          h(
            'div',
            {},
            delivery.attempts.map((attempt) =>
              h(
                'div',
                {},
                `${when(attempt.attemptedAt)}: ${attempt.succeeded ? 'ok' : 'failed'}${attempt.statusCode ? ` HTTP ${attempt.statusCode}` : ''}${attempt.error ? ` ${attempt.error}` : ''} (${attempt.durationMs} ms)`,
              ),
            ),
          ),
          button('Redeliver', async () => {
            await mutate('redeliverWebhookDelivery', 'RedeliverWebhookDeliveryInput', 'delivery { id }', { id: delivery.id });
            await showDeliveries(webhook);
          }),
        ]),
        (index) => deliveries[index].id,
      ),
    );
  }

  page.append(
    h('h3', {}, 'Webhooks'),
    table(
      'webhooks',
      ['URL', 'Events', 'State', ''],
      webhooks.map((webhook) => [
        webhook.url,
        webhook.eventTypes.join(', '),
        webhook.enabled ? 'on' : `off${webhook.disabledReason ? `: ${webhook.disabledReason}` : ''}`,
        h(
          'span',
          {},
          button('Deliveries', () => showDeliveries(webhook)),
          ' ',
          button(webhook.enabled ? 'Turn off' : 'Turn on', async () => {
            await mutate('updateWebhook', 'UpdateWebhookInput', 'webhook { id }', { id: webhook.id, enabled: !webhook.enabled });
            await reload();
          }),
          ' ',
          button('Rotate secret', async () => {
            const made = await mutate('rotateWebhookSecret', 'RotateWebhookSecretInput', 'signingSecret webhook { previousSecretExpiresAt }', {
              id: webhook.id,
            });
            const { signingSecret, webhook: rotated } = made.rotateWebhookSecret;
            showSecret(`New signing secret (shown once; the old one works until ${when(rotated.previousSecretExpiresAt)}): ${signingSecret}`);
          }),
          ' ',
          button('Delete', async () => {
            if (!window.confirm(`Delete the webhook to ${webhook.url}?`)) return;
            await mutate('deleteWebhook', 'DeleteWebhookInput', 'deletedWebhookId', { id: webhook.id });
            await reload();
          }),
        ),
      ]),
      (index) => webhooks[index].url,
    ),
    form(
      'new-webhook',
      async () => {
        const made = await mutate('createWebhook', 'CreateWebhookInput', 'signingSecret webhook { id }', {
          url: $('webhook-url').value,
          eventTypes: $('webhook-events')
            .value.split(',')
            .map((type) => type.trim())
            .filter(Boolean),
        });
        await reload();
        showSecret(`Signing secret (shown once: copy it now): ${made.createWebhook.signingSecret}`);
      },
      input('webhook-url', 'https://… receiver'),
      input('webhook-events', 'Event types, comma-separated (message.created, …)'),
      h('button', { id: 'create-webhook' }, 'Add webhook'),
    ),
    h('div', { id: 'webhook-secret', className: 'secret', hidden: true }),
    h('div', { id: 'deliveries' }),
  );
}
