// An app's routines: what runs an agent on a schedule or when something
// happens, their runs (status, cause, output or error), run one now,
// activate, pause, delete.

import { $, button, form, gql, h, input, mutateApp, select, table, valueOf, when } from './lib.js';

const QUERY = `query($appId: ID!) {
  agents(appId: $appId, first: 100) { edges { node { id name handle } } }
  routines(appId: $appId, first: 100) { edges { node {
    id name status timeoutSeconds nextRunAt agent { handle }
    trigger { __typename
      ... on CronTrigger { expression timezone } ... on IntervalTrigger { seconds }
      ... on OnceTrigger { at } ... on EventTrigger { type teamId threadId } }
    action { __typename
      ... on PromptAgentAction { threadId prompt } ... on PostMessageAction { threadId content }
      ... on CallUrlAction { url method } }
  } } }
}`;

const RUNS = `query($appId: ID!, $id: ID!) { routine(appId: $appId, id: $id) { name runs(first: 50) { edges { node {
  id status cause attempts scheduledFor startedAt finishedAt output error httpStatus
} } } } }`;

function describeTrigger(trigger) {
  switch (trigger.__typename) {
    case 'CronTrigger':
      return `cron ${trigger.expression} (${trigger.timezone})`;
    case 'IntervalTrigger':
      return `every ${trigger.seconds} s`;
    case 'OnceTrigger':
      return `once at ${when(trigger.at)}`;
    default:
      return `on ${trigger.type}${trigger.threadId ? ` in ${trigger.threadId}` : ''}${trigger.teamId ? ` in ${trigger.teamId}` : ''}`;
  }
}

function describeAction(action) {
  switch (action.__typename) {
    case 'PromptAgentAction':
      return `prompt the agent in ${action.threadId}: ${action.prompt}`;
    case 'PostMessageAction':
      return `post in ${action.threadId}: ${action.content}`;
    default:
      return `${action.method} ${action.url}`;
  }
}

/// The trigger input for the form's choice.
function triggerInput(kind, value, extra) {
  switch (kind) {
    case 'cron':
      return { cron: { expression: value, timezone: extra } };
    case 'interval':
      return { interval: { seconds: Number(value) } };
    case 'once':
      return { once: { at: new Date(value).toISOString() } };
    default:
      return { event: { type: value, threadId: extra } };
  }
}

function actionInput(kind, target, text) {
  switch (kind) {
    case 'promptAgent':
      return { promptAgent: { threadId: target, prompt: text } };
    case 'postMessage':
      return { postMessage: { threadId: target, content: text } };
    default:
      return { callUrl: { url: target, method: 'POST', body: text } };
  }
}

export async function render(app, page, { reload }) {
  const data = await gql(QUERY, { appId: app.id });
  const agents = data.agents.edges.map(({ node }) => node);
  const routines = data.routines.edges.map(({ node }) => node);
  const act = (name, routine, selection) => async () => {
    await mutateApp(app, name, 'RoutineIdInput', selection, { id: routine.id });
    await reload();
  };
  const runNow = (routine) => async () => {
    await gql('mutation($input: RunRoutineInput!) { runRoutine(input: $input) { run { id } } }', { input: { appId: app.id, id: routine.id } });
    await showRuns(routine);
  };

  async function showRuns(routine) {
    const found = await gql(RUNS, { appId: app.id, id: routine.id });
    const runs = found.routine.runs.edges.map(({ node }) => node);
    $('routine-runs').replaceChildren(
      h('h4', {}, `Runs of ${found.routine.name} `, button('Refresh', () => showRuns(routine), { id: 'refresh-runs' })),
      table(
        'runs',
        ['Status', 'Cause', 'Attempts', 'Scheduled', 'Started', 'Finished', 'Output or error'],
        runs.map((run) => [
          run.status.toLowerCase(),
          run.cause.toLowerCase(),
          run.attempts,
          when(run.scheduledFor),
          when(run.startedAt),
          when(run.finishedAt),
          h('pre', {}, run.error || run.output || (run.httpStatus ? `HTTP ${run.httpStatus}` : '')),
        ]),
        (index) => runs[index].id,
      ),
    );
  }

  const triggerKind = select('routine-trigger', [['interval', 'every N seconds'], ['cron', 'cron'], ['once', 'once at'], ['event', 'when an event happens']]);
  const actionKind = select('routine-action', [['promptAgent', 'prompt the agent in a thread'], ['postMessage', 'post a message in a thread'], ['callUrl', 'call a URL']]);
  page.append(
    h('h3', {}, 'Routines'),
    table(
      'routines',
      ['Name', 'Agent', 'Status', 'Trigger', 'Action', 'Next run', ''],
      routines.map((routine) => [
        routine.name,
        routine.agent ? `@${routine.agent.handle}` : '',
        routine.status.toLowerCase(),
        describeTrigger(routine.trigger),
        describeAction(routine.action),
        when(routine.nextRunAt),
        h(
          'span',
          {},
          button('Runs', () => showRuns(routine)),
          ' ',
          button('Run now', runNow(routine)),
          ' ',
          routine.status === 'ACTIVE' ? button('Pause', act('pauseRoutine', routine, 'routine { id }')) : button('Activate', act('activateRoutine', routine, 'routine { id }')),
          ' ',
          button('Delete', async () => {
            if (window.confirm(`Delete ${routine.name}?`)) await act('deleteRoutine', routine, 'deletedRoutineId')();
          }),
        ),
      ]),
      (index) => routines[index].name,
    ),
    form(
      'new-routine',
      async () => {
        await gql('mutation($input: CreateRoutineInput!) { createRoutine(input: $input) { routine { id } } }', {
          input: {
            appId: app.id,
            name: $('routine-name').value,
            agentId: $('routine-agent').value,
            trigger: triggerInput(triggerKind.value, $('routine-when').value, valueOf('routine-when-extra')),
            action: actionInput(actionKind.value, $('routine-target').value, $('routine-text').value),
            timeoutSeconds: valueOf('routine-timeout') == null ? null : Number(valueOf('routine-timeout')),
          },
        });
        await reload();
      },
      input('routine-name', 'Name'),
      select('routine-agent', agents.map((agent) => [agent.id, `@${agent.handle}`])),
      triggerKind,
      input('routine-when', 'Seconds, cron expression, time, or event type'),
      input('routine-when-extra', 'Timezone (cron) or thread id (event)'),
      actionKind,
      input('routine-target', 'Thread id or URL'),
      input('routine-text', 'Prompt, message or body'),
      input('routine-timeout', 'Timeout (s)', { type: 'number' }),
      h('button', { id: 'create-routine' }, 'Create routine'),
    ),
    h('p', { className: 'muted' }, 'A new routine is a draft: activate it to start its schedule or trigger.'),
    h('div', { id: 'routine-runs' }),
  );
}
