// An app's keys (name, kind, hint, last use, revoked; create one, shown
// once; revoke one) and deleting the app.

import { $, button, forgetSecretKey, form, gql, h, input, rememberSecretKey, select, table, when } from './lib.js';

export async function render(app, page, { reload, appsChanged, closeApp }) {
  const data = await gql(
    'query($id: ID!) { app(id: $id) { apiKeys(first: 100) { edges { node { id name kind hint lastUsedAt revokedAt } } } } }',
    { id: app.id },
  );
  const nodes = data.app.apiKeys.edges.map(({ node }) => node);
  const revoke = (key) => async () => {
    await gql('mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { apiKey { id revokedAt } } }', {
      input: { appId: app.id, id: key.id },
    });
    forgetSecretKey(app.id, key.id);
    await reload();
  };
  page.append(
    h('h3', {}, 'Keys'),
    table(
      'keys',
      ['Name', 'Kind', 'Hint', 'Last used', 'Revoked', ''],
      nodes.map((key) => [
        key.name,
        key.kind.toLowerCase(),
        key.hint,
        key.lastUsedAt ? when(key.lastUsedAt) : 'never',
        when(key.revokedAt),
        key.revokedAt ? '' : button('Revoke', revoke(key)),
      ]),
      (index) => nodes[index].id,
    ),
    form(
      'new-key',
      async () => {
        const made = await gql('mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key apiKey { id } } }', {
          input: { appId: app.id, kind: $('key-kind').value, name: $('key-name').value },
        });
        // The thread view may use it while this page stays open.
        if ($('key-kind').value === 'SECRET') rememberSecretKey(app.id, made.createApiKey.key, made.createApiKey.apiKey.id);
        await reload();
        $('new-key-value').hidden = false;
        $('new-key-value').textContent = `New key (shown once: copy it now): ${made.createApiKey.key}`;
      },
      input('key-name', 'Key name'),
      select('key-kind', [['SECRET', 'secret'], ['PUBLISHABLE', 'publishable']]),
      h('button', { id: 'create-key' }, 'Create key'),
    ),
    h('div', { id: 'new-key-value', className: 'secret', hidden: true }),
    h(
      'p',
      {},
      button(
        'Delete this app',
        async () => {
          if (!window.confirm('Delete this app and everything in it?')) return;
          await gql('mutation($input: DeleteAppInput!) { deleteApp(input: $input) { deletedAppId } }', { input: { appId: app.id } });
          closeApp();
          await appsChanged();
        },
        { id: 'delete-app' },
      ),
    ),
  );
}
