import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
export type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
export type MakeOptional<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]?: Maybe<T[SubKey]> };
export type MakeMaybe<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]: Maybe<T[SubKey]> };
export type MakeEmpty<T extends { [key: string]: unknown }, K extends keyof T> = { [_ in K]?: never };
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** An instant in time: an RFC 3339 date and time with its offset, such as `2026-12-04T13:12:09.123456+00:00`. Output is in UTC (`+00:00`, with as many fractional digits as needed); input may carry any offset, or `Z`, and is read as that instant. */
  DateTime: { input: string; output: string; }
  /** Any JSON value (an object, an array, a string, a number, a boolean or null), as RFC 8259 defines it, written inline as itself, not as a string holding JSON. */
  JSON: { input: unknown; output: unknown; }
};

export type ActivateRoutinePayload = {
  __typename?: 'ActivateRoutinePayload';
  routine: Routine;
};

export type AddAppMemberInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  /** The email of an existing developer (console user). */
  email: Scalars['String']['input'];
  role: AppRole;
};

export type AddAppMemberPayload = {
  __typename?: 'AddAppMemberPayload';
  member: AppMember;
};

/** Names a user or an agent, not both. */
export type AddThreadParticipantInput = {
  /**
   * An agent of the app: it then answers the thread's messages (as its
   * reply mode says).
   */
  agentId?: InputMaybe<Scalars['ID']['input']>;
  threadId: Scalars['ID']['input'];
  userId?: InputMaybe<Scalars['ID']['input']>;
};

export type AddThreadParticipantPayload = {
  __typename?: 'AddThreadParticipantPayload';
  thread: Thread;
};

export type Agent = {
  __typename?: 'Agent';
  /** Orbit's own tools it may call (null for users of the app). */
  builtinTools?: Maybe<Array<BuiltinTool>>;
  createdAt: Scalars['DateTime']['output'];
  /** `@handle` mentions the agent in a message. */
  handle: Scalars['String']['output'];
  id: Scalars['ID']['output'];
  /** The system prompt. For the app's secret key and developers; null for users. */
  instructions?: Maybe<Scalars['String']['output']>;
  /**
   * The most model turns one reply may take (each may call tools): for
   * the app's secret key and developers; null for users.
   */
  maxSteps?: Maybe<Scalars['Int']['output']>;
  /** For the app's secret key and developers; null for users. */
  model?: Maybe<AgentModel>;
  name: Scalars['String']['output'];
  /**
   * The agent's replies, newest first, with their errors: for the app's
   * secret key and developers; null for users.
   */
  replies?: Maybe<AgentReplyConnection>;
  replyMode: AgentReplyMode;
  status: AgentStatus;
  /**
   * The tools the agent may call, by name: for the app's secret key and
   * developers; null for users.
   */
  tools?: Maybe<Array<Tool>>;
  updatedAt: Scalars['DateTime']['output'];
};


export type AgentRepliesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};

export type AgentApprovalRequestedEvent = Event & {
  __typename?: 'AgentApprovalRequestedEvent';
  agent?: Maybe<Agent>;
  agentId?: Maybe<Scalars['ID']['output']>;
  /**
   * For a call that waits for approval: when it counts as
   * refused if no one decided (`decideToolCall`).
   */
  approvalExpiresAt?: Maybe<Scalars['DateTime']['output']>;
  /** As the model sent them (a string when they were not JSON). */
  arguments: Scalars['JSON']['output'];
  attempt: Scalars['Int']['output'];
  /** The model's id for the call: `AgentReply.steps` has it too. */
  callId: Scalars['String']['output'];
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  /** Why it failed: set on `agent_reply.tool_call.failed`. */
  error?: Maybe<Scalars['String']['output']>;
  occurredAt: Scalars['DateTime']['output'];
  /** The reply making the call; null once it is gone (its agent deleted). */
  reply?: Maybe<AgentReply>;
  replyId: Scalars['ID']['output'];
  /** What the tool answered: set on `agent_reply.tool_call.completed`. */
  result?: Maybe<Scalars['JSON']['output']>;
  /** The model turn that asked for it, from 0. */
  step: Scalars['Int']['output'];
  threadId?: Maybe<Scalars['ID']['output']>;
  toolId?: Maybe<Scalars['ID']['output']>;
  toolName: Scalars['String']['output'];
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

export type AgentConnection = {
  __typename?: 'AgentConnection';
  /** A list of edges. */
  edges: Array<AgentEdge>;
  /** A list of nodes. */
  nodes: Array<Agent>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

/** An edge in a connection. */
export type AgentEdge = {
  __typename?: 'AgentEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: Agent;
};

export type AgentModel = {
  __typename?: 'AgentModel';
  maxTokens?: Maybe<Scalars['Int']['output']>;
  /** The provider's model name (`gpt-4o-mini`, `llama3.2`). */
  model: Scalars['String']['output'];
  provider: ModelProvider;
  temperature?: Maybe<Scalars['Float']['output']>;
};

export type AgentModelInput = {
  /** 1 to 32768; the provider's default when omitted. */
  maxTokens?: InputMaybe<Scalars['Int']['input']>;
  /** The provider's model name (`gpt-4o-mini`, `llama3.2`). */
  model: Scalars['String']['input'];
  /** A model provider of the app. */
  provider: Scalars['ID']['input'];
  /** 0 to 2; the provider's default when omitted. */
  temperature?: InputMaybe<Scalars['Float']['input']>;
};

export type AgentReply = {
  __typename?: 'AgentReply';
  /** Null if the agent was deleted. */
  agent?: Maybe<Agent>;
  /**
   * Claims so far: a retry after a provider error, a takeover after the
   * process streaming it stopped, and going on after a pause for a tool
   * call's approval each count one (deltas start afresh with each).
   */
  attempts: Scalars['Int']['output'];
  createdAt: Scalars['DateTime']['output'];
  /** Why it failed, or why the last attempt did while it waits to retry. */
  error?: Maybe<Scalars['String']['output']>;
  finishedAt?: Maybe<Scalars['DateTime']['output']>;
  id: Scalars['ID']['output'];
  /** The agent's message, once the reply ended with one. */
  message?: Maybe<Message>;
  /** The model that answered, as the provider named it. */
  model?: Maybe<Scalars['String']['output']>;
  /** What was asked, when no message asked (a routine's prompt). */
  prompt?: Maybe<Scalars['String']['output']>;
  status: AgentReplyStatus;
  /**
   * The tools the reply called, in the order the model asked: each call
   * with its arguments, its result or error, and its timing.
   */
  steps: Array<AgentToolCall>;
  thread?: Maybe<Thread>;
  /** The message that asked for the reply (null for a routine's prompt). */
  triggerMessage?: Maybe<Message>;
  usage?: Maybe<TokenUsage>;
};

export type AgentReplyCompletedEvent = Event & {
  __typename?: 'AgentReplyCompletedEvent';
  agent?: Maybe<Agent>;
  agentId?: Maybe<Scalars['ID']['output']>;
  attempt: Scalars['Int']['output'];
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  message?: Maybe<Message>;
  occurredAt: Scalars['DateTime']['output'];
  replyId: Scalars['ID']['output'];
  threadId?: Maybe<Scalars['ID']['output']>;
  triggerMessageId?: Maybe<Scalars['ID']['output']>;
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
  usage?: Maybe<TokenUsage>;
};

export type AgentReplyConnection = {
  __typename?: 'AgentReplyConnection';
  /** A list of edges. */
  edges: Array<AgentReplyEdge>;
  /** A list of nodes. */
  nodes: Array<AgentReply>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

export type AgentReplyDeltaEvent = Event & {
  __typename?: 'AgentReplyDeltaEvent';
  agent?: Maybe<Agent>;
  agentId?: Maybe<Scalars['ID']['output']>;
  attempt: Scalars['Int']['output'];
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  /** The text to append. */
  delta: Scalars['String']['output'];
  occurredAt: Scalars['DateTime']['output'];
  replyId: Scalars['ID']['output'];
  sequence: Scalars['Int']['output'];
  threadId?: Maybe<Scalars['ID']['output']>;
  triggerMessageId?: Maybe<Scalars['ID']['output']>;
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

/** An edge in a connection. */
export type AgentReplyEdge = {
  __typename?: 'AgentReplyEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: AgentReply;
};

export type AgentReplyFailedEvent = Event & {
  __typename?: 'AgentReplyFailedEvent';
  agent?: Maybe<Agent>;
  agentId?: Maybe<Scalars['ID']['output']>;
  attempt: Scalars['Int']['output'];
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  error?: Maybe<Scalars['String']['output']>;
  message?: Maybe<Message>;
  occurredAt: Scalars['DateTime']['output'];
  replyId: Scalars['ID']['output'];
  /** FAILED or CANCELLED. */
  replyStatus: AgentReplyStatus;
  /** @deprecated use replyStatus: a selection of the ThreadEvent union cannot take `status` from this event and a routine run's (two types) */
  status: AgentReplyStatus;
  threadId?: Maybe<Scalars['ID']['output']>;
  triggerMessageId?: Maybe<Scalars['ID']['output']>;
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

export type AgentReplyMode =
  /** Every message a person writes in the thread. */
  | 'ALWAYS'
  /** Messages that mention the agent's `@handle`. */
  | 'MENTION';

export type AgentReplyStatus =
  /**
   * Paused: a tool call waits for `decideToolCall` (see the reply's
   * `steps`).
   */
  | 'AWAITING_APPROVAL'
  | 'CANCELLED'
  | 'COMPLETED'
  | 'FAILED'
  | 'QUEUED'
  | 'RUNNING';

export type AgentStatus =
  | 'ACTIVE'
  /** Stays in its threads, answers nothing new. */
  | 'PAUSED';

export type AgentToolCall = {
  __typename?: 'AgentToolCall';
  /**
   * For a tool that requires approval: when an undecided call counts as
   * refused.
   */
  approvalExpiresAt?: Maybe<Scalars['DateTime']['output']>;
  /** As the model sent them (a string when they were not JSON). */
  arguments: Scalars['JSON']['output'];
  /** The model's id for the call. */
  callId: Scalars['String']['output'];
  /** When someone approved or refused it. */
  decidedAt?: Maybe<Scalars['DateTime']['output']>;
  /** The user who decided; null when the app's secret key did, or no one. */
  decidedByUserId?: Maybe<Scalars['ID']['output']>;
  /** From start to end, in milliseconds, once it ended. */
  durationMs?: Maybe<Scalars['Int']['output']>;
  /** Why it failed, as the model was told. */
  error?: Maybe<Scalars['String']['output']>;
  finishedAt?: Maybe<Scalars['DateTime']['output']>;
  /** What the tool answered (JSON, or a string when it was not JSON). */
  result?: Maybe<Scalars['JSON']['output']>;
  /** When it was made (for an approved call, when it was approved). */
  startedAt: Scalars['DateTime']['output'];
  status: AgentToolCallStatus;
  /** The model turn that asked for it, from 0. */
  step: Scalars['Int']['output'];
  toolId?: Maybe<Scalars['ID']['output']>;
  /**
   * The name the model called; the tool may have been deleted since, or
   * never have been the agent's.
   */
  toolName: Scalars['String']['output'];
};

export type AgentToolCallCompletedEvent = Event & {
  __typename?: 'AgentToolCallCompletedEvent';
  agent?: Maybe<Agent>;
  agentId?: Maybe<Scalars['ID']['output']>;
  /**
   * For a call that waits for approval: when it counts as
   * refused if no one decided (`decideToolCall`).
   */
  approvalExpiresAt?: Maybe<Scalars['DateTime']['output']>;
  /** As the model sent them (a string when they were not JSON). */
  arguments: Scalars['JSON']['output'];
  attempt: Scalars['Int']['output'];
  /** The model's id for the call: `AgentReply.steps` has it too. */
  callId: Scalars['String']['output'];
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  /** Why it failed: set on `agent_reply.tool_call.failed`. */
  error?: Maybe<Scalars['String']['output']>;
  occurredAt: Scalars['DateTime']['output'];
  /** The reply making the call; null once it is gone (its agent deleted). */
  reply?: Maybe<AgentReply>;
  replyId: Scalars['ID']['output'];
  /** What the tool answered: set on `agent_reply.tool_call.completed`. */
  result?: Maybe<Scalars['JSON']['output']>;
  /** The model turn that asked for it, from 0. */
  step: Scalars['Int']['output'];
  threadId?: Maybe<Scalars['ID']['output']>;
  toolId?: Maybe<Scalars['ID']['output']>;
  toolName: Scalars['String']['output'];
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

export type AgentToolCallFailedEvent = Event & {
  __typename?: 'AgentToolCallFailedEvent';
  agent?: Maybe<Agent>;
  agentId?: Maybe<Scalars['ID']['output']>;
  /**
   * For a call that waits for approval: when it counts as
   * refused if no one decided (`decideToolCall`).
   */
  approvalExpiresAt?: Maybe<Scalars['DateTime']['output']>;
  /** As the model sent them (a string when they were not JSON). */
  arguments: Scalars['JSON']['output'];
  attempt: Scalars['Int']['output'];
  /** The model's id for the call: `AgentReply.steps` has it too. */
  callId: Scalars['String']['output'];
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  /** Why it failed: set on `agent_reply.tool_call.failed`. */
  error?: Maybe<Scalars['String']['output']>;
  occurredAt: Scalars['DateTime']['output'];
  /** The reply making the call; null once it is gone (its agent deleted). */
  reply?: Maybe<AgentReply>;
  replyId: Scalars['ID']['output'];
  /** What the tool answered: set on `agent_reply.tool_call.completed`. */
  result?: Maybe<Scalars['JSON']['output']>;
  /** The model turn that asked for it, from 0. */
  step: Scalars['Int']['output'];
  threadId?: Maybe<Scalars['ID']['output']>;
  toolId?: Maybe<Scalars['ID']['output']>;
  toolName: Scalars['String']['output'];
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

export type AgentToolCallStartedEvent = Event & {
  __typename?: 'AgentToolCallStartedEvent';
  agent?: Maybe<Agent>;
  agentId?: Maybe<Scalars['ID']['output']>;
  /**
   * For a call that waits for approval: when it counts as
   * refused if no one decided (`decideToolCall`).
   */
  approvalExpiresAt?: Maybe<Scalars['DateTime']['output']>;
  /** As the model sent them (a string when they were not JSON). */
  arguments: Scalars['JSON']['output'];
  attempt: Scalars['Int']['output'];
  /** The model's id for the call: `AgentReply.steps` has it too. */
  callId: Scalars['String']['output'];
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  /** Why it failed: set on `agent_reply.tool_call.failed`. */
  error?: Maybe<Scalars['String']['output']>;
  occurredAt: Scalars['DateTime']['output'];
  /** The reply making the call; null once it is gone (its agent deleted). */
  reply?: Maybe<AgentReply>;
  replyId: Scalars['ID']['output'];
  /** What the tool answered: set on `agent_reply.tool_call.completed`. */
  result?: Maybe<Scalars['JSON']['output']>;
  /** The model turn that asked for it, from 0. */
  step: Scalars['Int']['output'];
  threadId?: Maybe<Scalars['ID']['output']>;
  toolId?: Maybe<Scalars['ID']['output']>;
  toolName: Scalars['String']['output'];
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

export type AgentToolCallStatus =
  /**
   * Its tool requires approval: it waits for `decideToolCall` until
   * `approvalExpiresAt`, and is not made until approved.
   */
  | 'AWAITING_APPROVAL'
  | 'COMPLETED'
  /**
   * The tool failed, timed out, answered too much, or the model named a
   * tool the agent does not have or sent arguments that do not fit.
   */
  | 'FAILED'
  /** Called, not yet answered. */
  | 'RUNNING';

export type ApiKey = {
  __typename?: 'ApiKey';
  createdAt: Scalars['DateTime']['output'];
  environment: ApiKeyEnvironment;
  /**
   * The key's first characters (`sk_live_AbC1`), to recognise it: the
   * key itself is shown once, when it is made.
   */
  hint: Scalars['String']['output'];
  id: Scalars['ID']['output'];
  kind: ApiKeyKind;
  /** When a request last used it, to the hour. */
  lastUsedAt?: Maybe<Scalars['DateTime']['output']>;
  name: Scalars['String']['output'];
  /** Set once revoked: no request is let in with it from then on. */
  revokedAt?: Maybe<Scalars['DateTime']['output']>;
};

export type ApiKeyConnection = {
  __typename?: 'ApiKeyConnection';
  /** A list of edges. */
  edges: Array<ApiKeyEdge>;
  /** A list of nodes. */
  nodes: Array<ApiKey>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

/** An edge in a connection. */
export type ApiKeyEdge = {
  __typename?: 'ApiKeyEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: ApiKey;
};

export type ApiKeyEnvironment =
  | 'LIVE'
  | 'TEST';

export type ApiKeyKind =
  /** `pk_…`: safe in clients; signs users up and in. */
  | 'PUBLISHABLE'
  /** `sk_…`: server side only; acts for the whole app. */
  | 'SECRET';

export type App = Node & {
  __typename?: 'App';
  /**
   * The app's API keys, revoked ones too, oldest first; never their
   * secret (its secret key and developers; FORBIDDEN for others).
   */
  apiKeys?: Maybe<ApiKeyConnection>;
  createdAt: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  /**
   * The outside OAuth providers users log in with, as configured (never
   * the client secret): for the app's secret key and its developers.
   */
  identityProviders: Array<IdentityProvider>;
  /**
   * The providers a front end may offer (`startOAuthLogin`): for anyone
   * who can see the app, its publishable key included.
   */
  loginProviders: Array<LoginProvider>;
  /**
   * The app's developers, by user id (its secret key and developers;
   * FORBIDDEN for others).
   */
  members?: Maybe<AppMemberConnection>;
  name: Scalars['String']['output'];
  /**
   * The app's login settings: for its secret key and its developers
   * (FORBIDDEN for others).
   */
  settings?: Maybe<AppSettings>;
  /**
   * The versions of the app's access-token signing key, newest first
   * (its secret key and developers; FORBIDDEN for others).
   */
  signingKeys?: Maybe<SigningKeyConnection>;
  /** The calling developer's role on the app; null for keys and users. */
  viewerRole?: Maybe<AppRole>;
};


export type AppApiKeysArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


export type AppMembersArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


export type AppSigningKeysArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};

export type AppConnection = {
  __typename?: 'AppConnection';
  /** A list of edges. */
  edges: Array<AppEdge>;
  /** A list of nodes. */
  nodes: Array<App>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

/** An edge in a connection. */
export type AppEdge = {
  __typename?: 'AppEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: App;
};

/** What the app's builders follow: its routines' runs. */
export type AppEvent = RoutineRunFailedEvent | RoutineRunStartedEvent | RoutineRunSucceededEvent;

export type AppMember = {
  __typename?: 'AppMember';
  /**
   * The developer's email: fellow members see it, as they add and
   * remove each other by it.
   */
  email: Scalars['String']['output'];
  joinedAt: Scalars['DateTime']['output'];
  role: AppRole;
  user: User;
};

export type AppMemberConnection = {
  __typename?: 'AppMemberConnection';
  /** A list of edges. */
  edges: Array<AppMemberEdge>;
  /** A list of nodes. */
  nodes: Array<AppMember>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

/** An edge in a connection. */
export type AppMemberEdge = {
  __typename?: 'AppMemberEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: AppMember;
};

/** A developer's role on an app. */
export type AppRole =
  /** Keys, settings and members below owner, besides what developers do. */
  | 'ADMIN'
  /** Builds: agents, model providers, routines, webhooks. */
  | 'DEVELOPER'
  /** Everything, deleting the app included. */
  | 'OWNER'
  /** Reads the app's configuration. */
  | 'VIEWER';

export type AppSettings = {
  __typename?: 'AppSettings';
  /**
   * Origins (`https://example.com`, `http://localhost:3000`) a magic
   * link's `redirectUrl` may be on; scheme, host and port must match exactly.
   */
  allowedRedirectOrigins: Array<Scalars['String']['output']>;
  /** Whether `requestLoginCode` / `verifyLoginCode` work. On by default. */
  emailCodeLogin: Scalars['Boolean']['output'];
  /** Whether `requestMagicLink` / `verifyMagicLink` work. On by default. */
  magicLinkLogin: Scalars['Boolean']['output'];
  /**
   * Whether users may sign in with the app's outside OAuth providers.
   * On by default.
   */
  oauthLogin: Scalars['Boolean']['output'];
  /** Whether `logIn` (and `signUp`) with a password work. On by default. */
  passwordLogin: Scalars['Boolean']['output'];
  /** Whether `signUp` (with a password) creates accounts. On by default. */
  passwordSignUp: Scalars['Boolean']['output'];
  /**
   * Whether a verified code or link for an email without an account
   * creates the account.
   */
  passwordlessSignUp: Scalars['Boolean']['output'];
};

export type AppVar = {
  __typename?: 'AppVar';
  createdAt: Scalars['DateTime']['output'];
  name: Scalars['String']['output'];
  secret: Scalars['Boolean']['output'];
  updatedAt: Scalars['DateTime']['output'];
  /** Null when secret: it is stored encrypted and never returned. */
  value?: Maybe<Scalars['String']['output']>;
};

export type ApproveDeviceInput = {
  /** True signs the device in as the caller; false refuses it. */
  approve: Scalars['Boolean']['input'];
  /** The code the device shows (`BCDF-GHJK`): any case, dash optional. */
  userCode: Scalars['String']['input'];
};

export type ApproveDevicePayload = {
  __typename?: 'ApproveDevicePayload';
  /** True when the device was approved, false when it was denied. */
  approved: Scalars['Boolean']['output'];
};

export type AuthPayload = {
  __typename?: 'AuthPayload';
  accessToken: Scalars['String']['output'];
  /** Seconds until the access token expires. */
  expiresIn: Scalars['Int']['output'];
  /** Opaque; exchange it with `refreshSession`. Each one works once. */
  refreshToken: Scalars['String']['output'];
  user: User;
};

/** A tool Orbit itself offers agents, called as `orbit_<name>`. */
export type BuiltinTool =
  /** `orbit_post_message`: a message as the agent in a thread it takes part in. */
  | 'POST_MESSAGE'
  /** `orbit_read_thread`: the latest messages of a thread the agent takes part in. */
  | 'READ_THREAD'
  /** `orbit_run_routine`: runs one of the agent's routines now. */
  | 'RUN_ROUTINE';

/**
 * An HTTP request to `url`; with no `body`, a JSON description of the run
 * is sent (GET sends none).
 */
export type CallUrlAction = {
  __typename?: 'CallUrlAction';
  body?: Maybe<Scalars['String']['output']>;
  method: HttpMethod;
  url: Scalars['String']['output'];
};

export type CallUrlInput = {
  /**
   * Sent as given (JSON as `application/json`, else text). Without it, a
   * JSON description of the run; GET sends no body.
   */
  body?: InputMaybe<Scalars['String']['input']>;
  /** Default POST. */
  method?: InputMaybe<HttpMethod>;
  /** Public addresses only, unless the server sets ORBIT_WEBHOOK_ALLOW_PRIVATE. */
  url: Scalars['String']['input'];
};

export type CancelAgentReplyInput = {
  /** For developers: the app of the reply. */
  appId?: InputMaybe<Scalars['ID']['input']>;
  replyId: Scalars['ID']['input'];
};

export type CancelAgentReplyPayload = {
  __typename?: 'CancelAgentReplyPayload';
  reply: AgentReply;
};

export type ChangePasswordInput = {
  currentPassword: Scalars['String']['input'];
  newPassword: Scalars['String']['input'];
};

/** How Orbit authenticates at the provider's token endpoint. */
export type ClientAuthMethod =
  /** HTTP Basic with the client id and secret (`client_secret_basic`). */
  | 'BASIC'
  /** In the form body (`client_secret_post`). */
  | 'POST';

export type CompleteOAuthLoginInput = {
  /** The `code` the redirect added to the app's page. */
  code: Scalars['String']['input'];
};

export type CreateAgentInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  /** 2 to 32 of a-z, 0-9, `_`, `-`, starting with a letter; unique in the app. */
  handle: Scalars['String']['input'];
  /** The system prompt. Default empty. */
  instructions?: InputMaybe<Scalars['String']['input']>;
  /**
   * The most model turns one reply may take, each of which may call
   * tools: 1 to 32, default 8.
   */
  maxSteps?: InputMaybe<Scalars['Int']['input']>;
  model: AgentModelInput;
  name: Scalars['String']['input'];
  /** Default ALWAYS. */
  replyMode?: InputMaybe<AgentReplyMode>;
  /** Default ACTIVE. */
  status?: InputMaybe<AgentStatus>;
};

export type CreateAgentPayload = {
  __typename?: 'CreateAgentPayload';
  agent: Agent;
};

export type CreateApiKeyInput = {
  /** Required for developers. */
  appId?: InputMaybe<Scalars['ID']['input']>;
  environment?: ApiKeyEnvironment;
  kind: ApiKeyKind;
  name: Scalars['String']['input'];
};

export type CreateApiKeyPayload = {
  __typename?: 'CreateApiKeyPayload';
  apiKey: ApiKey;
  /**
   * The whole key (`pk_live_…`, `sk_test_…`): shown only here, stored
   * only as a hash.
   */
  key: Scalars['String']['output'];
};

export type CreateAppInput = {
  name: Scalars['String']['input'];
};

export type CreateAppPayload = {
  __typename?: 'CreateAppPayload';
  app: App;
  /** `pk_live_…`: shown only here. */
  publishableKey: Scalars['String']['output'];
  /** `sk_live_…`: shown only here; keep it on a server. */
  secretKey: Scalars['String']['output'];
};

export type CreateIdentityProviderInput = {
  /** Default true: a person without an account signs up on first login. */
  allowSignUp?: InputMaybe<Scalars['Boolean']['input']>;
  /**
   * The app to configure: required for developers (owners and admins),
   * may be omitted with the app's secret key.
   */
  appId?: InputMaybe<Scalars['ID']['input']>;
  /**
   * Required for CUSTOM; a preset's own when omitted (give them for
   * GitHub Enterprise, say).
   */
  authorizationUrl?: InputMaybe<Scalars['String']['input']>;
  /** The preset's when omitted; CUSTOM: BASIC. */
  clientAuth?: InputMaybe<ClientAuthMethod>;
  clientId: Scalars['String']['input'];
  /** Stored sealed; never returned. */
  clientSecret: Scalars['String']['input'];
  /** Shown on login buttons; the preset's name (or the slug) when omitted. */
  displayName?: InputMaybe<Scalars['String']['input']>;
  emailClaim?: InputMaybe<Scalars['String']['input']>;
  emailVerifiedClaim?: InputMaybe<Scalars['String']['input']>;
  emailsUrl?: InputMaybe<Scalars['String']['input']>;
  /**
   * CUSTOM: the authorization URL's origin when omitted. It cannot be
   * changed later: identities are linked by it.
   */
  issuer?: InputMaybe<Scalars['String']['input']>;
  nameClaim?: InputMaybe<Scalars['String']['input']>;
  preset: IdentityProviderPreset;
  /** The preset's when omitted; CUSTOM: `openid email profile`. */
  scopes?: InputMaybe<Array<Scalars['String']['input']>>;
  /** Lower-case letters, digits and dashes; unique in the app. */
  slug: Scalars['String']['input'];
  /** CUSTOM defaults: `sub`, `email`, `email_verified`, `name`. */
  subjectClaim?: InputMaybe<Scalars['String']['input']>;
  tokenUrl?: InputMaybe<Scalars['String']['input']>;
  userinfoUrl?: InputMaybe<Scalars['String']['input']>;
};

export type CreateMcpServerInput = {
  /** The app: required for developers, may be omitted with the secret key. */
  appId?: InputMaybe<Scalars['ID']['input']>;
  /** Sent with every request (an `Authorization` header, marked secret). */
  headers?: Array<ToolHeaderInput>;
  /**
   * 1 to 24 of `A-Z a-z 0-9 _ -`, without `__`: its tools are named
   * `<name>__<tool>`.
   */
  name: Scalars['String']['input'];
  /**
   * Its Streamable HTTP endpoint. Public addresses only, unless the
   * server sets ORBIT_WEBHOOK_ALLOW_PRIVATE; may name `{{vars.NAME}}`.
   */
  url: Scalars['String']['input'];
};

export type CreateMcpServerPayload = {
  __typename?: 'CreateMcpServerPayload';
  mcpServer: McpServer;
};

export type CreateModelProviderInput = {
  /** Sent as `Authorization: Bearer <apiKey>`. Stored encrypted; never returned. */
  apiKey?: InputMaybe<Scalars['String']['input']>;
  /** The app: required for developers, may be omitted with the secret key. */
  appId?: InputMaybe<Scalars['ID']['input']>;
  /**
   * OPENAI_COMPATIBLE: where `/chat/completions` is (`https://api.openai.com/v1`,
   * `http://localhost:11434/v1` for Ollama). Public addresses only,
   * unless the server sets ORBIT_WEBHOOK_ALLOW_PRIVATE.
   */
  baseUrl?: InputMaybe<Scalars['String']['input']>;
  /** Default 60. */
  idleTimeoutSeconds?: InputMaybe<Scalars['Int']['input']>;
  kind: ModelProviderKind;
  name: Scalars['String']['input'];
  /** Default 300. */
  requestTimeoutSeconds?: InputMaybe<Scalars['Int']['input']>;
  /** SCRIPTED: `{"rules": [{"when", "reply"}], "default", "chunkChars", "fail"}`. */
  script?: InputMaybe<Scalars['JSON']['input']>;
};

export type CreateModelProviderPayload = {
  __typename?: 'CreateModelProviderPayload';
  modelProvider: ModelProvider;
};

export type CreateRoutineInput = {
  action: RoutineActionInput;
  /** The agent the routine belongs to and acts as. */
  agentId: Scalars['ID']['input'];
  /** The app: required for developers, may be omitted with the secret key. */
  appId?: InputMaybe<Scalars['ID']['input']>;
  name: Scalars['String']['input'];
  /** The longest a run may take, 1 to 3,600. Default 300. */
  timeoutSeconds?: InputMaybe<Scalars['Int']['input']>;
  trigger: RoutineTriggerInput;
};

export type CreateRoutinePayload = {
  __typename?: 'CreateRoutinePayload';
  routine: Routine;
};

export type CreateTeamInput = {
  name: Scalars['String']['input'];
  /** With a secret key: the user who will own the team. Users own the teams they create. */
  ownerId?: InputMaybe<Scalars['ID']['input']>;
};

export type CreateTeamPayload = {
  __typename?: 'CreateTeamPayload';
  team: Team;
};

export type CreateThreadInput = {
  /** With a secret key and no team: the user who owns the thread. */
  ownerId?: InputMaybe<Scalars['ID']['input']>;
  participantIds?: InputMaybe<Array<Scalars['ID']['input']>>;
  /** Makes it the team's thread; otherwise it is the caller's own. */
  teamId?: InputMaybe<Scalars['ID']['input']>;
  title: Scalars['String']['input'];
};

export type CreateThreadPayload = {
  __typename?: 'CreateThreadPayload';
  thread: Thread;
};

export type CreateToolInput = {
  /** The app: required for developers, may be omitted with the secret key. */
  appId?: InputMaybe<Scalars['ID']['input']>;
  description: Scalars['String']['input'];
  http: ToolHttpInput;
  /** A JSON Schema of an object: the arguments. */
  inputSchema: Scalars['JSON']['input'];
  /** 1 to 64 of `A-Z a-z 0-9 _ -`: models call tools by name. */
  name: Scalars['String']['input'];
  /**
   * Each call waits for a person's approval (`decideToolCall`) before
   * it is made. Default false.
   */
  requiresApproval?: Scalars['Boolean']['input'];
};

export type CreateToolPayload = {
  __typename?: 'CreateToolPayload';
  tool: Tool;
};

export type CreateWebhookInput = {
  /** Required for developers; may be omitted with the app's secret key. */
  appId?: InputMaybe<Scalars['ID']['input']>;
  /** Event types to deliver (`message.created`, ...); at least one. */
  eventTypes: Array<Scalars['String']['input']>;
  /** An http(s) URL; a public address unless the server allows private ones. */
  url: Scalars['String']['input'];
};

export type CreateWebhookPayload = {
  __typename?: 'CreateWebhookPayload';
  /** `whsec_...`: the key of every delivery's signature. Shown only now. */
  signingSecret: Scalars['String']['output'];
  webhook: Webhook;
};

/**
 * Five-field cron (`*\/15 9-17 * * MON-FRI`, `@daily`) in an IANA time
 * zone, with Vixie cron's daylight-saving rules.
 */
export type CronTrigger = {
  __typename?: 'CronTrigger';
  expression: Scalars['String']['output'];
  timezone: Scalars['String']['output'];
};

export type CronTriggerInput = {
  /**
   * Five fields (minute hour day-of-month month day-of-week) or a
   * shorthand (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`).
   */
  expression: Scalars['String']['input'];
  /** An IANA zone (`Europe/Paris`). Default `UTC`. */
  timezone?: InputMaybe<Scalars['String']['input']>;
};

export type DecideToolCallInput = {
  /** For developers: the app of the reply. */
  appId?: InputMaybe<Scalars['ID']['input']>;
  /** true makes the call; false refuses it (the model is told). */
  approve: Scalars['Boolean']['input'];
  /** The model's id for the call (`AgentToolCall.callId`). */
  callId: Scalars['String']['input'];
  replyId: Scalars['ID']['input'];
};

export type DecideToolCallPayload = {
  __typename?: 'DecideToolCallPayload';
  /** The call as decided: RUNNING when approved, FAILED when refused. */
  call: AgentToolCall;
  reply: AgentReply;
};

export type DeleteAgentInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
};

export type DeleteAgentPayload = {
  __typename?: 'DeleteAgentPayload';
  deletedAgentId: Scalars['ID']['output'];
};

export type DeleteAppInput = {
  appId: Scalars['ID']['input'];
};

export type DeleteAppPayload = {
  __typename?: 'DeleteAppPayload';
  deletedAppId: Scalars['ID']['output'];
};

export type DeleteAppVarInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  name: Scalars['String']['input'];
};

export type DeleteAppVarPayload = {
  __typename?: 'DeleteAppVarPayload';
  deletedAppVarName: Scalars['String']['output'];
};

export type DeleteIdentityProviderInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
};

export type DeleteIdentityProviderPayload = {
  __typename?: 'DeleteIdentityProviderPayload';
  deletedIdentityProviderId: Scalars['ID']['output'];
};

export type DeleteMcpServerInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
};

export type DeleteMcpServerPayload = {
  __typename?: 'DeleteMcpServerPayload';
  deletedMcpServerId: Scalars['ID']['output'];
};

export type DeleteMessageInput = {
  id: Scalars['ID']['input'];
};

export type DeleteMessagePayload = {
  __typename?: 'DeleteMessagePayload';
  message: Message;
};

export type DeleteModelProviderInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
};

export type DeleteModelProviderPayload = {
  __typename?: 'DeleteModelProviderPayload';
  deletedModelProviderId: Scalars['ID']['output'];
};

export type DeleteRoutinePayload = {
  __typename?: 'DeleteRoutinePayload';
  deletedRoutineId: Scalars['ID']['output'];
};

export type DeleteTeamInput = {
  id: Scalars['ID']['input'];
};

export type DeleteTeamPayload = {
  __typename?: 'DeleteTeamPayload';
  deletedTeamId: Scalars['ID']['output'];
};

export type DeleteThreadInput = {
  id: Scalars['ID']['input'];
};

export type DeleteThreadPayload = {
  __typename?: 'DeleteThreadPayload';
  deletedThreadId: Scalars['ID']['output'];
};

export type DeleteToolInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
};

export type DeleteToolPayload = {
  __typename?: 'DeleteToolPayload';
  deletedToolId: Scalars['ID']['output'];
};

export type DeleteWebhookInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
};

export type DeleteWebhookPayload = {
  __typename?: 'DeleteWebhookPayload';
  deletedWebhookId: Scalars['ID']['output'];
};

export type EditMessageInput = {
  content: Scalars['String']['input'];
  id: Scalars['ID']['input'];
};

export type EditMessagePayload = {
  __typename?: 'EditMessagePayload';
  message: Message;
};

/**
 * Every event: `... on Event { cursor type occurredAt }` works on every topic.
 * Events reach clients through the topic unions; this enum only declares
 * the interface to the schema.
 */
export type Event = {
  cursor: Scalars['String']['output'];
  occurredAt: Scalars['DateTime']['output'];
  type: Scalars['String']['output'];
};

/** Each committed event of `type`, narrowed to a team or a thread when given. */
export type EventTrigger = {
  __typename?: 'EventTrigger';
  teamId?: Maybe<Scalars['ID']['output']>;
  threadId?: Maybe<Scalars['ID']['output']>;
  type: Scalars['String']['output'];
};

export type EventTriggerInput = {
  /** Only events of this team (a thread's events are its team's). */
  teamId?: InputMaybe<Scalars['ID']['input']>;
  /** Only events of this thread. */
  threadId?: InputMaybe<Scalars['ID']['input']>;
  /**
   * `message.created`, `message.edited`, `message.deleted`,
   * `thread.created`, `thread.updated`, `thread.deleted`,
   * `participant.added`, `participant.removed`, `member.joined`,
   * `member.left` or `member.role_changed`.
   */
  type: Scalars['String']['input'];
};

export type HttpMethod =
  | 'DELETE'
  | 'GET'
  | 'PATCH'
  | 'POST'
  | 'PUT';

export type IdentityProvider = {
  __typename?: 'IdentityProvider';
  /** Whether a person without an account gets one on first login. */
  allowSignUp: Scalars['Boolean']['output'];
  authorizationUrl: Scalars['String']['output'];
  /**
   * The redirect URI to register at the provider: Orbit's callback
   * (`ORBIT_PUBLIC_URL`, else the host this request came to).
   */
  callbackUrl?: Maybe<Scalars['String']['output']>;
  clientAuth: ClientAuthMethod;
  clientId: Scalars['String']['output'];
  createdAt: Scalars['DateTime']['output'];
  displayName: Scalars['String']['output'];
  emailClaim: Scalars['String']['output'];
  /**
   * A boolean claim saying the provider checked the email; null: its
   * emails count as checked (or come from `emailsUrl`).
   */
  emailVerifiedClaim?: Maybe<Scalars['String']['output']>;
  /**
   * A GitHub-style list of the person's emails (`[{email, primary,
   * verified}]`), read for the verified primary address.
   */
  emailsUrl?: Maybe<Scalars['String']['output']>;
  id: Scalars['ID']['output'];
  /** With the subject, what links an identity to a user. */
  issuer: Scalars['String']['output'];
  nameClaim?: Maybe<Scalars['String']['output']>;
  preset: IdentityProviderPreset;
  scopes: Array<Scalars['String']['output']>;
  /** What front ends name it in `startOAuthLogin` (`google`). */
  slug: Scalars['String']['output'];
  subjectClaim: Scalars['String']['output'];
  tokenUrl: Scalars['String']['output'];
  updatedAt: Scalars['DateTime']['output'];
  userinfoUrl: Scalars['String']['output'];
};

export type IdentityProviderPayload = {
  __typename?: 'IdentityProviderPayload';
  identityProvider: IdentityProvider;
};

export type IdentityProviderPreset =
  /** Any authorization-code provider: give its endpoints. */
  | 'CUSTOM'
  /**
   * GitHub: fills the endpoints, `read:user user:email`, issuer
   * `https://github.com`, subject `id`, the verified primary email from
   * `/user/emails`.
   */
  | 'GITHUB'
  /**
   * Google: fills the endpoints, `openid email profile`, issuer
   * `https://accounts.google.com`, subject `sub`, `email_verified`.
   */
  | 'GOOGLE';

/** Every `seconds`, counted from the routine's activation. */
export type IntervalTrigger = {
  __typename?: 'IntervalTrigger';
  seconds: Scalars['Int']['output'];
};

export type IntervalTriggerInput = {
  /** 60 (a minute) to 31,622,400 (a year and a day). */
  seconds: Scalars['Int']['input'];
};

export type InviteTeamMemberInput = {
  email: Scalars['String']['input'];
  role: TeamRole;
  teamId: Scalars['ID']['input'];
};

export type InviteTeamMemberPayload = {
  __typename?: 'InviteTeamMemberPayload';
  invitation: TeamInvitation;
};

export type JoinTeamInput = {
  code: Scalars['String']['input'];
};

export type JoinTeamPayload = {
  __typename?: 'JoinTeamPayload';
  member: TeamMember;
  team: Team;
};

export type LogInInput = {
  email: Scalars['String']['input'];
  password: Scalars['String']['input'];
};

export type LogOutInput = {
  /** End every session of the user, not only this one. */
  allSessions?: InputMaybe<Scalars['Boolean']['input']>;
};

export type LogOutPayload = {
  __typename?: 'LogOutPayload';
  revokedSessions: Scalars['Int']['output'];
};

/**
 * What a front end needs to offer a provider's button; anyone who can
 * see the app may read it (`App.loginProviders`).
 */
export type LoginProvider = {
  __typename?: 'LoginProvider';
  displayName: Scalars['String']['output'];
  preset: IdentityProviderPreset;
  slug: Scalars['String']['output'];
};

export type MarkThreadReadInput = {
  /** The newest message the user has seen. */
  messageId: Scalars['ID']['input'];
  threadId: Scalars['ID']['input'];
};

export type MarkThreadReadPayload = {
  __typename?: 'MarkThreadReadPayload';
  thread: Thread;
};

/** A tool a server listed that the app could not keep. */
export type McpLeftOutTool = {
  __typename?: 'McpLeftOutTool';
  /** The server's name for it. */
  name: Scalars['String']['output'];
  reason: Scalars['String']['output'];
};

export type McpServer = {
  __typename?: 'McpServer';
  createdAt: Scalars['DateTime']['output'];
  /** Sent with every request to it; secret values are never returned. */
  headers: Array<ToolHeader>;
  id: Scalars['ID']['output'];
  /** Why the last look failed. */
  lastError?: Maybe<Scalars['String']['output']>;
  /**
   * Tools it listed that the app could not keep (a name a model would
   * refuse, a schema that breaks the rules for tools, a name another tool
   * of the app has), from the last good look.
   */
  leftOutTools: Array<McpLeftOutTool>;
  /** Unique in the app; the first part of its tools' names. */
  name: Scalars['String']['output'];
  status: McpServerStatus;
  /** When its tools were last listed. */
  syncedAt?: Maybe<Scalars['DateTime']['output']>;
  /**
   * The tools kept from it, by name: give them to agents with
   * `setAgentTools` like any other tool.
   */
  tools: Array<Tool>;
  updatedAt: Scalars['DateTime']['output'];
  /** Its Streamable HTTP endpoint, as written (`{{vars.NAME}}` kept). */
  url: Scalars['String']['output'];
};

export type McpServerConnection = {
  __typename?: 'McpServerConnection';
  /** A list of edges. */
  edges: Array<McpServerEdge>;
  /** A list of nodes. */
  nodes: Array<McpServer>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

/** An edge in a connection. */
export type McpServerEdge = {
  __typename?: 'McpServerEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: McpServer;
};

export type McpServerStatus =
  /**
   * The last look failed (`lastError` says why); the tools of the last
   * good look stay, and calls of them fail while the server is down.
   */
  | 'FAILED'
  /** The last look listed its tools. */
  | 'READY';

export type MemberJoinedEvent = Event & {
  __typename?: 'MemberJoinedEvent';
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  occurredAt: Scalars['DateTime']['output'];
  role?: Maybe<TeamRole>;
  teamId: Scalars['ID']['output'];
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
  user?: Maybe<User>;
  userId?: Maybe<Scalars['ID']['output']>;
};

export type MemberLeftEvent = Event & {
  __typename?: 'MemberLeftEvent';
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  occurredAt: Scalars['DateTime']['output'];
  teamId: Scalars['ID']['output'];
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
  userId?: Maybe<Scalars['ID']['output']>;
};

export type MemberRoleChangedEvent = Event & {
  __typename?: 'MemberRoleChangedEvent';
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  occurredAt: Scalars['DateTime']['output'];
  role?: Maybe<TeamRole>;
  teamId: Scalars['ID']['output'];
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
  userId?: Maybe<Scalars['ID']['output']>;
};

export type Message = Node & {
  __typename?: 'Message';
  /** The replies this message asked agents for (one per agent it asked). */
  agentReplies: Array<AgentReply>;
  /** For an agent's message: the reply it ends (attempts, error). */
  agentReply?: Maybe<AgentReply>;
  /** A user, or an agent for its replies; null when the author was deleted. */
  author?: Maybe<MessageAuthor>;
  /** Null once the message is deleted. */
  content?: Maybe<Scalars['String']['output']>;
  createdAt: Scalars['DateTime']['output'];
  deletedAt?: Maybe<Scalars['DateTime']['output']>;
  editedAt?: Maybe<Scalars['DateTime']['output']>;
  id: Scalars['ID']['output'];
  metadata?: Maybe<Scalars['JSON']['output']>;
  /** The model an agent's reply came from; null for people's messages. */
  model?: Maybe<Scalars['String']['output']>;
  status: MessageStatus;
  thread: Thread;
  /** What an agent's reply cost in tokens; null for people's messages. */
  usage?: Maybe<TokenUsage>;
};

export type MessageAuthor = Agent | User;

export type MessageConnection = {
  __typename?: 'MessageConnection';
  /** A list of edges. */
  edges: Array<MessageEdge>;
  /** A list of nodes. */
  nodes: Array<Message>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

export type MessageCreatedEvent = Event & {
  __typename?: 'MessageCreatedEvent';
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  message?: Maybe<Message>;
  occurredAt: Scalars['DateTime']['output'];
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

export type MessageDeletedEvent = Event & {
  __typename?: 'MessageDeletedEvent';
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  message?: Maybe<Message>;
  occurredAt: Scalars['DateTime']['output'];
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

/** An edge in a connection. */
export type MessageEdge = {
  __typename?: 'MessageEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: Message;
};

export type MessageEditedEvent = Event & {
  __typename?: 'MessageEditedEvent';
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  message?: Maybe<Message>;
  occurredAt: Scalars['DateTime']['output'];
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

export type MessageStatus =
  /** An agent's reply stopped by `cancelAgentReply`: what it said before. */
  | 'CANCELLED'
  /** An agent's reply, whole. */
  | 'COMPLETE'
  /** An agent's reply that failed: what it said before (maybe nothing). */
  | 'FAILED'
  /** A person's message, or one a routine posted as its agent. */
  | 'SENT';

export type ModelProvider = {
  __typename?: 'ModelProvider';
  /** Where `/chat/completions` is, e.g. `https://api.openai.com/v1`. */
  baseUrl?: Maybe<Scalars['String']['output']>;
  createdAt: Scalars['DateTime']['output'];
  /** Whether an API key is set. The key itself is never returned. */
  hasApiKey: Scalars['Boolean']['output'];
  id: Scalars['ID']['output'];
  /** The longest wait for the response or the next piece of it. */
  idleTimeoutSeconds: Scalars['Int']['output'];
  kind: ModelProviderKind;
  name: Scalars['String']['output'];
  /** The longest one attempt of a reply may take. */
  requestTimeoutSeconds: Scalars['Int']['output'];
  script?: Maybe<Scalars['JSON']['output']>;
  updatedAt: Scalars['DateTime']['output'];
};

export type ModelProviderConnection = {
  __typename?: 'ModelProviderConnection';
  /** A list of edges. */
  edges: Array<ModelProviderEdge>;
  /** A list of nodes. */
  nodes: Array<ModelProvider>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

/** An edge in a connection. */
export type ModelProviderEdge = {
  __typename?: 'ModelProviderEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: ModelProvider;
};

export type ModelProviderKind =
  /**
   * Any OpenAI-compatible chat completions endpoint: OpenAI, Ollama,
   * vLLM, the llama.cpp server.
   */
  | 'OPENAI_COMPATIBLE'
  /** Deterministic replies from a script, for demos and tests. */
  | 'SCRIPTED';

export type Mutation = {
  __typename?: 'Mutation';
  /**
   * Makes a routine fire: from its trigger's first tick after now.
   * CONFLICT when the trigger will not fire again (a `once` in the past).
   */
  activateRoutine: ActivateRoutinePayload;
  /**
   * Makes an existing developer (by their console email) a member of
   * the app. Admins add anyone but owners; owners anyone.
   */
  addAppMember: AddAppMemberPayload;
  addThreadParticipant: AddThreadParticipantPayload;
  /**
   * Approves or denies the pending device sign-in with this user code, for
   * the caller (a user of the app the device asked for). An unknown,
   * expired or decided code, or one of another app, is `NOT_FOUND`; after
   * 5 of those within 10 minutes the caller gets `RATE_LIMITED` until
   * the oldest is 10 minutes old.
   */
  approveDevice: ApproveDevicePayload;
  /**
   * Stops a reply. The thread's managers, the app (its secret key and
   * developers) and the person whose message asked may cancel. What the
   * agent said so far is stored as a CANCELLED message; subscribers get
   * `agent_reply.failed` with status CANCELLED. CONFLICT once it ended.
   */
  cancelAgentReply: CancelAgentReplyPayload;
  /**
   * Changes the caller's password. Every session of theirs ends, on
   * every device (their sockets close with 4403), and a new one starts
   * for the caller: keep the tokens this returns.
   */
  changePassword: AuthPayload;
  /**
   * Exchanges the one-time `code` of a finished provider login (valid 2
   * minutes, once) for tokens, with the same app's key.
   */
  completeOAuthLogin: AuthPayload;
  /** Creates an agent (the app's secret key, or a developer). */
  createAgent: CreateAgentPayload;
  /**
   * Makes a new key for the app (owners and admins); its plaintext is
   * in this answer only.
   */
  createApiKey: CreateApiKeyPayload;
  /**
   * Creates an app owned by the calling developer, with a live
   * publishable and secret key, shown only in this answer.
   */
  createApp: CreateAppPayload;
  /**
   * Adds an outside OAuth provider the app's users log in with (the
   * app's secret key, or its owners and admins). Presets fill Google's
   * and GitHub's endpoints.
   */
  createIdentityProvider: IdentityProviderPayload;
  /**
   * Registers an MCP server and lists its tools at once. A server that
   * cannot be reached is stored as FAILED with `lastError`: fix it and
   * `refreshMcpServer`.
   */
  createMcpServer: CreateMcpServerPayload;
  /** Adds a model provider (the app's secret key, or a developer). */
  createModelProvider: CreateModelProviderPayload;
  /** Creates a routine of an agent, as a DRAFT: activate it to make it fire. */
  createRoutine: CreateRoutinePayload;
  /** Creates a team; its creator (or `ownerId`, with a secret key) becomes its owner. */
  createTeam: CreateTeamPayload;
  createThread: CreateThreadPayload;
  /** Adds a tool the app's agents may be given (the app's secret key, or a developer). */
  createTool: CreateToolPayload;
  /**
   * Subscribes a URL to event types. The signing secret is in the
   * payload, and never shown again.
   */
  createWebhook: CreateWebhookPayload;
  /**
   * Approves or refuses a tool call a reply waits on (its tool requires
   * approval; `agent_reply.approval_requested` announced it). Those who
   * may cancel the reply may decide. Approved, the call is made
   * (`agent_reply.tool_call.started`); refused, it fails
   * (`agent_reply.tool_call.failed`) and the model is told so; either
   * way the reply goes on at once. NOT_FOUND for a call the reply does
   * not have; CONFLICT once the call was decided or expired, or the
   * reply ended.
   */
  decideToolCall: DecideToolCallPayload;
  /**
   * Deletes an agent: it leaves its threads and its pending replies are
   * dropped; the messages it wrote stay (with no author).
   */
  deleteAgent: DeleteAgentPayload;
  /**
   * Deletes the app and everything in it (owners only). Its keys and its
   * users' tokens stop working at once, and its sockets close (4403).
   */
  deleteApp: DeleteAppPayload;
  /**
   * Deletes a variable; what still refers to it fails when it runs,
   * saying which variable is missing.
   */
  deleteAppVar: DeleteAppVarPayload;
  /**
   * Removes a provider and its logins in flight. Identities it linked stay
   * with their users: adding a provider with the same issuer again finds them.
   */
  deleteIdentityProvider: DeleteIdentityProviderPayload;
  /** Deletes the server and its tools; agents that had them lose them. */
  deleteMcpServer: DeleteMcpServerPayload;
  /** Soft delete: the message keeps its place, its content is erased. */
  deleteMessage: DeleteMessagePayload;
  /** Deletes a provider no agent uses (CONFLICT otherwise). */
  deleteModelProvider: DeleteModelProviderPayload;
  /** Deletes a routine and its runs; queued runs never happen. */
  deleteRoutine: DeleteRoutinePayload;
  /** Deletes the team and its threads. */
  deleteTeam: DeleteTeamPayload;
  /** Deletes the thread and all its messages. */
  deleteThread: DeleteThreadPayload;
  /** Deletes a tool; agents that had it lose it. */
  deleteTool: DeleteToolPayload;
  /** Deletes a webhook, its deliveries and their log. */
  deleteWebhook: DeleteWebhookPayload;
  /**
   * Disables a user of the app (the secret key's call): every session
   * of theirs ends at once, on every server (their sockets close with
   * 4403), and no way of signing in works until `enableUser`.
   */
  disableUser: SetUserDisabledPayload;
  /** Changes a message's content: its author, or the app's secret key. */
  editMessage: EditMessagePayload;
  /** Lets a disabled user sign in again (their old sessions stay ended). */
  enableUser: SetUserDisabledPayload;
  /**
   * Invites an email address; the code it returns (shown once) lets the
   * user with that email join, within 7 days.
   */
  inviteTeamMember: InviteTeamMemberPayload;
  /** Joins a team with an invitation code addressed to the caller's email. */
  joinTeam: JoinTeamPayload;
  logIn: AuthPayload;
  /** Ends this session (or all of the user's): their tokens stop working at once. */
  logOut: LogOutPayload;
  markThreadRead: MarkThreadReadPayload;
  /** Stops an active routine from firing; a run in progress finishes. */
  pauseRoutine: PauseRoutinePayload;
  /**
   * Sends a delivery again now, whatever became of it, with a fresh day
   * of retries. CONFLICT while it is being sent or its webhook is off.
   */
  redeliverWebhookDelivery: RedeliverWebhookDeliveryPayload;
  /**
   * Lists the server's tools again: new ones are added, changed ones
   * updated, gone ones deleted (agents that had them lose them).
   */
  refreshMcpServer: RefreshMcpServerPayload;
  /**
   * Exchanges a refresh token for a new access and refresh token. A refresh
   * token already used ends its whole session: someone else may hold it.
   */
  refreshSession: AuthPayload;
  /**
   * Removes a member (admins: below owner; owners: anyone), or, with
   * your own id, leaves the app. The last owner cannot go (CONFLICT).
   */
  removeAppMember: RemoveAppMemberPayload;
  /** Removes a member (or, for your own id, leaves). The last owner cannot leave. */
  removeTeamMember: RemoveTeamMemberPayload;
  /** Removes a participant; anyone may remove themself. */
  removeThreadParticipant: RemoveThreadParticipantPayload;
  /**
   * Mails a six-digit code that signs in with `verifyLoginCode` (valid 10
   * minutes, once, 5 tries); it replaces any earlier code. Nothing is sent
   * to an email without an account unless the app has
   * `passwordlessSignUp`; the answer is the same either way.
   */
  requestLoginCode: RequestLoginCodePayload;
  /**
   * Mails a link to `redirectUrl` with `token` added to its query (valid
   * 15 minutes, once); `verifyMagicLink` signs in with the token. Same
   * rules for unknown emails as `requestLoginCode`.
   */
  requestMagicLink: RequestMagicLinkPayload;
  /**
   * Revokes a key of the app (owners and admins): every request with it
   * is refused from now on, on every server, and its open sockets close
   * (4403). Revoking a revoked key changes nothing.
   */
  revokeApiKey: RevokeApiKeyPayload;
  /**
   * Ends one of the caller's sessions (signs that device out): its
   * tokens stop working at once, on every server, and its open sockets
   * close with 4403. Another user's session answers NOT_FOUND.
   */
  revokeSession: RevokeSessionPayload;
  /**
   * Makes a new version of the app's token signing key current (owners
   * and admins). Tokens signed by the version it replaces stay valid
   * until they expire (15 minutes at most); a second rotation ends them
   * at once.
   */
  rotateSigningKey: RotateSigningKeyPayload;
  /**
   * Gives a webhook a new signing secret. The replaced one keeps signing
   * too (a second `v1`) for `previousSecretValidForSeconds`, so receivers
   * can switch without dropping deliveries.
   */
  rotateWebhookSecret: RotateWebhookSecretPayload;
  /**
   * Runs a routine now, whatever its status. With `idempotencyKey`, a
   * retry returns the first run.
   */
  runRoutine: RunRoutinePayload;
  sendMessage: SendMessagePayload;
  /**
   * Gives the agent exactly these tools of its app (an empty list takes
   * them all away); at most 32.
   */
  setAgentTools: SetAgentToolsPayload;
  /**
   * Changes a member's role: admins between viewer, developer and admin;
   * owners any. The last owner cannot step down (CONFLICT).
   */
  setAppMemberRole: SetAppMemberRolePayload;
  /** Sets a variable, made or replaced (the app's secret key, or a developer). */
  setAppVar: SetAppVarPayload;
  /**
   * Marks the caller away, or back online, for as long as they keep a
   * socket open; their teams' `teamEvents` subscribers get
   * `presence.changed` when it changes.
   */
  setPresence: SetPresencePayload;
  /** Changes a member's role (owners only). The last owner cannot step down. */
  setTeamMemberRole: SetTeamMemberRolePayload;
  /**
   * Tells the thread's subscribers that the caller is typing. Ephemeral:
   * nothing is stored and it is not replayed on resume.
   */
  setTyping: SetTypingPayload;
  /** Creates a user in the caller's app (publishable or secret key) and signs them in. */
  signUp: AuthPayload;
  /**
   * Starts a login with one of the app's outside providers (publishable
   * or secret key; no credential for the console). With a user's access
   * token it links the provider's identity to that user instead: the
   * browser then comes back with `linked=<provider>` and no code.
   */
  startOAuthLogin: StartOAuthLoginPayload;
  /** Changes an agent; fields left out keep their values. */
  updateAgent: UpdateAgentPayload;
  /** Renames the app (owners and admins, or its secret key). */
  updateApp: UpdateAppPayload;
  /** Changes the app's login settings (its secret key, or its owners and admins). */
  updateAppSettings: UpdateAppSettingsPayload;
  /**
   * Changes a provider: fields left out keep their value; `clientSecret`
   * rotates the secret. The issuer stays (identities are linked by it).
   */
  updateIdentityProvider: IdentityProviderPayload;
  /** Changes a provider; fields left out keep their values. */
  updateModelProvider: UpdateModelProviderPayload;
  updateProfile: UpdateProfilePayload;
  /** Changes a routine; fields left out keep their values. */
  updateRoutine: UpdateRoutinePayload;
  updateTeam: UpdateTeamPayload;
  updateThread: UpdateThreadPayload;
  /** Changes a tool; what is omitted stays. */
  updateTool: UpdateToolPayload;
  /** Changes a webhook's URL, event types, or whether it is on. */
  updateWebhook: UpdateWebhookPayload;
  /**
   * Signs in with a mailed code → `AuthPayload`. Every try counts; after
   * 5 the code is dead.
   */
  verifyLoginCode: AuthPayload;
  /** Signs in with a magic link's token → `AuthPayload`. */
  verifyMagicLink: AuthPayload;
};


export type MutationActivateRoutineArgs = {
  input: RoutineIdInput;
};


export type MutationAddAppMemberArgs = {
  input: AddAppMemberInput;
};


export type MutationAddThreadParticipantArgs = {
  input: AddThreadParticipantInput;
};


export type MutationApproveDeviceArgs = {
  input: ApproveDeviceInput;
};


export type MutationCancelAgentReplyArgs = {
  input: CancelAgentReplyInput;
};


export type MutationChangePasswordArgs = {
  input: ChangePasswordInput;
};


export type MutationCompleteOAuthLoginArgs = {
  input: CompleteOAuthLoginInput;
};


export type MutationCreateAgentArgs = {
  input: CreateAgentInput;
};


export type MutationCreateApiKeyArgs = {
  input: CreateApiKeyInput;
};


export type MutationCreateAppArgs = {
  input: CreateAppInput;
};


export type MutationCreateIdentityProviderArgs = {
  input: CreateIdentityProviderInput;
};


export type MutationCreateMcpServerArgs = {
  input: CreateMcpServerInput;
};


export type MutationCreateModelProviderArgs = {
  input: CreateModelProviderInput;
};


export type MutationCreateRoutineArgs = {
  input: CreateRoutineInput;
};


export type MutationCreateTeamArgs = {
  input: CreateTeamInput;
};


export type MutationCreateThreadArgs = {
  input: CreateThreadInput;
};


export type MutationCreateToolArgs = {
  input: CreateToolInput;
};


export type MutationCreateWebhookArgs = {
  input: CreateWebhookInput;
};


export type MutationDecideToolCallArgs = {
  input: DecideToolCallInput;
};


export type MutationDeleteAgentArgs = {
  input: DeleteAgentInput;
};


export type MutationDeleteAppArgs = {
  input: DeleteAppInput;
};


export type MutationDeleteAppVarArgs = {
  input: DeleteAppVarInput;
};


export type MutationDeleteIdentityProviderArgs = {
  input: DeleteIdentityProviderInput;
};


export type MutationDeleteMcpServerArgs = {
  input: DeleteMcpServerInput;
};


export type MutationDeleteMessageArgs = {
  input: DeleteMessageInput;
};


export type MutationDeleteModelProviderArgs = {
  input: DeleteModelProviderInput;
};


export type MutationDeleteRoutineArgs = {
  input: RoutineIdInput;
};


export type MutationDeleteTeamArgs = {
  input: DeleteTeamInput;
};


export type MutationDeleteThreadArgs = {
  input: DeleteThreadInput;
};


export type MutationDeleteToolArgs = {
  input: DeleteToolInput;
};


export type MutationDeleteWebhookArgs = {
  input: DeleteWebhookInput;
};


export type MutationDisableUserArgs = {
  input: SetUserDisabledInput;
};


export type MutationEditMessageArgs = {
  input: EditMessageInput;
};


export type MutationEnableUserArgs = {
  input: SetUserDisabledInput;
};


export type MutationInviteTeamMemberArgs = {
  input: InviteTeamMemberInput;
};


export type MutationJoinTeamArgs = {
  input: JoinTeamInput;
};


export type MutationLogInArgs = {
  input: LogInInput;
};


export type MutationLogOutArgs = {
  input?: InputMaybe<LogOutInput>;
};


export type MutationMarkThreadReadArgs = {
  input: MarkThreadReadInput;
};


export type MutationPauseRoutineArgs = {
  input: RoutineIdInput;
};


export type MutationRedeliverWebhookDeliveryArgs = {
  input: RedeliverWebhookDeliveryInput;
};


export type MutationRefreshMcpServerArgs = {
  input: RefreshMcpServerInput;
};


export type MutationRefreshSessionArgs = {
  input: RefreshSessionInput;
};


export type MutationRemoveAppMemberArgs = {
  input: RemoveAppMemberInput;
};


export type MutationRemoveTeamMemberArgs = {
  input: RemoveTeamMemberInput;
};


export type MutationRemoveThreadParticipantArgs = {
  input: RemoveThreadParticipantInput;
};


export type MutationRequestLoginCodeArgs = {
  input: RequestLoginCodeInput;
};


export type MutationRequestMagicLinkArgs = {
  input: RequestMagicLinkInput;
};


export type MutationRevokeApiKeyArgs = {
  input: RevokeApiKeyInput;
};


export type MutationRevokeSessionArgs = {
  input: RevokeSessionInput;
};


export type MutationRotateSigningKeyArgs = {
  input: RotateSigningKeyInput;
};


export type MutationRotateWebhookSecretArgs = {
  input: RotateWebhookSecretInput;
};


export type MutationRunRoutineArgs = {
  input: RunRoutineInput;
};


export type MutationSendMessageArgs = {
  input: SendMessageInput;
};


export type MutationSetAgentToolsArgs = {
  input: SetAgentToolsInput;
};


export type MutationSetAppMemberRoleArgs = {
  input: SetAppMemberRoleInput;
};


export type MutationSetAppVarArgs = {
  input: SetAppVarInput;
};


export type MutationSetPresenceArgs = {
  input: SetPresenceInput;
};


export type MutationSetTeamMemberRoleArgs = {
  input: SetTeamMemberRoleInput;
};


export type MutationSetTypingArgs = {
  input: SetTypingInput;
};


export type MutationSignUpArgs = {
  input: SignUpInput;
};


export type MutationStartOAuthLoginArgs = {
  input: StartOAuthLoginInput;
};


export type MutationUpdateAgentArgs = {
  input: UpdateAgentInput;
};


export type MutationUpdateAppArgs = {
  input: UpdateAppInput;
};


export type MutationUpdateAppSettingsArgs = {
  input: UpdateAppSettingsInput;
};


export type MutationUpdateIdentityProviderArgs = {
  input: UpdateIdentityProviderInput;
};


export type MutationUpdateModelProviderArgs = {
  input: UpdateModelProviderInput;
};


export type MutationUpdateProfileArgs = {
  input: UpdateProfileInput;
};


export type MutationUpdateRoutineArgs = {
  input: UpdateRoutineInput;
};


export type MutationUpdateTeamArgs = {
  input: UpdateTeamInput;
};


export type MutationUpdateThreadArgs = {
  input: UpdateThreadInput;
};


export type MutationUpdateToolArgs = {
  input: UpdateToolInput;
};


export type MutationUpdateWebhookArgs = {
  input: UpdateWebhookInput;
};


export type MutationVerifyLoginCodeArgs = {
  input: VerifyLoginCodeInput;
};


export type MutationVerifyMagicLinkArgs = {
  input: VerifyMagicLinkInput;
};

export type Node = {
  id: Scalars['ID']['output'];
};

/** Once, at `at`; the routine is COMPLETED after its run. */
export type OnceTrigger = {
  __typename?: 'OnceTrigger';
  at: Scalars['DateTime']['output'];
};

export type OnceTriggerInput = {
  /** In the future. */
  at: Scalars['DateTime']['input'];
};

/** Information about pagination in a connection */
export type PageInfo = {
  __typename?: 'PageInfo';
  /** When paginating forwards, the cursor to continue. */
  endCursor?: Maybe<Scalars['String']['output']>;
  /** When paginating forwards, are there more items? */
  hasNextPage: Scalars['Boolean']['output'];
  /** When paginating backwards, are there more items? */
  hasPreviousPage: Scalars['Boolean']['output'];
  /** When paginating backwards, the cursor to continue. */
  startCursor?: Maybe<Scalars['String']['output']>;
};

export type ParticipantAddedEvent = Event & {
  __typename?: 'ParticipantAddedEvent';
  agent?: Maybe<Agent>;
  agentId?: Maybe<Scalars['ID']['output']>;
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  occurredAt: Scalars['DateTime']['output'];
  threadId?: Maybe<Scalars['ID']['output']>;
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
  user?: Maybe<User>;
  userId?: Maybe<Scalars['ID']['output']>;
};

export type ParticipantRemovedEvent = Event & {
  __typename?: 'ParticipantRemovedEvent';
  agentId?: Maybe<Scalars['ID']['output']>;
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  occurredAt: Scalars['DateTime']['output'];
  threadId?: Maybe<Scalars['ID']['output']>;
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
  userId?: Maybe<Scalars['ID']['output']>;
};

export type PauseRoutinePayload = {
  __typename?: 'PauseRoutinePayload';
  routine: Routine;
};

/** `content` is posted into the thread as the agent's message. */
export type PostMessageAction = {
  __typename?: 'PostMessageAction';
  content: Scalars['String']['output'];
  threadId: Scalars['ID']['output'];
};

export type PostMessageInput = {
  content: Scalars['String']['input'];
  threadId: Scalars['ID']['input'];
};

export type PresenceChangedEvent = Event & {
  __typename?: 'PresenceChangedEvent';
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  occurredAt: Scalars['DateTime']['output'];
  status: PresenceStatus;
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
  user?: Maybe<User>;
  userId?: Maybe<Scalars['ID']['output']>;
};

export type PresenceStatus =
  | 'AWAY'
  | 'OFFLINE'
  | 'ONLINE';

/** The agent answers `prompt` into the thread. */
export type PromptAgentAction = {
  __typename?: 'PromptAgentAction';
  prompt: Scalars['String']['output'];
  threadId: Scalars['ID']['output'];
};

export type PromptAgentInput = {
  prompt: Scalars['String']['input'];
  threadId: Scalars['ID']['input'];
};

/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type Query = {
  __typename?: 'Query';
  /**
   * An agent of the app; null (NOT_FOUND) when there is none by this id.
   * Developers name the app in `appId`.
   */
  agent?: Maybe<Agent>;
  /** A reply, for whoever may read its thread. */
  agentReply?: Maybe<AgentReply>;
  /** The app's agents, oldest first. Developers name the app in `appId`. */
  agents: AgentConnection;
  /**
   * The caller's app; with `id`, an app whose configuration the caller
   * may read: a developer's (NOT_FOUND unless a member), or the secret
   * key's own.
   */
  app?: Maybe<App>;
  /** The app's variables, by name: for its secret key and developers. */
  appVars: Array<AppVar>;
  /** The apps a developer is a member of. */
  apps: AppConnection;
  /**
   * The app's outside OAuth providers, as configured (never the client
   * secret): the secret key's own app, or the app a developer names.
   */
  identityProviders: Array<IdentityProvider>;
  /** An MCP server of the app; null (NOT_FOUND) when there is none by this id. */
  mcpServer?: Maybe<McpServer>;
  /** The app's MCP servers, oldest first: for its secret key and developers. */
  mcpServers: McpServerConnection;
  /** The signed-in user; null for keys and anonymous callers. */
  me?: Maybe<User>;
  /** A model provider: for the app's secret key and developers. */
  modelProvider?: Maybe<ModelProvider>;
  /** The app's model providers, oldest first: for its secret key and developers. */
  modelProviders: ModelProviderConnection;
  /** Any object by its ID; null when it does not exist or the caller may not see it. */
  node?: Maybe<Node>;
  /** A routine of the app: for its secret key and developers (`appId`). */
  routine?: Maybe<Routine>;
  /** One run of a routine of the app. */
  routineRun?: Maybe<RoutineRun>;
  /**
   * The app's routines (or one agent's), oldest first: for its secret
   * key and developers (`appId`).
   */
  routines: RoutineConnection;
  /**
   * The signed-in user's live sessions, oldest first: where they are
   * logged in. `revokeSession` ends one.
   */
  sessions: SessionConnection;
  /** NOT_FOUND (and null) for a team the caller is not a member of. */
  team?: Maybe<Team>;
  /** The caller's teams; every team for a secret key. */
  teams: TeamConnection;
  /** NOT_FOUND (and null) for a thread the caller may not see. */
  thread?: Maybe<Thread>;
  /** Threads the caller can see, most recent activity first; `teamId` narrows to one team. */
  threads: ThreadConnection;
  /** A tool of the app; null (NOT_FOUND) when there is none by this id. */
  tool?: Maybe<Tool>;
  /** The app's tools, oldest first: for its secret key and developers. */
  tools: ToolConnection;
  /** NOT_FOUND (and null) for a user the caller may not see. */
  user?: Maybe<User>;
  /** Users the caller can see (sharing a team with them); all users for a secret key. */
  users: UserConnection;
  /** Who is calling. */
  viewer: Viewer;
  /** One webhook of the app; NOT_FOUND when the app has no such webhook. */
  webhook?: Maybe<Webhook>;
  /** The app's webhooks, oldest first. Developers name the app in `appId`. */
  webhooks: WebhookConnection;
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryAgentArgs = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryAgentReplyArgs = {
  id: Scalars['ID']['input'];
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryAgentsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  appId?: InputMaybe<Scalars['ID']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryAppArgs = {
  id?: InputMaybe<Scalars['ID']['input']>;
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryAppVarsArgs = {
  appId?: InputMaybe<Scalars['ID']['input']>;
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryAppsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryIdentityProvidersArgs = {
  appId?: InputMaybe<Scalars['ID']['input']>;
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryMcpServerArgs = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryMcpServersArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  appId?: InputMaybe<Scalars['ID']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryModelProviderArgs = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryModelProvidersArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  appId?: InputMaybe<Scalars['ID']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryNodeArgs = {
  id: Scalars['ID']['input'];
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryRoutineArgs = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryRoutineRunArgs = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryRoutinesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  agentId?: InputMaybe<Scalars['ID']['input']>;
  appId?: InputMaybe<Scalars['ID']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QuerySessionsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryTeamArgs = {
  id: Scalars['ID']['input'];
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryTeamsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryThreadArgs = {
  id: Scalars['ID']['input'];
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryThreadsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  teamId?: InputMaybe<Scalars['ID']['input']>;
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryToolArgs = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryToolsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  appId?: InputMaybe<Scalars['ID']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryUserArgs = {
  id: Scalars['ID']['input'];
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryUsersArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  search?: InputMaybe<Scalars['String']['input']>;
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryWebhookArgs = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
};


/** The root query: the reads in `query.rs`, and those of areas with their own module. */
export type QueryWebhooksArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  appId?: InputMaybe<Scalars['ID']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};

export type RedeliverWebhookDeliveryInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  /** The delivery (`dlv_...`). */
  id: Scalars['ID']['input'];
};

export type RedeliverWebhookDeliveryPayload = {
  __typename?: 'RedeliverWebhookDeliveryPayload';
  delivery: WebhookDelivery;
};

export type RefreshMcpServerInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
};

export type RefreshMcpServerPayload = {
  __typename?: 'RefreshMcpServerPayload';
  mcpServer: McpServer;
};

export type RefreshSessionInput = {
  refreshToken: Scalars['String']['input'];
};

export type RemoveAppMemberInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  /** A member; your own id leaves the app. */
  userId: Scalars['ID']['input'];
};

export type RemoveAppMemberPayload = {
  __typename?: 'RemoveAppMemberPayload';
  removedUserId: Scalars['ID']['output'];
};

export type RemoveTeamMemberInput = {
  teamId: Scalars['ID']['input'];
  userId: Scalars['ID']['input'];
};

export type RemoveTeamMemberPayload = {
  __typename?: 'RemoveTeamMemberPayload';
  removedUserId: Scalars['ID']['output'];
  team: Team;
};

/** Names a user or an agent, not both. */
export type RemoveThreadParticipantInput = {
  agentId?: InputMaybe<Scalars['ID']['input']>;
  threadId: Scalars['ID']['input'];
  userId?: InputMaybe<Scalars['ID']['input']>;
};

export type RemoveThreadParticipantPayload = {
  __typename?: 'RemoveThreadParticipantPayload';
  thread: Thread;
};

export type RequestLoginCodeInput = {
  email: Scalars['String']['input'];
};

/** The same for every email, whether it has an account or not. */
export type RequestLoginCodePayload = {
  __typename?: 'RequestLoginCodePayload';
  /** Seconds a mailed code stays valid. */
  expiresIn: Scalars['Int']['output'];
  /** Always true: the request was taken. Whether a mail went out is not said. */
  ok: Scalars['Boolean']['output'];
};

export type RequestMagicLinkInput = {
  email: Scalars['String']['input'];
  /**
   * Where the mailed link leads, with `token` added to its query. Its
   * origin must be one of the app's `allowedRedirectOrigins`.
   */
  redirectUrl: Scalars['String']['input'];
};

/** The same for every email, whether it has an account or not. */
export type RequestMagicLinkPayload = {
  __typename?: 'RequestMagicLinkPayload';
  /** Seconds a mailed link stays valid. */
  expiresIn: Scalars['Int']['output'];
  /** Always true: the request was taken. Whether a mail went out is not said. */
  ok: Scalars['Boolean']['output'];
};

export type RevokeApiKeyInput = {
  /** Required for developers. */
  appId?: InputMaybe<Scalars['ID']['input']>;
  /** The key's id (`key_…`). */
  id: Scalars['ID']['input'];
};

export type RevokeApiKeyPayload = {
  __typename?: 'RevokeApiKeyPayload';
  apiKey: ApiKey;
};

export type RevokeSessionInput = {
  /** A session of the caller's (`Session.id`). */
  id: Scalars['ID']['input'];
};

export type RevokeSessionPayload = {
  __typename?: 'RevokeSessionPayload';
  revokedSessionId: Scalars['ID']['output'];
};

export type RotateSigningKeyInput = {
  /** Required for developers. */
  appId?: InputMaybe<Scalars['ID']['input']>;
};

export type RotateSigningKeyPayload = {
  __typename?: 'RotateSigningKeyPayload';
  /** The version it replaced: what it signed stays valid until it expires. */
  retiredKey: SigningKey;
  /** The new version, which signs from now on. */
  signingKey: SigningKey;
};

export type RotateWebhookSecretInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
  /**
   * How long the replaced secret still signs deliveries (alongside the
   * new one), in seconds: 0 to 604800 (7 days), 86400 when omitted.
   */
  previousSecretValidForSeconds?: InputMaybe<Scalars['Int']['input']>;
};

export type RotateWebhookSecretPayload = {
  __typename?: 'RotateWebhookSecretPayload';
  /** The new `whsec_...` secret. Shown only now. */
  signingSecret: Scalars['String']['output'];
  webhook: Webhook;
};

export type Routine = {
  __typename?: 'Routine';
  action: RoutineAction;
  /** The agent the routine belongs to (it acts as the agent). */
  agent?: Maybe<Agent>;
  agentId: Scalars['ID']['output'];
  createdAt: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  name: Scalars['String']['output'];
  /** When it fires next: null unless it is ACTIVE with a time trigger. */
  nextRunAt?: Maybe<Scalars['DateTime']['output']>;
  /** Its runs, newest first. */
  runs: RoutineRunConnection;
  status: RoutineStatus;
  /** The longest a run may take. */
  timeoutSeconds: Scalars['Int']['output'];
  trigger: RoutineTrigger;
  updatedAt: Scalars['DateTime']['output'];
};


export type RoutineRunsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};

export type RoutineAction = CallUrlAction | PostMessageAction | PromptAgentAction;

/** Exactly one of these. */
export type RoutineActionInput =
  { callUrl: CallUrlInput; postMessage?: never; promptAgent?: never; }
  |  { callUrl?: never; postMessage: PostMessageInput; promptAgent?: never; }
  |  { callUrl?: never; postMessage?: never; promptAgent: PromptAgentInput; };

export type RoutineConnection = {
  __typename?: 'RoutineConnection';
  /** A list of edges. */
  edges: Array<RoutineEdge>;
  /** A list of nodes. */
  nodes: Array<Routine>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

/** An edge in a connection. */
export type RoutineEdge = {
  __typename?: 'RoutineEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: Routine;
};

export type RoutineIdInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
};

export type RoutineRun = {
  __typename?: 'RoutineRun';
  /** Claims so far: a run taken over after its process stopped counts again. */
  attempts: Scalars['Int']['output'];
  cause: RoutineRunCause;
  createdAt: Scalars['DateTime']['output'];
  /** Why it failed. */
  error?: Maybe<Scalars['String']['output']>;
  /** The event that started it: `{"type", "data"}`, as webhooks carry it. */
  event?: Maybe<Scalars['JSON']['output']>;
  finishedAt?: Maybe<Scalars['DateTime']['output']>;
  /** The status code a `callUrl` run got. */
  httpStatus?: Maybe<Scalars['Int']['output']>;
  id: Scalars['ID']['output'];
  /** The message it posted (or the agent's answer). */
  messageId?: Maybe<Scalars['ID']['output']>;
  /**
   * What it produced: the agent's answer, the message posted, or the
   * start of the response body (4,096 characters at most).
   */
  output?: Maybe<Scalars['String']['output']>;
  /** The agent's reply a `promptAgent` run asked for. */
  replyId?: Maybe<Scalars['ID']['output']>;
  routineId: Scalars['ID']['output'];
  /**
   * The tick a scheduled run is for (after downtime, the first tick it
   * stands for).
   */
  scheduledFor?: Maybe<Scalars['DateTime']['output']>;
  startedAt?: Maybe<Scalars['DateTime']['output']>;
  status: RoutineRunStatus;
};

export type RoutineRunCause =
  /** An event matched its trigger. */
  | 'EVENT'
  /** `runRoutine`. */
  | 'MANUAL'
  /** Its schedule (cron, interval, once) came. */
  | 'SCHEDULE';

export type RoutineRunConnection = {
  __typename?: 'RoutineRunConnection';
  /** A list of edges. */
  edges: Array<RoutineRunEdge>;
  /** A list of nodes. */
  nodes: Array<RoutineRun>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

/** An edge in a connection. */
export type RoutineRunEdge = {
  __typename?: 'RoutineRunEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: RoutineRun;
};

export type RoutineRunFailedEvent = Event & {
  __typename?: 'RoutineRunFailedEvent';
  agentId?: Maybe<Scalars['ID']['output']>;
  attempt: Scalars['Int']['output'];
  cause: RoutineRunCause;
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  error?: Maybe<Scalars['String']['output']>;
  finishedAt?: Maybe<Scalars['DateTime']['output']>;
  httpStatus?: Maybe<Scalars['Int']['output']>;
  messageId?: Maybe<Scalars['ID']['output']>;
  occurredAt: Scalars['DateTime']['output'];
  output?: Maybe<Scalars['String']['output']>;
  routineId: Scalars['ID']['output'];
  routineName?: Maybe<Scalars['String']['output']>;
  runId: Scalars['ID']['output'];
  runStatus: RoutineRunStatus;
  scheduledFor?: Maybe<Scalars['DateTime']['output']>;
  startedAt?: Maybe<Scalars['DateTime']['output']>;
  /** @deprecated use runStatus: a selection of the ThreadEvent union cannot take `status` from this event and an agent reply's (two types) */
  status: RoutineRunStatus;
  /** The thread the routine writes into, if it does. */
  threadId?: Maybe<Scalars['ID']['output']>;
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

export type RoutineRunStartedEvent = Event & {
  __typename?: 'RoutineRunStartedEvent';
  agentId?: Maybe<Scalars['ID']['output']>;
  attempt: Scalars['Int']['output'];
  cause: RoutineRunCause;
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  error?: Maybe<Scalars['String']['output']>;
  finishedAt?: Maybe<Scalars['DateTime']['output']>;
  httpStatus?: Maybe<Scalars['Int']['output']>;
  messageId?: Maybe<Scalars['ID']['output']>;
  occurredAt: Scalars['DateTime']['output'];
  output?: Maybe<Scalars['String']['output']>;
  routineId: Scalars['ID']['output'];
  routineName?: Maybe<Scalars['String']['output']>;
  runId: Scalars['ID']['output'];
  runStatus: RoutineRunStatus;
  scheduledFor?: Maybe<Scalars['DateTime']['output']>;
  startedAt?: Maybe<Scalars['DateTime']['output']>;
  /** @deprecated use runStatus: a selection of the ThreadEvent union cannot take `status` from this event and an agent reply's (two types) */
  status: RoutineRunStatus;
  /** The thread the routine writes into, if it does. */
  threadId?: Maybe<Scalars['ID']['output']>;
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

export type RoutineRunStatus =
  | 'FAILED'
  | 'QUEUED'
  | 'RUNNING'
  | 'SUCCEEDED';

export type RoutineRunSucceededEvent = Event & {
  __typename?: 'RoutineRunSucceededEvent';
  agentId?: Maybe<Scalars['ID']['output']>;
  attempt: Scalars['Int']['output'];
  cause: RoutineRunCause;
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  error?: Maybe<Scalars['String']['output']>;
  finishedAt?: Maybe<Scalars['DateTime']['output']>;
  httpStatus?: Maybe<Scalars['Int']['output']>;
  messageId?: Maybe<Scalars['ID']['output']>;
  occurredAt: Scalars['DateTime']['output'];
  output?: Maybe<Scalars['String']['output']>;
  routineId: Scalars['ID']['output'];
  routineName?: Maybe<Scalars['String']['output']>;
  runId: Scalars['ID']['output'];
  runStatus: RoutineRunStatus;
  scheduledFor?: Maybe<Scalars['DateTime']['output']>;
  startedAt?: Maybe<Scalars['DateTime']['output']>;
  /** @deprecated use runStatus: a selection of the ThreadEvent union cannot take `status` from this event and an agent reply's (two types) */
  status: RoutineRunStatus;
  /** The thread the routine writes into, if it does. */
  threadId?: Maybe<Scalars['ID']['output']>;
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

export type RoutineStatus =
  /** Fires on its trigger. */
  | 'ACTIVE'
  /** A `once` routine after its run. */
  | 'COMPLETED'
  /** Made, not yet activated: it does not fire (`runRoutine` still runs it). */
  | 'DRAFT'
  /** Fires nothing until activated again. */
  | 'PAUSED';

export type RoutineTrigger = CronTrigger | EventTrigger | IntervalTrigger | OnceTrigger;

/** Exactly one of these. */
export type RoutineTriggerInput =
  { cron: CronTriggerInput; event?: never; interval?: never; once?: never; }
  |  { cron?: never; event: EventTriggerInput; interval?: never; once?: never; }
  |  { cron?: never; event?: never; interval: IntervalTriggerInput; once?: never; }
  |  { cron?: never; event?: never; interval?: never; once: OnceTriggerInput; };

export type RunRoutineInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
  /**
   * A retry with the same key returns the first run. Keys are unique in
   * the app: one used to run another routine is CONFLICT.
   */
  idempotencyKey?: InputMaybe<Scalars['String']['input']>;
};

export type RunRoutinePayload = {
  __typename?: 'RunRoutinePayload';
  run: RoutineRun;
};

export type SendMessageInput = {
  /** With a secret key: the user the message is from. */
  authorId?: InputMaybe<Scalars['ID']['input']>;
  content: Scalars['String']['input'];
  /** Retrying with the same key returns the first message instead of a second one. */
  idempotencyKey?: InputMaybe<Scalars['String']['input']>;
  /** A JSON object of at most 8 KiB, stored with the message. */
  metadata?: InputMaybe<Scalars['JSON']['input']>;
  threadId: Scalars['ID']['input'];
};

export type SendMessagePayload = {
  __typename?: 'SendMessagePayload';
  message: Message;
};

export type Session = {
  __typename?: 'Session';
  createdAt: Scalars['DateTime']['output'];
  /** Whether this is the session of the token that asks. */
  current: Scalars['Boolean']['output'];
  expiresAt: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  /** When its refresh token was last exchanged. */
  lastUsedAt: Scalars['DateTime']['output'];
};

export type SessionConnection = {
  __typename?: 'SessionConnection';
  /** A list of edges. */
  edges: Array<SessionEdge>;
  /** A list of nodes. */
  nodes: Array<Session>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

/** An edge in a connection. */
export type SessionEdge = {
  __typename?: 'SessionEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: Session;
};

export type SetAgentToolsInput = {
  agentId: Scalars['ID']['input'];
  appId?: InputMaybe<Scalars['ID']['input']>;
  /**
   * Orbit's own tools the agent may call (they act with the agent's
   * access: threads it takes part in, its own routines); omitted, the
   * ones it has stay.
   */
  builtinTools?: InputMaybe<Array<BuiltinTool>>;
  /** Tools of the agent's app; repeats count once. */
  toolIds: Array<Scalars['ID']['input']>;
};

export type SetAgentToolsPayload = {
  __typename?: 'SetAgentToolsPayload';
  agent: Agent;
};

export type SetAppMemberRoleInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  role: AppRole;
  userId: Scalars['ID']['input'];
};

export type SetAppMemberRolePayload = {
  __typename?: 'SetAppMemberRolePayload';
  member: AppMember;
};

export type SetAppVarInput = {
  /** The app: required for developers, may be omitted with the secret key. */
  appId?: InputMaybe<Scalars['ID']['input']>;
  /** A-Z, 0-9 and `_`, not starting with a digit; at most 64. */
  name: Scalars['String']['input'];
  /** Stored encrypted and never returned (an API key, a token). */
  secret?: Scalars['Boolean']['input'];
  /** At most 4,096 characters. */
  value: Scalars['String']['input'];
};

export type SetAppVarPayload = {
  __typename?: 'SetAppVarPayload';
  appVar: AppVar;
};

export type SetPresenceInput = {
  /**
   * `AWAY` or `ONLINE`. `OFFLINE` is not something to set: a user is
   * offline when they have no socket open.
   */
  status: PresenceStatus;
};

export type SetPresencePayload = {
  __typename?: 'SetPresencePayload';
  /**
   * The caller's status now: `OFFLINE` when they have no socket open, in
   * which case nothing was stored.
   */
  status: PresenceStatus;
};

export type SetTeamMemberRoleInput = {
  role: TeamRole;
  teamId: Scalars['ID']['input'];
  userId: Scalars['ID']['input'];
};

export type SetTeamMemberRolePayload = {
  __typename?: 'SetTeamMemberRolePayload';
  member: TeamMember;
};

export type SetTypingInput = {
  threadId: Scalars['ID']['input'];
  /**
   * True while typing (renew every few seconds: it lapses after 5 s);
   * false when done.
   */
  typing: Scalars['Boolean']['input'];
};

export type SetTypingPayload = {
  __typename?: 'SetTypingPayload';
  threadId: Scalars['ID']['output'];
  typing: Scalars['Boolean']['output'];
};

export type SetUserDisabledInput = {
  /** A user of the app. */
  id: Scalars['ID']['input'];
};

export type SetUserDisabledPayload = {
  __typename?: 'SetUserDisabledPayload';
  user: User;
};

export type SignUpInput = {
  displayName: Scalars['String']['input'];
  email: Scalars['String']['input'];
  password: Scalars['String']['input'];
};

export type SigningKey = {
  __typename?: 'SigningKey';
  createdAt: Scalars['DateTime']['output'];
  /** Whether it signs new tokens. */
  current: Scalars['Boolean']['output'];
  /** What tokens it signs carry in their header's `kid`. */
  kid: Scalars['String']['output'];
  /**
   * When a newer version took over. Tokens this one signed before then
   * stay valid until they expire, unless another rotation follows.
   */
  retiredAt?: Maybe<Scalars['DateTime']['output']>;
  version: Scalars['Int']['output'];
};

export type SigningKeyConnection = {
  __typename?: 'SigningKeyConnection';
  /** A list of edges. */
  edges: Array<SigningKeyEdge>;
  /** A list of nodes. */
  nodes: Array<SigningKey>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

/** An edge in a connection. */
export type SigningKeyEdge = {
  __typename?: 'SigningKeyEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: SigningKey;
};

export type StartOAuthLoginInput = {
  /** The provider's slug (`App.loginProviders`). */
  provider: Scalars['String']['input'];
  /**
   * The app's page the browser comes back to, with `code` (or `error`)
   * added to its query; on one of the app's `allowedRedirectOrigins`.
   */
  redirectUrl: Scalars['String']['input'];
  /**
   * Given back unchanged on the redirect (up to 512 printable ASCII
   * characters): tie the answer to the page that asked.
   */
  state?: InputMaybe<Scalars['String']['input']>;
};

export type StartOAuthLoginPayload = {
  __typename?: 'StartOAuthLoginPayload';
  /** Send the browser here (the provider's consent page). */
  authorizationUrl: Scalars['String']['output'];
  /** Seconds the login has to come back from the provider. */
  expiresIn: Scalars['Int']['output'];
};

/**
 * What a client subscribes to over WebSocket: each field streams one topic's
 * events, resumable from a cursor.
 */
export type Subscription = {
  __typename?: 'Subscription';
  /**
   * The app's routine runs as they start and end: for its secret key
   * and developers, who name the app in `appId`.
   */
  appEvents: AppEvent;
  /** A team's events: members, threads, presence. Members and the secret key. */
  teamEvents: TeamEvent;
  /** A thread's messages, participants and typing. Whoever may read the thread. */
  threadEvents: ThreadEvent;
  /** The viewer's own events. Needs a user's access token. */
  userEvents: UserEvent;
};


/**
 * What a client subscribes to over WebSocket: each field streams one topic's
 * events, resumable from a cursor.
 */
export type SubscriptionAppEventsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  appId?: InputMaybe<Scalars['ID']['input']>;
};


/**
 * What a client subscribes to over WebSocket: each field streams one topic's
 * events, resumable from a cursor.
 */
export type SubscriptionTeamEventsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  teamId: Scalars['ID']['input'];
};


/**
 * What a client subscribes to over WebSocket: each field streams one topic's
 * events, resumable from a cursor.
 */
export type SubscriptionThreadEventsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  threadId: Scalars['ID']['input'];
};


/**
 * What a client subscribes to over WebSocket: each field streams one topic's
 * events, resumable from a cursor.
 */
export type SubscriptionUserEventsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
};

export type Team = Node & {
  __typename?: 'Team';
  createdAt: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  /** Members in a stable order (by user id), so pages never skip or repeat anyone. */
  members: TeamMemberConnection;
  name: Scalars['String']['output'];
  /** The caller's role; null for a secret key. */
  viewerRole?: Maybe<TeamRole>;
};


export type TeamMembersArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};

export type TeamConnection = {
  __typename?: 'TeamConnection';
  /** A list of edges. */
  edges: Array<TeamEdge>;
  /** A list of nodes. */
  nodes: Array<Team>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

/** An edge in a connection. */
export type TeamEdge = {
  __typename?: 'TeamEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: Team;
};

/** What happens in a team: its members, its threads, who is online. */
export type TeamEvent = MemberJoinedEvent | MemberLeftEvent | MemberRoleChangedEvent | PresenceChangedEvent | ThreadCreatedEvent | ThreadDeletedEvent | ThreadUpdatedEvent;

export type TeamInvitation = {
  __typename?: 'TeamInvitation';
  /** The secret to pass to `joinTeam`; shown once, when the invitation is made. */
  code?: Maybe<Scalars['String']['output']>;
  email: Scalars['String']['output'];
  expiresAt: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  role: TeamRole;
  team: Team;
};

export type TeamMember = {
  __typename?: 'TeamMember';
  joinedAt: Scalars['DateTime']['output'];
  role: TeamRole;
  user: User;
};

export type TeamMemberConnection = {
  __typename?: 'TeamMemberConnection';
  /** A list of edges. */
  edges: Array<TeamMemberEdge>;
  /** A list of nodes. */
  nodes: Array<TeamMember>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

/** An edge in a connection. */
export type TeamMemberEdge = {
  __typename?: 'TeamMemberEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: TeamMember;
};

export type TeamRole =
  | 'ADMIN'
  | 'MEMBER'
  | 'OWNER';

export type Thread = Node & {
  __typename?: 'Thread';
  createdAt: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  lastMessageAt?: Maybe<Scalars['DateTime']['output']>;
  /** Oldest first. `first/after` pages forward, `last/before` backward. */
  messages: MessageConnection;
  /** Set for a user's own thread. */
  owner?: Maybe<User>;
  /**
   * Users added to the thread by name (owners and team members see it
   * anyway) and the agents taking part, in the order they were added.
   */
  participants: Array<ThreadParticipant>;
  /**
   * Set for a team's thread; null for a participant who is not on the team,
   * as the team itself is not theirs to see.
   */
  team?: Maybe<Team>;
  title: Scalars['String']['output'];
  /** Messages by others after the caller's read marker; 0 for a secret key. */
  unreadCount: Scalars['Int']['output'];
  updatedAt: Scalars['DateTime']['output'];
};


export type ThreadMessagesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};

export type ThreadConnection = {
  __typename?: 'ThreadConnection';
  /** A list of edges. */
  edges: Array<ThreadEdge>;
  /** A list of nodes. */
  nodes: Array<Thread>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

export type ThreadCreatedEvent = Event & {
  __typename?: 'ThreadCreatedEvent';
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  occurredAt: Scalars['DateTime']['output'];
  /** Null if it was deleted since. */
  thread?: Maybe<Thread>;
  threadId?: Maybe<Scalars['ID']['output']>;
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

export type ThreadDeletedEvent = Event & {
  __typename?: 'ThreadDeletedEvent';
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  occurredAt: Scalars['DateTime']['output'];
  threadId?: Maybe<Scalars['ID']['output']>;
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

/** An edge in a connection. */
export type ThreadEdge = {
  __typename?: 'ThreadEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: Thread;
};

/** What happens in a thread. */
export type ThreadEvent = AgentApprovalRequestedEvent | AgentReplyCompletedEvent | AgentReplyDeltaEvent | AgentReplyFailedEvent | AgentToolCallCompletedEvent | AgentToolCallFailedEvent | AgentToolCallStartedEvent | MessageCreatedEvent | MessageDeletedEvent | MessageEditedEvent | ParticipantAddedEvent | ParticipantRemovedEvent | RoutineRunFailedEvent | RoutineRunStartedEvent | RoutineRunSucceededEvent | ThreadDeletedEvent | ThreadUpdatedEvent | TypingEvent;

export type ThreadParticipant = {
  __typename?: 'ThreadParticipant';
  addedAt: Scalars['DateTime']['output'];
  /** Set when the participant is an agent. */
  agent?: Maybe<Agent>;
  /** Set when the participant is a user. */
  user?: Maybe<User>;
};

export type ThreadReadEvent = Event & {
  __typename?: 'ThreadReadEvent';
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  messageId: Scalars['ID']['output'];
  occurredAt: Scalars['DateTime']['output'];
  threadId?: Maybe<Scalars['ID']['output']>;
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

export type ThreadUpdatedEvent = Event & {
  __typename?: 'ThreadUpdatedEvent';
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  occurredAt: Scalars['DateTime']['output'];
  thread?: Maybe<Thread>;
  threadId?: Maybe<Scalars['ID']['output']>;
  /** The title after the change. */
  title?: Maybe<Scalars['String']['output']>;
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
};

/**
 * Tokens a reply used, as the provider reported them (or estimated, about
 * four characters a token, when it did not).
 */
export type TokenUsage = {
  __typename?: 'TokenUsage';
  completionTokens: Scalars['Int']['output'];
  promptTokens: Scalars['Int']['output'];
  totalTokens: Scalars['Int']['output'];
};

export type Tool = {
  __typename?: 'Tool';
  createdAt: Scalars['DateTime']['output'];
  /** What the tool does, as the model reads it. */
  description: Scalars['String']['output'];
  /** How an HTTP tool is called. */
  http?: Maybe<ToolHttp>;
  id: Scalars['ID']['output'];
  /** The JSON Schema of the arguments. */
  inputSchema: Scalars['JSON']['output'];
  kind: ToolKind;
  /**
   * For a tool of an MCP server: the server (its name, description and
   * schema are as the server lists them).
   */
  mcpServer?: Maybe<McpServer>;
  /** For a tool of an MCP server: the server's own name for it. */
  mcpToolName?: Maybe<Scalars['String']['output']>;
  /** What the model calls it by: unique in the app. */
  name: Scalars['String']['output'];
  /**
   * Each call waits for a person to approve it (`decideToolCall`)
   * before it is made; the reply pauses meanwhile.
   */
  requiresApproval: Scalars['Boolean']['output'];
  updatedAt: Scalars['DateTime']['output'];
};

export type ToolConnection = {
  __typename?: 'ToolConnection';
  /** A list of edges. */
  edges: Array<ToolEdge>;
  /** A list of nodes. */
  nodes: Array<Tool>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

/** An edge in a connection. */
export type ToolEdge = {
  __typename?: 'ToolEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: Tool;
};

/** A header sent with every call of the tool. */
export type ToolHeader = {
  __typename?: 'ToolHeader';
  name: Scalars['String']['output'];
  secret: Scalars['Boolean']['output'];
  /** Null when the value is secret: it is stored encrypted and never returned. */
  value?: Maybe<Scalars['String']['output']>;
};

export type ToolHeaderInput = {
  name: Scalars['String']['input'];
  /** Stored encrypted and never returned (an API key, a token). */
  secret?: Scalars['Boolean']['input'];
  /**
   * Required, except for a secret header on update: omitted, the value
   * saved before is kept.
   */
  value?: InputMaybe<Scalars['String']['input']>;
};

/** How an HTTP tool is called. */
export type ToolHttp = {
  __typename?: 'ToolHttp';
  headers: Array<ToolHeader>;
  method: HttpMethod;
  url: Scalars['String']['output'];
};

export type ToolHttpInput = {
  headers?: Array<ToolHeaderInput>;
  method?: HttpMethod;
  /**
   * Where the tool is called. Public addresses only, unless the server
   * sets ORBIT_WEBHOOK_ALLOW_PRIVATE.
   */
  url: Scalars['String']['input'];
};

export type ToolKind =
  /**
   * Called over HTTP: the model's arguments as the JSON body (as query
   * parameters for GET).
   */
  | 'HTTP'
  /** A tool one of the app's MCP servers lists, called on that server. */
  | 'MCP';

export type TypingEvent = Event & {
  __typename?: 'TypingEvent';
  /** Pass as `after` to resume behind this event. */
  cursor: Scalars['String']['output'];
  occurredAt: Scalars['DateTime']['output'];
  threadId?: Maybe<Scalars['ID']['output']>;
  /** Dotted lower case, as webhooks name it: `message.created`, ... */
  type: Scalars['String']['output'];
  typing: Scalars['Boolean']['output'];
  user?: Maybe<User>;
  userId?: Maybe<Scalars['ID']['output']>;
};

export type UpdateAgentInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  handle?: InputMaybe<Scalars['String']['input']>;
  id: Scalars['ID']['input'];
  instructions?: InputMaybe<Scalars['String']['input']>;
  maxSteps?: InputMaybe<Scalars['Int']['input']>;
  /** Replaces the whole model setting. */
  model?: InputMaybe<AgentModelInput>;
  name?: InputMaybe<Scalars['String']['input']>;
  replyMode?: InputMaybe<AgentReplyMode>;
  status?: InputMaybe<AgentStatus>;
};

export type UpdateAgentPayload = {
  __typename?: 'UpdateAgentPayload';
  agent: Agent;
};

export type UpdateAppInput = {
  /** Required for developers; may be omitted with the app's secret key. */
  appId?: InputMaybe<Scalars['ID']['input']>;
  name: Scalars['String']['input'];
};

export type UpdateAppPayload = {
  __typename?: 'UpdateAppPayload';
  app: App;
};

export type UpdateAppSettingsInput = {
  /**
   * Replaces the list (at most 20): http or https origins, no path,
   * query or fragment. Omitted or null keeps it.
   */
  allowedRedirectOrigins?: InputMaybe<Array<Scalars['String']['input']>>;
  /**
   * The app to change: required for developers (owners and admins), may be
   * omitted with the app's secret key.
   */
  appId?: InputMaybe<Scalars['ID']['input']>;
  emailCodeLogin?: InputMaybe<Scalars['Boolean']['input']>;
  magicLinkLogin?: InputMaybe<Scalars['Boolean']['input']>;
  oauthLogin?: InputMaybe<Scalars['Boolean']['input']>;
  passwordLogin?: InputMaybe<Scalars['Boolean']['input']>;
  passwordSignUp?: InputMaybe<Scalars['Boolean']['input']>;
  /** Omitted or null keeps it (as for every switch below). */
  passwordlessSignUp?: InputMaybe<Scalars['Boolean']['input']>;
};

export type UpdateAppSettingsPayload = {
  __typename?: 'UpdateAppSettingsPayload';
  settings: AppSettings;
};

export type UpdateIdentityProviderInput = {
  allowSignUp?: InputMaybe<Scalars['Boolean']['input']>;
  appId?: InputMaybe<Scalars['ID']['input']>;
  authorizationUrl?: InputMaybe<Scalars['String']['input']>;
  clientAuth?: InputMaybe<ClientAuthMethod>;
  clientId?: InputMaybe<Scalars['String']['input']>;
  /** A new secret (rotation); omitted keeps the current one. */
  clientSecret?: InputMaybe<Scalars['String']['input']>;
  displayName?: InputMaybe<Scalars['String']['input']>;
  emailClaim?: InputMaybe<Scalars['String']['input']>;
  /** null: the provider's emails count as checked. */
  emailVerifiedClaim?: InputMaybe<Scalars['String']['input']>;
  /** null stops reading an email list. */
  emailsUrl?: InputMaybe<Scalars['String']['input']>;
  id: Scalars['ID']['input'];
  /** null: new accounts are named after their email. */
  nameClaim?: InputMaybe<Scalars['String']['input']>;
  scopes?: InputMaybe<Array<Scalars['String']['input']>>;
  slug?: InputMaybe<Scalars['String']['input']>;
  subjectClaim?: InputMaybe<Scalars['String']['input']>;
  tokenUrl?: InputMaybe<Scalars['String']['input']>;
  userinfoUrl?: InputMaybe<Scalars['String']['input']>;
};

export type UpdateModelProviderInput = {
  /** A new key; an empty string removes the key. Omitted keeps it. */
  apiKey?: InputMaybe<Scalars['String']['input']>;
  appId?: InputMaybe<Scalars['ID']['input']>;
  baseUrl?: InputMaybe<Scalars['String']['input']>;
  id: Scalars['ID']['input'];
  idleTimeoutSeconds?: InputMaybe<Scalars['Int']['input']>;
  name?: InputMaybe<Scalars['String']['input']>;
  requestTimeoutSeconds?: InputMaybe<Scalars['Int']['input']>;
  script?: InputMaybe<Scalars['JSON']['input']>;
};

export type UpdateModelProviderPayload = {
  __typename?: 'UpdateModelProviderPayload';
  modelProvider: ModelProvider;
};

export type UpdateProfileInput = {
  /** null clears it. */
  avatarUrl?: InputMaybe<Scalars['String']['input']>;
  displayName?: InputMaybe<Scalars['String']['input']>;
  /** null clears it. */
  timezone?: InputMaybe<Scalars['String']['input']>;
};

export type UpdateProfilePayload = {
  __typename?: 'UpdateProfilePayload';
  user: User;
};

export type UpdateRoutineInput = {
  action?: InputMaybe<RoutineActionInput>;
  appId?: InputMaybe<Scalars['ID']['input']>;
  id: Scalars['ID']['input'];
  name?: InputMaybe<Scalars['String']['input']>;
  timeoutSeconds?: InputMaybe<Scalars['Int']['input']>;
  /** Replaces the trigger; an active routine is scheduled again from now. */
  trigger?: InputMaybe<RoutineTriggerInput>;
};

export type UpdateRoutinePayload = {
  __typename?: 'UpdateRoutinePayload';
  routine: Routine;
};

export type UpdateTeamInput = {
  id: Scalars['ID']['input'];
  name: Scalars['String']['input'];
};

export type UpdateTeamPayload = {
  __typename?: 'UpdateTeamPayload';
  team: Team;
};

export type UpdateThreadInput = {
  id: Scalars['ID']['input'];
  title: Scalars['String']['input'];
};

export type UpdateThreadPayload = {
  __typename?: 'UpdateThreadPayload';
  thread: Thread;
};

export type UpdateToolInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  description?: InputMaybe<Scalars['String']['input']>;
  /** Replaces how the tool is called, headers included. */
  http?: InputMaybe<ToolHttpInput>;
  id: Scalars['ID']['input'];
  inputSchema?: InputMaybe<Scalars['JSON']['input']>;
  name?: InputMaybe<Scalars['String']['input']>;
  requiresApproval?: InputMaybe<Scalars['Boolean']['input']>;
};

export type UpdateToolPayload = {
  __typename?: 'UpdateToolPayload';
  tool: Tool;
};

export type UpdateWebhookInput = {
  appId?: InputMaybe<Scalars['ID']['input']>;
  /** Turns the webhook on or off; omitted or null keeps it. */
  enabled?: InputMaybe<Scalars['Boolean']['input']>;
  /** Replaces the list; omitted or null keeps it. */
  eventTypes?: InputMaybe<Array<Scalars['String']['input']>>;
  id: Scalars['ID']['input'];
  /** Omitted or null keeps it. Queued deliveries go to the new URL. */
  url?: InputMaybe<Scalars['String']['input']>;
};

export type UpdateWebhookPayload = {
  __typename?: 'UpdateWebhookPayload';
  webhook: Webhook;
};

export type User = Node & {
  __typename?: 'User';
  avatarUrl?: Maybe<Scalars['String']['output']>;
  createdAt: Scalars['DateTime']['output'];
  /** When the app disabled the account; shown to the secret key only. */
  disabledAt?: Maybe<Scalars['DateTime']['output']>;
  displayName: Scalars['String']['output'];
  /** Shown to the user themself and to the app's secret key; null for others. */
  email?: Maybe<Scalars['String']['output']>;
  id: Scalars['ID']['output'];
  /**
   * The outside-provider accounts linked to the user (they sign in with
   * them): for the user themself and the app's secret key; null for others.
   */
  identities?: Maybe<Array<UserIdentity>>;
  /**
   * Online while the user has a socket open on any server (away if they
   * said so with `setPresence`), offline otherwise.
   */
  presence: PresenceStatus;
  timezone?: Maybe<Scalars['String']['output']>;
};

export type UserConnection = {
  __typename?: 'UserConnection';
  /** A list of edges. */
  edges: Array<UserEdge>;
  /** A list of nodes. */
  nodes: Array<User>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

/** An edge in a connection. */
export type UserEdge = {
  __typename?: 'UserEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: User;
};

/** What happens to the viewer: their own threads, memberships, read markers. */
export type UserEvent = MemberJoinedEvent | MemberLeftEvent | MemberRoleChangedEvent | ParticipantAddedEvent | ParticipantRemovedEvent | ThreadCreatedEvent | ThreadDeletedEvent | ThreadReadEvent | ThreadUpdatedEvent;

export type UserIdentity = {
  __typename?: 'UserIdentity';
  createdAt: Scalars['DateTime']['output'];
  /** The email the provider gave at the last login. */
  email?: Maybe<Scalars['String']['output']>;
  /** Who vouches for the person (`https://accounts.google.com`). */
  issuer: Scalars['String']['output'];
  lastLoginAt: Scalars['DateTime']['output'];
  /** The provider's slug it was last used through. */
  provider: Scalars['String']['output'];
};

export type VerifyLoginCodeInput = {
  /** The six digits from the mail. */
  code: Scalars['String']['input'];
  email: Scalars['String']['input'];
};

export type VerifyMagicLinkInput = {
  /** The `token` query parameter of the link. */
  token: Scalars['String']['input'];
};

export type Viewer = {
  __typename?: 'Viewer';
  /** The app the credential belongs to (the console app for developers and anonymous callers). */
  app?: Maybe<App>;
  kind: ViewerKind;
  user?: Maybe<User>;
};

export type ViewerKind =
  | 'ANONYMOUS'
  | 'APP_PUBLISHABLE'
  | 'APP_SECRET'
  | 'DEVELOPER'
  | 'USER';

export type Webhook = {
  __typename?: 'Webhook';
  createdAt: Scalars['DateTime']['output'];
  /** Its deliveries, newest first, each with its attempts. */
  deliveries: WebhookDeliveryConnection;
  disabledAt?: Maybe<Scalars['DateTime']['output']>;
  /** Why it is off. */
  disabledReason?: Maybe<Scalars['String']['output']>;
  /**
   * Off: no deliveries are made or sent for it. A receiver answering 410
   * turns it off; `updateWebhook(enabled: true)` turns it on again.
   */
  enabled: Scalars['Boolean']['output'];
  /** The event types delivered (`message.created`, ...). */
  eventTypes: Array<Scalars['String']['output']>;
  id: Scalars['ID']['output'];
  /**
   * While set, deliveries carry a second `v1` signature made with the
   * secret before the last rotation; it stops at this time.
   */
  previousSecretExpiresAt?: Maybe<Scalars['DateTime']['output']>;
  updatedAt: Scalars['DateTime']['output'];
  /** Where deliveries are POSTed. */
  url: Scalars['String']['output'];
};


export type WebhookDeliveriesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};

export type WebhookConnection = {
  __typename?: 'WebhookConnection';
  /** A list of edges. */
  edges: Array<WebhookEdge>;
  /** A list of nodes. */
  nodes: Array<Webhook>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

export type WebhookDelivery = {
  __typename?: 'WebhookDelivery';
  /** Every request sent, oldest first. */
  attempts: Array<WebhookDeliveryAttempt>;
  createdAt: Scalars['DateTime']['output'];
  /**
   * The event's id: the `Orbit-Event-Id` (and `Idempotency-Key`) header,
   * the same on every attempt.
   */
  eventId: Scalars['ID']['output'];
  eventType: Scalars['String']['output'];
  failureReason?: Maybe<Scalars['String']['output']>;
  /** When it succeeded or was given up. */
  finishedAt?: Maybe<Scalars['DateTime']['output']>;
  id: Scalars['ID']['output'];
  /** When it is tried next, while queued. */
  nextAttemptAt?: Maybe<Scalars['DateTime']['output']>;
  /** The JSON body sent: `{id, type, createdAt, appId, data}`. */
  payload: Scalars['JSON']['output'];
  /**
   * No attempt is made after this time (a day after the delivery was
   * made or redelivered).
   */
  retriesUntil: Scalars['DateTime']['output'];
  status: WebhookDeliveryStatus;
  webhookId: Scalars['ID']['output'];
};

export type WebhookDeliveryAttempt = {
  __typename?: 'WebhookDeliveryAttempt';
  attemptedAt: Scalars['DateTime']['output'];
  durationMs: Scalars['Int']['output'];
  /** Why the attempt failed: no answer (and why), or a status other than 2xx. */
  error?: Maybe<Scalars['String']['output']>;
  /** The receiver's HTTP status; null when it did not answer. */
  statusCode?: Maybe<Scalars['Int']['output']>;
  succeeded: Scalars['Boolean']['output'];
};

export type WebhookDeliveryConnection = {
  __typename?: 'WebhookDeliveryConnection';
  /** A list of edges. */
  edges: Array<WebhookDeliveryEdge>;
  /** A list of nodes. */
  nodes: Array<WebhookDelivery>;
  /** Information to aid in pagination. */
  pageInfo: PageInfo;
};

/** An edge in a connection. */
export type WebhookDeliveryEdge = {
  __typename?: 'WebhookDeliveryEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: WebhookDelivery;
};

export type WebhookDeliveryStatus =
  /** Given up (see `failureReason`); `redeliverWebhookDelivery` sends it again. */
  | 'FAILED'
  /** Waiting for its next attempt (`nextAttemptAt`). */
  | 'QUEUED'
  /** Being sent now. */
  | 'SENDING'
  /** The receiver answered 2xx. */
  | 'SUCCEEDED';

/** An edge in a connection. */
export type WebhookEdge = {
  __typename?: 'WebhookEdge';
  /** A cursor for use in pagination */
  cursor: Scalars['String']['output'];
  /** The item at the end of the edge */
  node: Webhook;
};

export type SignUpMutationVariables = Exact<{
  input: SignUpInput;
}>;


export type SignUpMutation = { __typename?: 'Mutation', signUp: { __typename?: 'AuthPayload', accessToken: string, refreshToken: string, expiresIn: number, user: { __typename?: 'User', id: string, displayName: string, email?: string | null } } };

export type LogInMutationVariables = Exact<{
  input: LogInInput;
}>;


export type LogInMutation = { __typename?: 'Mutation', logIn: { __typename?: 'AuthPayload', accessToken: string, refreshToken: string, expiresIn: number, user: { __typename?: 'User', id: string, displayName: string, email?: string | null } } };

export type RefreshSessionMutationVariables = Exact<{
  input: RefreshSessionInput;
}>;


export type RefreshSessionMutation = { __typename?: 'Mutation', refreshSession: { __typename?: 'AuthPayload', accessToken: string, refreshToken: string, expiresIn: number, user: { __typename?: 'User', id: string, displayName: string, email?: string | null } } };

export type MeQueryVariables = Exact<{ [key: string]: never; }>;


export type MeQuery = { __typename?: 'Query', me?: { __typename?: 'User', id: string, displayName: string, email?: string | null } | null };

export type CreateThreadMutationVariables = Exact<{
  input: CreateThreadInput;
}>;


export type CreateThreadMutation = { __typename?: 'Mutation', createThread: { __typename?: 'CreateThreadPayload', thread: { __typename?: 'Thread', id: string, title: string } } };

export type SendMessageMutationVariables = Exact<{
  input: SendMessageInput;
}>;


export type SendMessageMutation = { __typename?: 'Mutation', sendMessage: { __typename?: 'SendMessagePayload', message: { __typename?: 'Message', id: string, content?: string | null, createdAt: string, agentReplies: Array<{ __typename?: 'AgentReply', id: string }> } } };

export type ThreadMessagesQueryVariables = Exact<{
  id: Scalars['ID']['input'];
  last?: InputMaybe<Scalars['Int']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
}>;


export type ThreadMessagesQuery = { __typename?: 'Query', thread?: { __typename?: 'Thread', id: string, title: string, messages: { __typename?: 'MessageConnection', edges: Array<{ __typename?: 'MessageEdge', cursor: string, node: { __typename?: 'Message', id: string, content?: string | null, createdAt: string, author?: { __typename: 'Agent', id: string, handle: string } | { __typename: 'User', id: string, displayName: string } | null } }>, pageInfo: { __typename?: 'PageInfo', hasPreviousPage: boolean, startCursor?: string | null } } } | null };

export type ThreadEventsSubscriptionVariables = Exact<{
  threadId: Scalars['ID']['input'];
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type ThreadEventsSubscription = { __typename?: 'Subscription', threadEvents: { __typename: 'AgentApprovalRequestedEvent', cursor: string, type: string, occurredAt: string } | { __typename: 'AgentReplyCompletedEvent', cursor: string, type: string, occurredAt: string, replyId: string, message?: { __typename?: 'Message', id: string, content?: string | null } | null } | { __typename: 'AgentReplyDeltaEvent', cursor: string, type: string, occurredAt: string, replyId: string, attempt: number, sequence: number, delta: string } | { __typename: 'AgentReplyFailedEvent', cursor: string, type: string, occurredAt: string, replyId: string, replyStatus: AgentReplyStatus, error?: string | null } | { __typename: 'AgentToolCallCompletedEvent', cursor: string, type: string, occurredAt: string } | { __typename: 'AgentToolCallFailedEvent', cursor: string, type: string, occurredAt: string } | { __typename: 'AgentToolCallStartedEvent', cursor: string, type: string, occurredAt: string } | { __typename: 'MessageCreatedEvent', cursor: string, type: string, occurredAt: string, message?: { __typename?: 'Message', id: string, content?: string | null, createdAt: string, author?: { __typename: 'Agent', id: string, handle: string } | { __typename: 'User', id: string, displayName: string } | null } | null } | { __typename: 'MessageDeletedEvent', cursor: string, type: string, occurredAt: string, message?: { __typename?: 'Message', id: string, deletedAt?: string | null } | null } | { __typename: 'MessageEditedEvent', cursor: string, type: string, occurredAt: string, message?: { __typename?: 'Message', id: string, content?: string | null, editedAt?: string | null } | null } | { __typename: 'ParticipantAddedEvent', cursor: string, type: string, occurredAt: string, userId?: string | null, agentId?: string | null } | { __typename: 'ParticipantRemovedEvent', cursor: string, type: string, occurredAt: string, userId?: string | null, agentId?: string | null } | { __typename: 'RoutineRunFailedEvent', cursor: string, type: string, occurredAt: string } | { __typename: 'RoutineRunStartedEvent', cursor: string, type: string, occurredAt: string } | { __typename: 'RoutineRunSucceededEvent', cursor: string, type: string, occurredAt: string } | { __typename: 'ThreadDeletedEvent', cursor: string, type: string, occurredAt: string } | { __typename: 'ThreadUpdatedEvent', cursor: string, type: string, occurredAt: string, title?: string | null } | { __typename: 'TypingEvent', cursor: string, type: string, occurredAt: string, userId?: string | null, typing: boolean } };

export type SetTypingMutationVariables = Exact<{
  input: SetTypingInput;
}>;


export type SetTypingMutation = { __typename?: 'Mutation', setTyping: { __typename?: 'SetTypingPayload', typing: boolean } };

export type ThreadsQueryVariables = Exact<{
  first?: InputMaybe<Scalars['Int']['input']>;
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type ThreadsQuery = { __typename?: 'Query', threads: { __typename?: 'ThreadConnection', edges: Array<{ __typename?: 'ThreadEdge', node: { __typename?: 'Thread', id: string, title: string, lastMessageAt?: string | null } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor?: string | null } } };

export type ThreadParticipantsQueryVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type ThreadParticipantsQuery = { __typename?: 'Query', thread?: { __typename?: 'Thread', id: string, participants: Array<{ __typename?: 'ThreadParticipant', user?: { __typename?: 'User', id: string, displayName: string, presence: PresenceStatus } | null, agent?: { __typename?: 'Agent', id: string, handle: string, name: string } | null }> } | null };


export const SignUpDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SignUp"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"SignUpInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"signUp"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"accessToken"}},{"kind":"Field","name":{"kind":"Name","value":"refreshToken"}},{"kind":"Field","name":{"kind":"Name","value":"expiresIn"}},{"kind":"Field","name":{"kind":"Name","value":"user"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"email"}}]}}]}}]}}]} as unknown as DocumentNode<SignUpMutation, SignUpMutationVariables>;
export const LogInDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"LogIn"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"LogInInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"logIn"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"accessToken"}},{"kind":"Field","name":{"kind":"Name","value":"refreshToken"}},{"kind":"Field","name":{"kind":"Name","value":"expiresIn"}},{"kind":"Field","name":{"kind":"Name","value":"user"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"email"}}]}}]}}]}}]} as unknown as DocumentNode<LogInMutation, LogInMutationVariables>;
export const RefreshSessionDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RefreshSession"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"RefreshSessionInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"refreshSession"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"accessToken"}},{"kind":"Field","name":{"kind":"Name","value":"refreshToken"}},{"kind":"Field","name":{"kind":"Name","value":"expiresIn"}},{"kind":"Field","name":{"kind":"Name","value":"user"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"email"}}]}}]}}]}}]} as unknown as DocumentNode<RefreshSessionMutation, RefreshSessionMutationVariables>;
export const MeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"email"}}]}}]}}]} as unknown as DocumentNode<MeQuery, MeQueryVariables>;
export const CreateThreadDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateThread"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateThreadInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createThread"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"thread"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}}]}}]}}]}}]} as unknown as DocumentNode<CreateThreadMutation, CreateThreadMutationVariables>;
export const SendMessageDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SendMessage"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"SendMessageInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"sendMessage"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"content"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"agentReplies"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}}]}}]}}]} as unknown as DocumentNode<SendMessageMutation, SendMessageMutationVariables>;
export const ThreadMessagesDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ThreadMessages"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"last"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"before"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"thread"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"messages"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"last"},"value":{"kind":"Variable","name":{"kind":"Name","value":"last"}}},{"kind":"Argument","name":{"kind":"Name","value":"before"},"value":{"kind":"Variable","name":{"kind":"Name","value":"before"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"content"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"author"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"User"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Agent"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"handle"}}]}}]}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasPreviousPage"}},{"kind":"Field","name":{"kind":"Name","value":"startCursor"}}]}}]}}]}}]}}]} as unknown as DocumentNode<ThreadMessagesQuery, ThreadMessagesQueryVariables>;
export const ThreadEventsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"ThreadEvents"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"threadId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"threadEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"threadId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"threadId"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Event"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"occurredAt"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MessageCreatedEvent"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"content"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"author"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"User"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Agent"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"handle"}}]}}]}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MessageEditedEvent"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"content"}},{"kind":"Field","name":{"kind":"Name","value":"editedAt"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"MessageDeletedEvent"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"deletedAt"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ThreadUpdatedEvent"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"title"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ParticipantAddedEvent"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"userId"}},{"kind":"Field","name":{"kind":"Name","value":"agentId"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ParticipantRemovedEvent"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"userId"}},{"kind":"Field","name":{"kind":"Name","value":"agentId"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"TypingEvent"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"userId"}},{"kind":"Field","name":{"kind":"Name","value":"typing"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"AgentReplyDeltaEvent"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"replyId"}},{"kind":"Field","name":{"kind":"Name","value":"attempt"}},{"kind":"Field","name":{"kind":"Name","value":"sequence"}},{"kind":"Field","name":{"kind":"Name","value":"delta"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"AgentReplyCompletedEvent"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"replyId"}},{"kind":"Field","name":{"kind":"Name","value":"message"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"content"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"AgentReplyFailedEvent"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"replyId"}},{"kind":"Field","name":{"kind":"Name","value":"replyStatus"}},{"kind":"Field","name":{"kind":"Name","value":"error"}}]}}]}}]}}]} as unknown as DocumentNode<ThreadEventsSubscription, ThreadEventsSubscriptionVariables>;
export const SetTypingDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SetTyping"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"SetTypingInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"setTyping"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"typing"}}]}}]}}]} as unknown as DocumentNode<SetTypingMutation, SetTypingMutationVariables>;
export const ThreadsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Threads"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"threads"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"lastMessageAt"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]} as unknown as DocumentNode<ThreadsQuery, ThreadsQueryVariables>;
export const ThreadParticipantsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ThreadParticipants"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"thread"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"participants"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"user"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"presence"}}]}},{"kind":"Field","name":{"kind":"Name","value":"agent"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"handle"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}}]}}]}}]} as unknown as DocumentNode<ThreadParticipantsQuery, ThreadParticipantsQueryVariables>;