// An app's model providers, tools (HTTP tools and MCP servers) and agents:
// an agent's instructions, model, reply mode, status, step limit and the
// tools it may call. Provider API keys and secret headers are sent once and
// never shown again.

import { $, button, checkbox, form, gql, h, input, jsonOf, mutateApp, select, table, valueOf, when } from './lib.js';

const BUILTIN_TOOLS = [
  ['READ_THREAD', 'orbit_read_thread'],
  ['POST_MESSAGE', 'orbit_post_message'],
  ['RUN_ROUTINE', 'orbit_run_routine'],
];

const QUERY = `query($appId: ID!) {
  modelProviders(appId: $appId, first: 100) { edges { node { id name kind baseUrl hasApiKey } } }
  tools(appId: $appId, first: 100) { edges { node { id name description kind requiresApproval http { url method } mcpServer { name } } } }
  mcpServers(appId: $appId, first: 100) { edges { node { id name url status lastError syncedAt tools { id } leftOutTools { name reason } } } }
  agents(appId: $appId, first: 100) { edges { node {
    id name handle replyMode status instructions maxSteps
    model { provider { id name } model temperature maxTokens }
    tools { id name } builtinTools
  } } }
}`;

const nodes = (connection) => connection.edges.map(({ node }) => node);

export async function render(app, page, { reload }) {
  const data = await gql(QUERY, { appId: app.id });
  const providers = nodes(data.modelProviders);
  const tools = nodes(data.tools);
  const servers = nodes(data.mcpServers);
  const agents = nodes(data.agents);
  const mutate = (name, inputType, selection, input) => mutateApp(app, name, inputType, selection, input);
  const deleting = (what, name, inputType, selection, id) => async () => {
    if (!window.confirm(`Delete ${what}?`)) return;
    await mutate(name, inputType, selection, { id });
    await reload();
  };

  const providerKind = select('provider-kind', [['OPENAI_COMPATIBLE', 'OpenAI-compatible'], ['SCRIPTED', 'scripted (for tests)']]);
  const script = h('textarea', {
    id: 'provider-script',
    hidden: true,
    placeholder: '{"rules": [{"when": "hello", "reply": "Hi there"}], "default": "I am a scripted agent.", "chunkChars": 4}',
  });
  providerKind.onchange = () => (script.hidden = providerKind.value !== 'SCRIPTED');

  page.append(
    h('h3', {}, 'Model providers'),
    table(
      'model-providers',
      ['Name', 'Kind', 'Base URL', 'API key', ''],
      providers.map((provider) => [
        provider.name,
        provider.kind.toLowerCase(),
        provider.baseUrl || '',
        provider.hasApiKey ? 'set' : 'none',
        button('Delete', deleting(provider.name, 'deleteModelProvider', 'DeleteModelProviderInput', 'deletedModelProviderId', provider.id)),
      ]),
      (index) => providers[index].name,
    ),
    form(
      'new-provider',
      async () => {
        await mutate('createModelProvider', 'CreateModelProviderInput', 'modelProvider { id }', {
          name: $('provider-name').value,
          kind: providerKind.value,
          baseUrl: providerKind.value === 'SCRIPTED' ? null : valueOf('provider-base-url'),
          apiKey: providerKind.value === 'SCRIPTED' ? null : valueOf('provider-api-key'),
          script: providerKind.value === 'SCRIPTED' ? jsonOf('provider-script', 'script') : null,
        });
        await reload();
      },
      input('provider-name', 'Name'),
      providerKind,
      input('provider-base-url', 'Base URL (https://…/v1)'),
      input('provider-api-key', 'API key', { type: 'password', autocomplete: 'off' }),
      script,
      h('button', { id: 'create-provider' }, 'Add provider'),
    ),

    h('h3', {}, 'Agents'),
    table(
      'agents',
      ['Name', 'Handle', 'Model', 'Replies', 'Status', 'Tools', ''],
      agents.map((agent) => [
        agent.name,
        `@${agent.handle}`,
        agent.model ? `${agent.model.provider.name} · ${agent.model.model}` : '',
        agent.replyMode.toLowerCase(),
        agent.status.toLowerCase(),
        [...(agent.tools || []).map((tool) => tool.name), ...(agent.builtinTools || []).map((name) => name.toLowerCase())].join(', '),
        h(
          'span',
          {},
          button('Edit', () => editAgent(agent), { data: { edit: agent.handle } }),
          ' ',
          button('Delete', deleting(agent.name, 'deleteAgent', 'DeleteAgentInput', 'deletedAgentId', agent.id)),
        ),
      ]),
      (index) => agents[index].handle,
    ),
    form(
      'new-agent',
      async () => {
        await mutate('createAgent', 'CreateAgentInput', 'agent { id }', {
          name: $('agent-name').value,
          handle: $('agent-handle').value,
          instructions: valueOf('agent-instructions'),
          model: { provider: $('agent-provider').value, model: $('agent-model').value },
          replyMode: $('agent-reply-mode').value,
        });
        await reload();
      },
      input('agent-name', 'Name'),
      input('agent-handle', 'Handle'),
      select('agent-provider', providers.map((provider) => [provider.id, provider.name])),
      input('agent-model', 'Model (e.g. gpt-4o-mini)'),
      select('agent-reply-mode', [['ALWAYS', 'replies to every message'], ['MENTION', 'replies when @mentioned']]),
      h('textarea', { id: 'agent-instructions', placeholder: 'Instructions' }),
      h('button', { id: 'create-agent' }, 'Create agent'),
    ),
    h('div', { id: 'agent-editor' }),

    h('h3', {}, 'Tools'),
    h('p', { className: 'muted' }, 'HTTP tools are made here; an MCP server brings its own (below).'),
    table(
      'tools',
      ['Name', 'Kind', 'Description', 'Calls', 'Approval', ''],
      tools.map((tool) => [
        tool.name,
        tool.kind.toLowerCase(),
        tool.description,
        tool.http ? `${tool.http.method} ${tool.http.url}` : `MCP: ${tool.mcpServer ? tool.mcpServer.name : ''}`,
        tool.requiresApproval ? 'required' : '',
        tool.http ? button('Delete', deleting(tool.name, 'deleteTool', 'DeleteToolInput', 'deletedToolId', tool.id)) : '',
      ]),
      (index) => tools[index].name,
    ),
    form(
      'new-tool',
      async () => {
        const headers = [];
        if (valueOf('tool-header-name')) {
          headers.push({ name: valueOf('tool-header-name'), value: $('tool-header-value').value, secret: $('tool-header-secret').checked });
        }
        await mutate('createTool', 'CreateToolInput', 'tool { id }', {
          name: $('tool-name').value,
          description: $('tool-description').value,
          inputSchema: jsonOf('tool-schema', 'inputSchema') || { type: 'object', properties: {} },
          http: { url: $('tool-url').value, method: $('tool-method').value, headers },
          requiresApproval: $('tool-approval').checked,
        });
        await reload();
      },
      input('tool-name', 'Name (get_weather)'),
      input('tool-description', 'What it does, for the model'),
      select('tool-method', ['POST', 'GET', 'PUT', 'PATCH', 'DELETE']),
      input('tool-url', 'URL'),
      input('tool-header-name', 'Header (optional)'),
      input('tool-header-value', 'Header value', { type: 'password', autocomplete: 'off' }),
      checkbox('tool-header-secret', 'secret', true),
      checkbox('tool-approval', 'requires approval', false),
      h('textarea', { id: 'tool-schema', placeholder: '{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}' }),
      h('button', { id: 'create-tool' }, 'Add tool'),
    ),

    h('h3', {}, 'MCP servers'),
    table(
      'mcp-servers',
      ['Name', 'URL', 'Status', 'Tools', 'Synced', ''],
      servers.map((server) => [
        server.name,
        server.url,
        server.lastError ? `${server.status.toLowerCase()}: ${server.lastError}` : server.status.toLowerCase(),
        `${server.tools.length}${server.leftOutTools.length ? ` (left out: ${server.leftOutTools.map((tool) => `${tool.name}: ${tool.reason}`).join('; ')})` : ''}`,
        when(server.syncedAt),
        h(
          'span',
          {},
          button('Refresh', async () => {
            await mutate('refreshMcpServer', 'RefreshMcpServerInput', 'mcpServer { id }', { id: server.id });
            await reload();
          }),
          ' ',
          button('Delete', deleting(server.name, 'deleteMcpServer', 'DeleteMcpServerInput', 'deletedMcpServerId', server.id)),
        ),
      ]),
      (index) => servers[index].name,
    ),
    form(
      'new-mcp-server',
      async () => {
        await mutate('createMcpServer', 'CreateMcpServerInput', 'mcpServer { id }', { name: $('mcp-name').value, url: $('mcp-url').value, headers: [] });
        await reload();
      },
      input('mcp-name', 'Name'),
      input('mcp-url', 'URL of its Streamable HTTP endpoint'),
      h('button', { id: 'create-mcp-server' }, 'Connect server'),
    ),
  );

  /// The form for one agent: its settings and the tools it may call.
  function editAgent(agent) {
    const has = new Set((agent.tools || []).map((tool) => tool.id));
    const builtin = new Set(agent.builtinTools || []);
    const mode = select('edit-reply-mode', ['ALWAYS', 'MENTION']);
    mode.value = agent.replyMode;
    const status = select('edit-status', ['ACTIVE', 'PAUSED']);
    status.value = agent.status;
    const provider = select('edit-provider', providers.map((provider) => [provider.id, provider.name]));
    if (agent.model) provider.value = agent.model.provider.id;
    $('agent-editor').replaceChildren(
      h('h4', {}, `Edit @${agent.handle}`),
      form(
        'edit-agent',
        async () => {
          await mutate('updateAgent', 'UpdateAgentInput', 'agent { id }', {
            id: agent.id,
            name: $('edit-name').value,
            instructions: $('edit-instructions').value,
            model: { provider: provider.value, model: $('edit-model').value },
            replyMode: mode.value,
            status: status.value,
            maxSteps: valueOf('edit-max-steps') == null ? null : Number(valueOf('edit-max-steps')),
          });
          await mutate('setAgentTools', 'SetAgentToolsInput', 'agent { id }', {
            agentId: agent.id,
            toolIds: tools.filter((tool) => $(`edit-tool-${tool.id}`).checked).map((tool) => tool.id),
            builtinTools: BUILTIN_TOOLS.filter(([name]) => $(`edit-builtin-${name}`).checked).map(([name]) => name),
          });
          await reload();
        },
        input('edit-name', 'Name', { value: agent.name }),
        provider,
        input('edit-model', 'Model', { value: agent.model ? agent.model.model : '' }),
        mode,
        status,
        input('edit-max-steps', 'Max steps (1–32)', { value: agent.maxSteps == null ? '' : String(agent.maxSteps), type: 'number' }),
        h('textarea', { id: 'edit-instructions', value: agent.instructions || '' }),
        h('div', {}, 'Tools: ', tools.map((tool) => checkbox(`edit-tool-${tool.id}`, tool.name, has.has(tool.id)))),
        h('div', {}, 'Built-in: ', BUILTIN_TOOLS.map(([name, label]) => checkbox(`edit-builtin-${name}`, label, builtin.has(name)))),
        h('button', { id: 'save-agent' }, 'Save agent'),
      ),
    );
  }
}
