// A typed client for Orbit, for an app's own front ends (browsers) and
// servers or scripts (Node 20): every operation is typed from
// schema.graphql (src/generated), sessions refresh themselves, and thread
// subscriptions resume behind the last event they delivered.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient, type Client as SocketClient } from 'graphql-ws';

import {
  LogInDocument,
  MeDocument,
  RefreshSessionDocument,
  SignUpDocument,
  ThreadEventsDocument,
  type LogInMutationVariables,
  type SignUpMutationVariables,
  type ThreadEventsSubscription,
} from './generated/graphql.js';

export * from './generated/graphql.js';

/** An Orbit error, as the API reports it: a stable code and the input field at fault. */
export class OrbitError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'OrbitError';
  }
}

/** A signed-in session: what `signUp`, `logIn` and `refreshSession` return. */
export interface Session {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires, in ms since the epoch. */
  expiresAt: number;
  user: { id: string; displayName: string; email?: string | null };
}

export interface OrbitClientOptions {
  /** The server, e.g. `https://orbit.example.com` (no path). */
  url: string;
  /** The app's publishable key: signs users up and in, refreshes sessions. */
  publishableKey: string;
  /** A session kept from before (say, in the app's secure storage). */
  session?: Session;
  /** Told each new session (after sign-in and every refresh), to store it. */
  onSession?: (session: Session | null) => void;
  /** `WebSocket` where the runtime has none (Node: `import WebSocket from 'ws'`). */
  webSocketImpl?: unknown;
  /** `fetch` to use; the global one by default. */
  fetch?: typeof fetch;
}

type ThreadEvent = ThreadEventsSubscription['threadEvents'];

export interface FollowOptions {
  /** Resume behind this cursor (one kept from an earlier run), or follow from now. */
  after?: string | null;
  onEvent: (event: ThreadEvent) => void;
  /** The cursor was too old to resume from: reload the thread, events follow from now. */
  onReload?: () => void;
  /** Following ended for good: `deleted`, `signed out`, or the refusal's code. */
  onEnd?: (reason: string) => void;
}

/** Closes that trying again will not cure (protocol errors, a message too large). */
const FATAL_CLOSES = new Set([4400, 4401, 4409, 4429, 1009]);
/** Refresh this long before the access token expires. */
const REFRESH_EARLY_MS = 30_000;

interface GraphQLErrorShape {
  message: string;
  extensions?: { code?: string; details?: { field?: string } };
}

export class OrbitClient {
  private session: Session | null;
  private refreshing: Promise<Session> | null = null;
  private socket: SocketClient | null = null;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: OrbitClientOptions) {
    this.session = options.session ?? null;
    this.fetchImpl = options.fetch ?? fetch.bind(globalThis);
  }

  /** The signed-in user's session, if any. */
  get currentSession(): Session | null {
    return this.session;
  }

  async signUp(input: SignUpMutationVariables['input']): Promise<Session> {
    const data = await this.execute(SignUpDocument, { input }, this.options.publishableKey);
    return this.keep(data.signUp);
  }

  async logIn(input: LogInMutationVariables['input']): Promise<Session> {
    const data = await this.execute(LogInDocument, { input }, this.options.publishableKey);
    return this.keep(data.logIn);
  }

  /**
   * A new access token from the refresh token. One refresh at a time: two
   * concurrent refreshes with one refresh token count as reuse, and Orbit
   * ends the session.
   */
  refreshSession(): Promise<Session> {
    this.refreshing ??= (async () => {
      const refreshToken = this.session?.refreshToken;
      if (!refreshToken) throw new OrbitError('not signed in', 'UNAUTHENTICATED');
      try {
        const data = await this.execute(
          RefreshSessionDocument,
          { input: { refreshToken } },
          this.options.publishableKey,
        );
        return this.keep(data.refreshSession);
      } catch (error) {
        if (error instanceof OrbitError && error.code === 'UNAUTHENTICATED') this.signOut();
        throw error;
      }
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** Forgets the session and closes the socket. */
  signOut(): void {
    this.session = null;
    this.options.onSession?.(null);
    this.socket?.dispose();
    this.socket = null;
  }

  /** The signed-in user, as the server sees them. */
  async me() {
    return (await this.request(MeDocument, {})).me;
  }

  /**
   * Runs a query or mutation as the signed-in user, refreshing the access
   * token first when it is about to expire, and once more if the server
   * says it has (another tab may have used the refresh token: then the
   * session is over).
   */
  async request<Result, Variables extends Record<string, unknown>>(
    document: TypedDocumentNode<Result, Variables>,
    variables: Variables,
  ): Promise<Result> {
    const token = await this.freshToken();
    try {
      return await this.execute(document, variables, token);
    } catch (error) {
      if (error instanceof OrbitError && error.code === 'UNAUTHENTICATED' && this.session) {
        const renewed = await this.refreshSession();
        return this.execute(document, variables, renewed.accessToken);
      }
      throw error;
    }
  }

  /**
   * Follows a thread's events, resuming behind the last one delivered
   * whenever it must subscribe again (a dropped connection, a server
   * restart, an expired token): nothing is missed or repeated. Returns a
   * function that stops following.
   */
  followThread(threadId: string, options: FollowOptions): () => void {
    let after = options.after ?? null;
    let stopped = false;
    let failures = 0;
    let unsubscribe = () => {};
    const end = (reason: string) => {
      if (stopped) return;
      stopped = true;
      options.onEnd?.(reason);
    };
    const later = () => {
      const delay = Math.min(30_000, 250 * 2 ** failures++) * (0.5 + Math.random());
      setTimeout(() => {
        if (!stopped) start();
      }, delay);
    };
    const start = () => {
      unsubscribe = this.sockets().subscribe<ThreadEventsSubscription>(
        { query: print(ThreadEventsDocument), variables: { threadId, after } },
        {
          next: (result) => {
            const event = result.data?.threadEvents;
            if (!event) return;
            failures = 0;
            // Ephemeral events (deltas, typing) carry no cursor to resume from.
            if (event.cursor) after = event.cursor;
            options.onEvent(event);
          },
          complete: () => end('deleted'),
          error: (error: unknown) => {
            if (stopped) return;
            if (Array.isArray(error)) {
              const first = (error as GraphQLErrorShape[])[0];
              const code = first?.extensions?.code ?? 'INTERNAL';
              if (code === 'BAD_USER_INPUT' && first?.extensions?.details?.field === 'after') {
                after = null;
                options.onReload?.();
                start();
              } else {
                end(code);
              }
              return;
            }
            const close = (error as { code?: number } | null)?.code;
            if (close !== undefined && FATAL_CLOSES.has(close)) return end(`closed ${close}`);
            if (close === 4403) {
              // The token expired or the session ended: renew, then go on.
              this.refreshSession().then(
                () => later(),
                () => end('signed out'),
              );
              return;
            }
            later();
          },
        },
      );
    };
    start();
    return () => {
      stopped = true;
      unsubscribe();
    };
  }

  /**
   * Drops the socket as a network failure would; subscriptions come back
   * on a new one and resume. For tests, and for an app that knows its
   * network changed.
   */
  reconnect(): void {
    const socket = this.socket;
    this.socket = null;
    socket?.terminate();
  }

  private sockets(): SocketClient {
    if (this.socket) return this.socket;
    const url = new URL('/graphql', this.options.url).href.replace(/^http/, 'ws');
    this.socket = createClient({
      url,
      webSocketImpl: this.options.webSocketImpl,
      lazy: true,
      // The subscriptions resume themselves, with their latest cursors.
      retryAttempts: 0,
      // Every connection uses the newest token.
      connectionParams: async () => ({ authorization: `Bearer ${await this.freshToken()}` }),
    });
    return this.socket;
  }

  private async freshToken(): Promise<string> {
    if (!this.session) throw new OrbitError('not signed in', 'UNAUTHENTICATED');
    if (this.session.expiresAt - Date.now() < REFRESH_EARLY_MS) {
      return (await this.refreshSession()).accessToken;
    }
    return this.session.accessToken;
  }

  private keep(payload: {
    accessToken: string;
    refreshToken: string;
    expiresIn: number;
    user: Session['user'];
  }): Session {
    this.session = {
      accessToken: payload.accessToken,
      refreshToken: payload.refreshToken,
      expiresAt: Date.now() + payload.expiresIn * 1000,
      user: payload.user,
    };
    this.options.onSession?.(this.session);
    return this.session;
  }

  private async execute<Result, Variables>(
    document: TypedDocumentNode<Result, Variables>,
    variables: Variables,
    credential: string,
  ): Promise<Result> {
    const response = await this.fetchImpl(new URL('/graphql', this.options.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${credential}` },
      body: JSON.stringify({ query: print(document), variables }),
    });
    let body: { data?: Result | null; errors?: GraphQLErrorShape[] };
    try {
      body = await response.json();
    } catch {
      throw new OrbitError(`HTTP ${response.status}`, response.status === 503 ? 'UNAVAILABLE' : 'INTERNAL');
    }
    const error = body.errors?.[0];
    if (error) {
      throw new OrbitError(
        error.message,
        error.extensions?.code ?? 'INTERNAL',
        error.extensions?.details?.field,
      );
    }
    if (!body.data) throw new OrbitError(`HTTP ${response.status} without data`, 'INTERNAL');
    return body.data;
  }
}
