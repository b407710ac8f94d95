// A thread view: watch one of the app's threads live and talk to its
// agents as one of the app's users, with replies streaming in as the model
// writes them, tool calls shown as they run.
//
// Threads are the app's users' data, so this page speaks to the app as its
// secret key (a developer's own token reaches the app's configuration, not
// its threads). The key is held in this page's memory only.

import { $, button, follow, forgetSecretKey, form, gql, h, input, rememberSecretKey, secretKeyOf, select, table, valueOf, when } from './lib.js';

const AUTHOR = 'author { __typename ... on User { id displayName } ... on Agent { id handle } } agentReply { id }';

const LISTS = `{
  users(first: 100) { edges { node { id displayName email } } }
  agents(first: 100) { edges { node { id name handle replyMode } } }
  threads(first: 50) { edges { node { id title lastMessageAt owner { displayName } participants { __typename } } } }
}`;

const HISTORY = `query($id: ID!) { thread(id: $id) { id title messages(last: 50) { edges { cursor node { id content status createdAt ${AUTHOR} } } } } }`;

const EVENTS = `subscription($threadId: ID!, $after: String) { threadEvents(threadId: $threadId, after: $after) {
  __typename
  ... on Event { cursor type occurredAt }
  ... on MessageCreatedEvent { message { id content status createdAt ${AUTHOR} } }
  ... on MessageEditedEvent { message { id content } }
  ... on MessageDeletedEvent { message { id } }
  ... on AgentReplyDeltaEvent { replyId agent { handle } delta }
  ... on AgentReplyCompletedEvent { replyId message { id content status createdAt ${AUTHOR} } }
  ... on AgentReplyFailedEvent { replyId error }
  ... on AgentToolCallStartedEvent { replyId toolName arguments }
  ... on AgentToolCallCompletedEvent { replyId toolName result }
  ... on AgentToolCallFailedEvent { replyId toolName error }
  ... on AgentApprovalRequestedEvent { replyId toolName approvalExpiresAt }
} }`;

/// A thread just made here, to open once the page is drawn again.
let watchNext = null;

const authorName = (author) => (!author ? 'someone' : author.__typename === 'Agent' ? `@${author.handle}` : author.displayName);

export async function render(app, page, { onLeave, reload }) {
  const key = secretKeyOf(app.id);
  page.append(h('h3', {}, 'Threads'));
  if (!key) {
    page.append(
      h(
        'p',
        { className: 'muted' },
        "Threads belong to the app's users: this view speaks to the app as its secret key. Paste one (or create one on the Keys tab, which hands it here). It stays in this page's memory only: reload or close the tab and it is gone.",
      ),
      form(
        'thread-key',
        async () => {
          const secret = $('thread-secret').value.trim();
          const viewer = await gql('{ viewer { kind app { id } } }', {}, secret);
          if (viewer.viewer.kind !== 'APP_SECRET' || !viewer.viewer.app || viewer.viewer.app.id !== app.id) {
            throw new Error(`FORBIDDEN on key: not a secret key of ${app.name}`);
          }
          rememberSecretKey(app.id, secret);
          await reload();
        },
        input('thread-secret', 'sk_…', { type: 'password', autocomplete: 'off' }),
        h('button', { id: 'use-key' }, 'Use this key'),
      ),
    );
    return;
  }

  let data;
  try {
    data = await gql(LISTS, {}, key);
  } catch (error) {
    // The key was revoked (here or elsewhere): ask for another.
    if (error.code !== 'UNAUTHENTICATED') throw error;
    forgetSecretKey(app.id);
    await reload();
    throw error;
  }
  const users = data.users.edges.map(({ node }) => node);
  const agents = data.agents.edges.map(({ node }) => node);
  const threads = data.threads.edges.map(({ node }) => node);
  const userChoice = (id) => select(id, users.map((user) => [user.id, `${user.displayName} <${user.email || ''}>`]));
  let watching = null;
  onLeave(() => watching && watching.close());

  page.append(
    table(
      'threads',
      ['Title', 'Owner', 'Participants', 'Last message', ''],
      threads.map((thread) => [
        thread.title,
        thread.owner ? thread.owner.displayName : '',
        thread.participants.length,
        when(thread.lastMessageAt),
        button('Watch', () => watch(thread.id), { data: { watch: thread.title } }),
      ]),
      (index) => threads[index].title,
    ),
    users.length === 0
      ? h('p', { className: 'muted' }, 'This app has no users yet: threads are theirs. Sign one up through your front end (the publishable key), then come back.')
      : form(
          'new-thread',
          async () => {
            const made = await gql('mutation($input: CreateThreadInput!) { createThread(input: $input) { thread { id } } }', {
              input: { title: $('thread-title').value, ownerId: $('thread-owner').value },
            }, key);
            const threadId = made.createThread.thread.id;
            if (valueOf('thread-agent')) {
              await gql('mutation($input: AddThreadParticipantInput!) { addThreadParticipant(input: $input) { thread { id } } }', {
                input: { threadId, agentId: $('thread-agent').value },
              }, key);
            }
            watchNext = threadId;
            await reload();
          },
          input('thread-title', 'New thread'),
          userChoice('thread-owner'),
          select('thread-agent', [['', 'no agent'], ...agents.map((agent) => [agent.id, `with @${agent.handle}`])]),
          h('button', { id: 'create-thread' }, 'Create thread'),
        ),
    h('div', { id: 'thread-view' }),
  );

  if (watchNext) {
    const threadId = watchNext;
    watchNext = null;
    await watch(threadId);
  }

  /// Opens one thread: its last messages, then everything after them live.
  async function watch(threadId) {
    if (watching) watching.close();
    const thread = threads.find((known) => known.id === threadId);
    const log = h('div', { id: 'thread-log', className: 'log' });
    const status = h('span', { id: 'thread-status', className: 'muted' }, 'connecting');
    const shown = new Map(); // message id -> its line
    const streaming = new Map(); // reply id -> its line while it streams

    const lineOf = (message) =>
      h(
        'div',
        { data: { message: message.id } },
        h('strong', {}, authorName(message.author)),
        ': ',
        h('span', {}, message.status === 'DELETED' ? '(deleted)' : message.content || ''),
      );
    const showMessage = (message) => {
      const line = lineOf(message);
      const old = shown.get(message.id);
      if (old) old.replaceWith(line);
      else log.append(line);
      shown.set(message.id, line);
      log.scrollTop = log.scrollHeight;
    };
    /// A reply's stored message takes the place of its streamed line,
    /// whichever of `agent_reply.completed` and `message.created` comes
    /// first; the message is shown once.
    const settle = (replyId, message) => {
      const line = streaming.get(replyId);
      streaming.delete(replyId);
      if (!line) {
        if (message) showMessage(message);
      } else if (message && !shown.has(message.id)) {
        const stored = lineOf(message);
        line.replaceWith(stored);
        shown.set(message.id, stored);
      } else {
        line.remove();
      }
    };
    const note = (replyId, text) => {
      const line = h('div', { className: 'muted', data: { reply: replyId } }, text);
      const streamingLine = streaming.get(replyId);
      if (streamingLine) streamingLine.before(line);
      else log.append(line);
    };
    /// The history goes above whatever arrived live before it, and a
    /// message seen both ways is shown once.
    const showHistory = (data) => {
      if (!data.thread) return;
      title.textContent = data.thread.title;
      const first = log.firstChild;
      for (const { node } of data.thread.messages.edges) {
        if (shown.has(node.id)) continue;
        const line = lineOf(node);
        log.insertBefore(line, first);
        shown.set(node.id, line);
      }
      log.scrollTop = log.scrollHeight;
    };
    const title = h('span', {}, thread ? thread.title : '');

    $('thread-view').replaceChildren(
      h('h4', {}, title, ' ', status, ' ', button('Drop the connection', () => watching && watching.drop(), { id: 'thread-drop' })),
      log,
      users.length === 0
        ? ''
        : form(
            'send-message',
            async () => {
              await gql('mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }', {
                input: { threadId, content: $('message-content').value, authorId: $('message-author').value },
              }, key);
              $('message-content').value = '';
            },
            userChoice('message-author'),
            input('message-content', 'Say something (mention an agent with @handle)', { size: 50 }),
            h('button', { id: 'send-message-button' }, 'Send'),
          ),
    );

    // The history is read on the subscription's own socket, once it
    // listens: nothing falls between the two.
    watching = follow({
      query: EVENTS,
      variables: { threadId, after: null },
      credential: key,
      load: { query: HISTORY, variables: { id: threadId }, onData: showHistory },
      onStatus: (text) => (status.textContent = text),
      onEvent: (event) => {
        switch (event.__typename) {
          case 'MessageCreatedEvent':
            if (event.message && event.message.agentReply) settle(event.message.agentReply.id, event.message);
            else if (event.message) showMessage(event.message);
            break;
          case 'MessageEditedEvent': {
            const line = event.message && shown.get(event.message.id);
            if (line) line.lastChild.textContent = event.message.content || '';
            break;
          }
          case 'MessageDeletedEvent': {
            const line = event.message && shown.get(event.message.id);
            if (line) line.lastChild.textContent = '(deleted)';
            break;
          }
          case 'AgentReplyDeltaEvent': {
            let line = streaming.get(event.replyId);
            if (!line) {
              line = h('div', { className: 'streaming', data: { streaming: event.replyId } }, h('strong', {}, `@${event.agent ? event.agent.handle : 'agent'}`), ': ');
              streaming.set(event.replyId, line);
              log.append(line);
            }
            line.append(event.delta);
            log.scrollTop = log.scrollHeight;
            break;
          }
          case 'AgentReplyCompletedEvent':
            settle(event.replyId, event.message);
            break;
          case 'AgentReplyFailedEvent':
            note(event.replyId, `the reply failed: ${event.error}`);
            if (streaming.has(event.replyId)) streaming.get(event.replyId).classList.remove('streaming');
            streaming.delete(event.replyId);
            break;
          case 'AgentToolCallStartedEvent':
            note(event.replyId, `calling ${event.toolName} ${JSON.stringify(event.arguments)}`);
            break;
          case 'AgentToolCallCompletedEvent':
            note(event.replyId, `${event.toolName} answered ${JSON.stringify(event.result)}`);
            break;
          case 'AgentToolCallFailedEvent':
            note(event.replyId, `${event.toolName} failed: ${event.error}`);
            break;
          case 'AgentApprovalRequestedEvent':
            note(event.replyId, `${event.toolName} waits for approval until ${when(event.approvalExpiresAt)}`);
            break;
          default:
            break;
        }
      },
    });
  }
}
