// Runs graphql-http's GraphQL-over-HTTP audit suite against a server and prints the
// results as one JSON array: [{id, name, status, reason}] (status: ok, warn or error).
// Usage: node audit.mjs http://127.0.0.1:8000/graphql
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql url>');
  process.exit(2);
}
const results = await auditServer({ url });
const out = [];
for (const result of results) {
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') entry.reason = result.reason;
  out.push(entry);
}
process.stdout.write(JSON.stringify(out));
