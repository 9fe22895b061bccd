// Writes docs/api.md: the HTTP API's endpoints and its OpenAPI document, both from the route table
// and TypeBox schemas of src/console/api.ts. A test checks that it is current (make api-docs).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_BODY_BYTES, openApi, routes, type ConsoleBackend } from '../src/console/api.js';

export function apiReference(): string {
  // The table needs no backend: only the routes' shapes are read.
  const table = routes({} as ConsoleBackend);
  return `# HTTP API

Generated from \`src/console/api.ts\` by \`make api-docs\`; do not edit by hand. The daemon serves
the same OpenAPI document at \`/api/v1/openapi.json\`; the console (docs/console.md) is built on
this API.

Where: the daemon's HTTP port (\`http.host\`, \`http.port\`: 127.0.0.1:9789 by default). Bound to
any other address, facegate needs \`http.tls.certFile\` and \`http.tls.keyFile\` and serves HTTPS
only (exit 78 without them).

Who: every endpoint but \`POST /api/v1/login\` and the OpenAPI document needs either

- a session: \`POST /api/v1/login\` with \`{"user", "password"}\` (users made by
  \`facegate console passwd\`) sets an HttpOnly, SameSite=Strict cookie (Secure over HTTPS) for
  \`http.console.sessionHours\` and returns a CSRF token; every request that changes something
  must send it as \`X-CSRF-Token\` (\`GET /api/v1/session\` gives it again). Five failed logins from
  one address within a minute lock that address out for the rest of the minute (429, with
  Retry-After), whatever the password;
- or an API token for scripts: \`Authorization: Bearer <token>\` (made by
  \`facegate console token NAME\`; no CSRF token needed).

Bodies are JSON (\`Content-Type: application/json\`) or, for \`/recognise\`, the image itself
(\`image/jpeg\`, \`image/png\`, \`image/webp\`); anything else is refused (415), as is a body over
${MAX_BODY_BYTES} bytes (413). Ids in paths are checked against their patterns (400). Errors are
\`{"error": "what is wrong"}\`; a refused enrollment (422) adds \`reason\` (\`no_face\`,
\`multiple_faces\`, \`low_quality\`, \`duplicate\`, \`unreadable\`). Every change is written to the audit log
(docs/privacy.md) as \`api:<user>\`; health and metrics (\`/healthz\`, \`/readyz\`, \`/metrics\`) stay
open to 127.0.0.1 and need a token from elsewhere.

| method | path | what |
| --- | --- | --- |
${table.map((r) => `| ${r.method} | \`/api/v1${r.path}\` | ${r.summary} |`).join('\n')}

## OpenAPI document

\`\`\`json
${JSON.stringify(openApi(table), null, 2)}
\`\`\`
`;
}

if (process.argv[1] === import.meta.filename)
  writeFileSync(join(import.meta.dirname, '..', 'docs', 'api.md'), apiReference());
