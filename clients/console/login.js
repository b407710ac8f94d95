// How an app's users sign in: the switches for each way (passwords,
// emailed codes, magic links, outside providers), the origins a link may
// return to, and the outside OAuth / OpenID Connect providers. A
// provider's client secret is sent once and never shown again.

import { $, button, checkbox, form, gql, h, input, select, table, valueOf } from './lib.js';

const SWITCHES = [
  ['passwordSignUp', 'Sign up with a password'],
  ['passwordLogin', 'Log in with a password'],
  ['emailCodeLogin', 'Emailed codes'],
  ['magicLinkLogin', 'Magic links'],
  ['passwordlessSignUp', 'Sign up by code or link'],
  ['oauthLogin', 'Outside providers'],
];

export async function render(app, page, { reload }) {
  const data = await gql(
    `query($id: ID!) { app(id: $id) {
      settings { allowedRedirectOrigins ${SWITCHES.map(([name]) => name).join(' ')} }
      identityProviders { id slug displayName preset clientId callbackUrl allowSignUp }
    } }`,
    { id: app.id },
  );
  const { settings, identityProviders } = data.app;
  const remove = (provider) => async () => {
    if (!window.confirm(`Remove ${provider.displayName}? Its users can no longer sign in with it.`)) return;
    await gql('mutation($input: DeleteIdentityProviderInput!) { deleteIdentityProvider(input: $input) { deletedIdentityProviderId } }', {
      input: { appId: app.id, id: provider.id },
    });
    await reload();
  };
  const custom = h(
    'span',
    { id: 'provider-custom', hidden: true },
    input('provider-authorization-url', 'Authorization URL'),
    input('provider-token-url', 'Token URL'),
    input('provider-userinfo-url', 'Userinfo URL'),
    input('provider-issuer', 'Issuer'),
  );
  const preset = select('provider-preset', ['GOOGLE', 'GITHUB', 'CUSTOM']);
  preset.onchange = () => (custom.hidden = preset.value !== 'CUSTOM');
  page.append(
    h('h3', {}, 'Ways to sign in'),
    form(
      'settings',
      async () => {
        const input = { appId: app.id };
        for (const [name] of SWITCHES) input[name] = $(`setting-${name}`).checked;
        input.allowedRedirectOrigins = $('setting-origins')
          .value.split('\n')
          .map((origin) => origin.trim())
          .filter(Boolean);
        await gql('mutation($input: UpdateAppSettingsInput!) { updateAppSettings(input: $input) { settings { passwordLogin } } }', { input });
        await reload();
        $('settings-saved').textContent = 'Saved.';
      },
      SWITCHES.map(([name, label]) => checkbox(`setting-${name}`, label, settings[name])),
      h(
        'label',
        { style: 'width:100%' },
        'Origins that code and link sign-ins may return to, one a line:',
        h('textarea', { id: 'setting-origins', value: settings.allowedRedirectOrigins.join('\n') }),
      ),
      h('button', { id: 'save-settings' }, 'Save'),
      h('span', { id: 'settings-saved', className: 'muted' }),
    ),
    h('h3', {}, 'Outside identity providers'),
    table(
      'identity-providers',
      ['Name', 'Slug', 'Preset', 'Client id', 'Callback URL', 'Sign-up', ''],
      identityProviders.map((provider) => [
        provider.displayName,
        provider.slug,
        provider.preset.toLowerCase(),
        provider.clientId,
        provider.callbackUrl || '',
        provider.allowSignUp ? 'yes' : 'no',
        button('Remove', remove(provider)),
      ]),
      (index) => identityProviders[index].slug,
    ),
    form(
      'new-provider',
      async () => {
        const input = {
          appId: app.id,
          slug: $('provider-slug').value,
          preset: preset.value,
          displayName: valueOf('provider-name'),
          clientId: $('provider-client-id').value,
          clientSecret: $('provider-client-secret').value,
          allowSignUp: $('provider-sign-up').checked,
        };
        if (preset.value === 'CUSTOM') {
          input.authorizationUrl = valueOf('provider-authorization-url');
          input.tokenUrl = valueOf('provider-token-url');
          input.userinfoUrl = valueOf('provider-userinfo-url');
          input.issuer = valueOf('provider-issuer');
        }
        await gql('mutation($input: CreateIdentityProviderInput!) { createIdentityProvider(input: $input) { identityProvider { id } } }', { input });
        await reload();
      },
      input('provider-slug', 'Slug (e.g. google)'),
      preset,
      input('provider-name', 'Display name'),
      input('provider-client-id', 'Client id'),
      input('provider-client-secret', 'Client secret', { type: 'password', autocomplete: 'off' }),
      checkbox('provider-sign-up', 'New users may sign up', true),
      custom,
      h('button', { id: 'add-provider' }, 'Add provider'),
    ),
  );
}
