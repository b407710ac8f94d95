// Follows docs/agents.md, "Tools", against a running `orbit serve`: an app
// variable holding a secret, an HTTP tool whose header uses it, a tool that
// requires a person's approval, Orbit's own /mcp registered as an MCP server
// of the app, built-in tools — and an agent that calls them all while a
// subscriber watches every step stream in. Exits non-zero, saying what
// failed, when any of it does not happen. Run by run.sh (ORBIT_URL, SK, PK).
//
// The model here is a stand-in on loopback that speaks the OpenAI streaming
// format and decides by a script (a real one would be Ollama or a hosted
// API, set up the same way): it calls the tool the user's message names,
// then answers from the result.
import http from 'node:http';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const base = process.env.ORBIT_URL;
const SK = process.env.SK;
const PK = process.env.PK;
const deadline = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000} s`)), ms));

async function gql(credential, query, variables = {}) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${credential}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`${query.slice(0, 60)}…: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const listen = (server) => new Promise((ready) => server.listen(0, '127.0.0.1', () => ready(server.address().port)));
const readBody = (req) => new Promise((done) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
});

// The tools' endpoints: the weather (wants the secret key) and the
// restaurant (books a table).
const toolCalls = [];
const tools = http.createServer(async (req, res) => {
  const body = JSON.parse(await readBody(req) || '{}');
  toolCalls.push({ path: req.url, body, authorization: req.headers.authorization, key: req.headers['idempotency-key'] });
  if (req.url === '/weather') {
    if (req.headers.authorization !== 'Bearer w-123') return res.writeHead(401).end('bad key');
    return res.writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ city: body.city, forecast: 'sunny', high: 21 }));
  }
  res.writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ booked: true, table: 7, time: body.time }));
});
const toolsPort = await listen(tools);

// The stand-in model. Which tool the user's last message names is called
// once; with its result in the conversation, the model answers.
const script = [
  { word: 'weather', tool: 'get_weather', args: { city: 'Oslo' } },
  { word: 'book', tool: 'book_table', args: { time: '19:30' } },
  { word: 'threads', tool: 'self__list_threads', args: {} },
  { word: 'recap', tool: 'orbit_read_thread', args: { last: 3 } },
];
const sse = (res, data) => res.write(`data: ${JSON.stringify(data)}\n\n`);
const chunk = (delta, finish = null) => ({ id: 'chatcmpl-demo', object: 'chat.completion.chunk', model: 'demo',
  choices: [{ index: 0, delta, finish_reason: finish }] });
const model = http.createServer(async (req, res) => {
  const request = JSON.parse(await readBody(req));
  const lastUser = [...request.messages].reverse().find((m) => m.role === 'user');
  const sinceUser = request.messages.slice(request.messages.lastIndexOf(lastUser) + 1);
  const result = sinceUser.find((m) => m.role === 'tool');
  const step = script.find((s) => lastUser.content.includes(s.word));
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  if (step && !result && request.tools?.some((t) => t.function.name === step.tool)) {
    sse(res, chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: `call_${step.word}`, type: 'function',
      function: { name: step.tool, arguments: JSON.stringify(step.args) } }] }));
    sse(res, chunk({}, 'tool_calls'));
  } else {
    const text = result ? `Done: ${result.content}` : 'I have no tool for that.';
    sse(res, chunk({ role: 'assistant', content: text }));
    sse(res, chunk({}, 'stop'));
  }
  sse(res, { id: 'chatcmpl-demo', object: 'chat.completion.chunk', model: 'demo', choices: [],
    usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } });
  res.end('data: [DONE]\n\n');
});
const modelPort = await listen(model);

// 1. A secret app variable, and an HTTP tool whose header uses it.
await gql(SK, `mutation { setAppVar(input: {name: "WEATHER_KEY", value: "w-123", secret: true}) { appVar { name secret } } }`);
const weather = (await gql(SK, `mutation($i: CreateToolInput!) { createTool(input: $i) { tool { id } } }`, { i: {
  name: 'get_weather', description: "Today's weather in a city.",
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  http: { url: `http://127.0.0.1:${toolsPort}/weather`,
          headers: [{ name: 'Authorization', value: 'Bearer {{vars.WEATHER_KEY}}', secret: true }] },
} })).createTool.tool.id;
// 2. A tool that waits for a person's approval.
const booking = (await gql(SK, `mutation($i: CreateToolInput!) { createTool(input: $i) { tool { id } } }`, { i: {
  name: 'book_table', description: 'Books a table at the restaurant.', requiresApproval: true,
  inputSchema: { type: 'object', properties: { time: { type: 'string' } }, required: ['time'] },
  http: { url: `http://127.0.0.1:${toolsPort}/book` },
} })).createTool.tool.id;
// 3. Orbit's own /mcp as an MCP server of the app: its tools become the app's.
const mcp = (await gql(SK, `mutation($i: CreateMcpServerInput!) { createMcpServer(input: $i) {
  mcpServer { status lastError tools { id name } } } }`, { i: {
  name: 'self', url: `${base}/mcp`, headers: [{ name: 'Authorization', value: `Bearer ${SK}`, secret: true }],
} })).createMcpServer.mcpServer;
if (mcp.status !== 'READY') throw new Error(`the MCP server: ${JSON.stringify(mcp)}`);
const listThreads = mcp.tools.find((t) => t.name === 'self__list_threads');
console.log(`MCP server "self" lists ${mcp.tools.length} tools: ${mcp.tools.map((t) => t.name).join(', ')}`);

// 4. A provider at the stand-in model, an agent with the tools and the
// built-in ones, a user and a thread with the agent in it.
const provider = (await gql(SK, `mutation($i: CreateModelProviderInput!) { createModelProvider(input: $i) { modelProvider { id } } }`,
  { i: { name: 'Stand-in', kind: 'OPENAI_COMPATIBLE', baseUrl: `http://127.0.0.1:${modelPort}/v1` } })).createModelProvider.modelProvider.id;
const agent = (await gql(SK, `mutation($i: CreateAgentInput!) { createAgent(input: $i) { agent { id } } }`, { i: {
  name: 'Concierge', handle: 'concierge', instructions: 'Use your tools.', model: { provider, model: 'demo' }, replyMode: 'ALWAYS',
} })).createAgent.agent.id;
const given = await gql(SK, `mutation($i: SetAgentToolsInput!) { setAgentTools(input: $i) { agent { builtinTools tools { name } } } }`,
  { i: { agentId: agent, toolIds: [weather, booking, listThreads.id], builtinTools: ['READ_THREAD'] } });
console.log(`the agent has ${given.setAgentTools.agent.tools.map((t) => t.name).join(', ')} and ${given.setAgentTools.agent.builtinTools}`);
const token = (await gql(PK, `mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }`,
  { i: { email: 'grace@example.com', password: 'correct horse', displayName: 'Grace' } })).signUp.accessToken;
const thread = (await gql(token, `mutation { createThread(input: {title: "Concierge"}) { thread { id } } }`)).createThread.thread.id;
await gql(token, `mutation($i: AddThreadParticipantInput!) { addThreadParticipant(input: $i) { thread { id } } }`,
  { i: { threadId: thread, agentId: agent } });

// 5. Watch the thread: every step is an event, stored with a cursor.
const client = createClient({ url: `${base.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` } });
const seen = [];
let onEvent = () => {};
client.subscribe({ query: `subscription($id: ID!) { threadEvents(threadId: $id) {
    ... on Event { type cursor }
    ... on AgentToolCallStartedEvent { replyId callId toolName arguments }
    ... on AgentToolCallCompletedEvent { replyId callId toolName result }
    ... on AgentToolCallFailedEvent { replyId callId toolName error }
    ... on AgentApprovalRequestedEvent { replyId callId toolName approvalExpiresAt }
    ... on AgentReplyCompletedEvent { replyId message { content } }
  } }`, variables: { id: thread } },
{ next: ({ data }) => { seen.push(data.threadEvents); onEvent(); },
  error: (e) => { console.error('subscription error', e); process.exit(1); }, complete: () => {} });
const waitFor = (what, holds, ms = 30_000) => Promise.race([
  new Promise((resolve) => { const look = () => { const found = holds(); if (found) resolve(found); }; onEvent = look; look(); }),
  deadline(ms, what),
]);
for (;;) { // live once typing (never stored) comes back
  await gql(token, `mutation { setTyping(input: {threadId: "${thread}", typing: true}) { typing } }`);
  if (seen.some((e) => e.type === 'typing.started')) break;
  await new Promise((r) => setTimeout(r, 200));
}

async function ask(content) {
  const sent = await gql(token, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { message { agentReplies { id } } } }`,
    { i: { threadId: thread, content } });
  return sent.sendMessage.message.agentReplies[0].id;
}
const completedFor = (reply) => waitFor(`reply ${reply} completes`,
  () => seen.find((e) => e.type === 'agent_reply.completed' && e.replyId === reply));

// 6. The weather: the tool gets the arguments, the secret opened from the variable.
let reply = await ask('What is the weather in Oslo?');
let done = await completedFor(reply);
const weatherCall = toolCalls.find((c) => c.path === '/weather');
if (!weatherCall || weatherCall.body.city !== 'Oslo' || !weatherCall.key) throw new Error(`weather call: ${JSON.stringify(toolCalls)}`);
if (!done.message.content.includes('sunny')) throw new Error(`answer: ${done.message.content}`);
const started = seen.find((e) => e.type === 'agent_reply.tool_call.started' && e.replyId === reply);
const completed = seen.find((e) => e.type === 'agent_reply.tool_call.completed' && e.replyId === reply);
if (started?.toolName !== 'get_weather' || completed?.result?.forecast !== 'sunny') throw new Error('the steps did not stream');
console.log(`weather: "${done.message.content}" (steps streamed with cursors ${started.cursor}, ${completed.cursor})`);

// 7. A booking waits for approval; the user who asked approves it.
reply = await ask('Please book a table for tonight');
const asked = await waitFor('the approval request', () => seen.find((e) => e.type === 'agent_reply.approval_requested' && e.replyId === reply));
if (toolCalls.some((c) => c.path === '/book')) throw new Error('booked before approval');
await gql(token, `mutation($i: DecideToolCallInput!) { decideToolCall(input: $i) { call { status } } }`,
  { i: { replyId: reply, callId: asked.callId, approve: true } });
done = await completedFor(reply);
if (!toolCalls.some((c) => c.path === '/book') || !done.message.content.includes('"booked":true')) {
  throw new Error(`booking: ${done.message.content}`);
}
console.log(`booking approved, then made: "${done.message.content}"`);

// 8. A tool of the MCP server (Orbit's own /mcp, as the app's secret key).
reply = await ask('How many threads are there?');
done = await completedFor(reply);
const mcpStep = seen.find((e) => e.type === 'agent_reply.tool_call.completed' && e.replyId === reply);
if (mcpStep?.toolName !== 'self__list_threads' || !mcpStep.result.threads.some((t) => t.id === thread)) {
  throw new Error(`MCP step: ${JSON.stringify(mcpStep)}`);
}
console.log(`MCP tool self__list_threads listed ${mcpStep.result.threads.length} thread(s)`);

// 9. A built-in tool: the agent reads its own thread.
reply = await ask('Give me a recap');
done = await completedFor(reply);
const recap = seen.find((e) => e.type === 'agent_reply.tool_call.completed' && e.replyId === reply);
if (recap?.toolName !== 'orbit_read_thread' || recap.result.messages.at(-1).content !== 'Give me a recap') {
  throw new Error(`built-in step: ${JSON.stringify(recap)}`);
}
console.log(`built-in orbit_read_thread read ${recap.result.messages.length} messages`);

await client.dispose();
tools.close();
model.close();
console.log('ok');
