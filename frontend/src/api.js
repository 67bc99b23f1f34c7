// The one way this page reads data: the public GraphQL API, with the caller's token.
import { createClient } from "graphql-ws";
import { chosenLanguage } from "./i18n.js";

const KEY = "satreps.token";

export function getToken() {
  return sessionStorage.getItem(KEY) || "";
}

export function setToken(token) {
  if (token) sessionStorage.setItem(KEY, token);
  else sessionStorage.removeItem(KEY);
}

export class GraphQLError extends Error {}

export async function gql(query, variables = {}) {
  // the data in the language chosen with the page's switch (titles, names), as the labels
  const headers = {
    "content-type": "application/json",
    accept: "application/json",
    "accept-language": chosenLanguage(),
  };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
    credentials: "omit",
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new GraphQLError(`HTTP ${response.status}`);
  }
  if (body.errors && body.errors.length) {
    throw new GraphQLError(body.errors.map((e) => e.message).join("; "));
  }
  if (!response.ok) throw new GraphQLError(`HTTP ${response.status}`);
  return body.data;
}

/** Every node of a connection field, page by page (the API caps a page at 100). */
export async function allNodes(query, path, variables = {}) {
  const nodes = [];
  let after = null;
  for (;;) {
    const data = await gql(query, { ...variables, after });
    const connection = data[path];
    for (const edge of connection.edges) nodes.push(edge.node);
    if (!connection.pageInfo.hasNextPage) return nodes;
    after = connection.pageInfo.endCursor;
  }
}

let wsClient = null;

function ws() {
  if (!wsClient) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    wsClient = createClient({
      url: `${scheme}//${location.host}/graphql`,
      lazy: true,
      retryAttempts: 5,
      connectionParams: () => {
        const token = getToken();
        return token ? { Authorization: `Bearer ${token}` } : {};
      },
    });
  }
  return wsClient;
}

/** Subscribe (graphql-transport-ws); returns the function that ends it. */
export function subscribe(query, variables, onData, onError) {
  return ws().subscribe(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) onError(new GraphQLError(result.errors.map((e) => e.message).join("; ")));
        else onData(result.data);
      },
      error: (error) => onError(error instanceof Error ? error : new GraphQLError(String(error?.reason || error))),
      complete: () => {},
    },
  );
}

/** A new token: subscriptions reconnect with it. */
export function resetSubscriptions() {
  if (wsClient) wsClient.dispose();
  wsClient = null;
}
