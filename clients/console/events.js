// A live tail of the app's events (`appEvents`: its routines' runs as they
// start, succeed and fail), newest at the top. It resumes behind the last
// event it showed after a dropped connection, so nothing is missed.

import { button, follow, h, when } from './lib.js';

const SUBSCRIPTION = `subscription($appId: ID, $after: String) { appEvents(appId: $appId, after: $after) {
  __typename
  ... on Event { cursor type occurredAt }
  ... on RoutineRunStartedEvent { routineName runStatus cause attempt threadId }
  ... on RoutineRunSucceededEvent { routineName runStatus cause attempt threadId output httpStatus }
  ... on RoutineRunFailedEvent { routineName runStatus cause attempt threadId error httpStatus }
} }`;

/// At most this many events stay on the page.
const KEPT = 200;

export async function render(app, page, { onLeave }) {
  const status = h('span', { id: 'tail-status', className: 'muted' }, 'connecting');
  const log = h('div', { id: 'tail', className: 'log' });
  let tail = null;
  // Following again after a pause resumes behind the last event shown.
  let lastCursor = null;
  const start = () => {
    if (tail) return;
    tail = follow({
      query: SUBSCRIPTION,
      variables: { appId: app.id, after: lastCursor },
      onStatus: (text) => (status.textContent = text),
      onEvent: (event) => {
        lastCursor = event.cursor;
        const detail = [event.routineName, event.runStatus && event.runStatus.toLowerCase(), event.cause && event.cause.toLowerCase()]
          .filter(Boolean)
          .join(' · ');
        const said = event.error || event.output || '';
        log.prepend(
          h(
            'div',
            { data: { type: event.type } },
            h('strong', {}, event.type),
            ` ${when(event.occurredAt)} ${detail}`,
            said ? h('pre', {}, said) : null,
          ),
        );
        while (log.children.length > KEPT) log.lastChild.remove();
      },
    });
  };
  const stop = () => {
    if (tail) tail.close();
    tail = null;
    status.textContent = 'stopped';
  };
  onLeave(stop);
  page.append(
    h('h3', {}, 'Live events'),
    h(
      'p',
      {},
      status,
      ' ',
      button('Pause', stop, { id: 'tail-stop' }),
      ' ',
      button('Follow', start, { id: 'tail-start' }),
      ' ',
      button('Drop the connection', () => tail && tail.drop(), { id: 'tail-drop' }),
    ),
    h('p', { className: 'muted' }, "Routine runs of this app, live, as they start, succeed and fail (newest first). Run a routine from the Routines tab to see one."),
    log,
  );
  start();
}
