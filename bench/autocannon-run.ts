/**
 * autocannon in its own process, driven through its API so that requests carry different bodies (the
 * command-line autocannon sends one fixed body). The bodies are split into one slice per connection and each
 * connection cycles through its own slice, pre-built: together they rotate through every body, and each body
 * is built once (a per-request setupRequest, or every connection building the whole list, costs the generator
 * several times its CPU on the cores the server needs). Prints one line `ACJSON {...}`: autocannon's result
 * plus how many requests were sent and how many distinct bodies they carried.
 *
 *   node dist/bench/autocannon-run.js SPEC.json    (SPEC: { url, method, headers, bodies, connections, seconds })
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';

interface Spec {
  url: string;
  method: string;
  headers: Record<string, string>;
  bodies: string[];
  connections: number;
  seconds: number;
}

interface Request {
  method: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

type Autocannon = (opts: Record<string, unknown>, done: (err: Error | null, result: unknown) => void) => unknown;

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')) as Spec;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const n = spec.bodies.length;
/** per connection: its slice of the bodies, and how many requests it sent */
const clients: Array<{ from: number; to: number; sent: number }> = [];

interface Client {
  setRequests(r: Request[]): void;
  on(event: 'request', fn: () => void): void;
}
function setupClient(client: Client) {
  const k = clients.length;
  const me = { from: Math.floor((k * n) / spec.connections), to: Math.floor(((k + 1) * n) / spec.connections), sent: 0 };
  if (me.to <= me.from) me.to = Math.min(n, me.from + 1); // more connections than bodies: one each
  clients.push(me);
  client.setRequests(spec.bodies.slice(me.from, me.to).map((body) => ({ method: spec.method, body })));
  client.on('request', () => me.sent++);
}

/** distinct bodies sent: the union of what each connection got through of its slice */
function distinct(): number {
  const hit = new Uint8Array(n);
  for (const c of clients) for (let i = c.from; i < Math.min(c.to, c.from + c.sent); i++) hit[i] = 1;
  return hit.reduce((a, b) => a + b, 0);
}

autocannon(
  {
    url: spec.url,
    method: spec.method,
    headers: spec.headers,
    connections: spec.connections,
    duration: spec.seconds,
    timeout: 10,
    ...(n ? { body: spec.bodies[0], setupClient } : {}),
  },
  (err, result) => {
    if (err) {
      process.stderr.write(`autocannon: ${err.message}\n`);
      process.exit(1);
    }
    const sent = clients.reduce((a, c) => a + c.sent, 0);
    process.stdout.write(`ACJSON ${JSON.stringify({ ...(result as object), sent, distinct: distinct() })}\n`);
  },
);
