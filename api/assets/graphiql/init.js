// Starts GraphiQL on Orbit's /graphql: queries and mutations over HTTP,
// subscriptions over WebSocket (graphql-transport-ws) at the same path.
//
// The credential is whatever the Headers tab says (`{"Authorization":
// "Bearer …"}`): it goes with each HTTP request and, for subscriptions,
// as the socket's connection_init payload; a socket is opened again when it
// changes. Headers are not kept in the browser's storage unless you tick
// "persist headers"; a page may hand GraphiQL a starting header set through
// sessionStorage['orbit.graphiql.headers'] (never in the URL).
'use strict';

(function () {
  const httpUrl = new URL('/graphql', window.location.href).href;
  const wsUrl = httpUrl.replace(/^http/, 'ws');
  const http = GraphiQL.createFetcher({ url: httpUrl });

  let socket = null;
  let socketAuth = null;
  function socketFor(authorization) {
    if (socket && socketAuth === authorization) return socket;
    if (socket) socket.dispose();
    socketAuth = authorization;
    socket = graphqlWs.createClient({
      url: wsUrl,
      lazy: true,
      connectionParams: authorization ? { authorization } : {},
    });
    return socket;
  }

  function authorizationOf(headers) {
    if (!headers) return null;
    for (const name of Object.keys(headers)) {
      if (name.toLowerCase() === 'authorization') return String(headers[name]);
    }
    return null;
  }

  // From the text that runs, not the editor's parsed document: GraphiQL
  // parses as you type, so that document may be a keystroke behind.
  function isSubscription(params) {
    const text = (params.query || '').replace(/#[^\n\r]*/g, '').replace(/"(?:\\.|[^"\\])*"/g, '""');
    const operations = [...text.matchAll(/(?:^|\})\s*(query|mutation|subscription)\b\s*([_A-Za-z][_0-9A-Za-z]*)?/g)];
    const chosen = params.operationName
      ? operations.find((m) => m[2] === params.operationName)
      : operations[0];
    return Boolean(chosen && chosen[1] === 'subscription');
  }

  function fetcher(params, opts) {
    if (isSubscription(params)) {
      const client = socketFor(authorizationOf(opts && opts.headers));
      return client.iterate({
        query: params.query,
        variables: params.variables,
        operationName: params.operationName,
      });
    }
    return http(params, opts);
  }

  let headers;
  try {
    headers = window.sessionStorage.getItem('orbit.graphiql.headers') || undefined;
  } catch (_) {
    headers = undefined;
  }

  const root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher,
      headers,
      defaultEditorToolsVisibility: headers ? 'headers' : true,
      shouldPersistHeaders: false,
    }),
  );
})();
