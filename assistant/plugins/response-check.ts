/**
 * Response check (on in the test suite: `WHEREABOUTS_CHECK_RESPONSES=1`, or AppOptions.checkResponses).
 *
 * Fastify serialises a JSON reply through the route's response schema, which writes only the properties the
 * schema names and coerces the rest: a field a handler sends but the schema forgot would silently vanish
 * from the wire. This hook validates every JSON payload against its schema BEFORE serialisation, with every
 * object closed (no property the schema does not name) and formats checked, and turns a mismatch into a 500
 * naming the route, the status and the offending field. It also refuses a JSON reply on a route (or status)
 * that has no response schema. It costs a validation per reply, so production leaves it off.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

type Json = Record<string, unknown>;

const ajv = new Ajv({ strict: false, allErrors: true, coerceTypes: false, useDefaults: false });
addFormats.default(ajv);

/** a copy of the schema with every object closed (additionalProperties: false unless it says otherwise) */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema as Json)) out[k] = k === 'properties' || k === 'patternProperties' ? Object.fromEntries(Object.entries(v as Json).map(([n, s]) => [n, closed(s)])) : closed(v);
  const types = ([] as unknown[]).concat(out.type ?? []);
  if ((out.properties || types.includes('object')) && !('additionalProperties' in out) && !('patternProperties' in out)) out.additionalProperties = false;
  return out;
}

const compiled = new WeakMap<object, ValidateFunction>();
const failed = new WeakSet<FastifyRequest>();

function validatorFor(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(closed(schema) as object);
    compiled.set(schema, v);
  }
  return v;
}

/** the JSON schema for this status: exact, then `2xx`-style, then default; a `content` map gives its JSON entry */
export function responseSchemaFor(response: Record<string, unknown> | undefined, status: number): object | null | undefined {
  if (!response) return undefined;
  const entry = (response[String(status)] ?? response[`${String(status)[0]}xx`] ?? response.default) as Json | undefined;
  if (!entry) return undefined;
  if (entry.content && typeof entry.content === 'object') {
    const json = (entry.content as Json)['application/json'] as { schema?: object } | undefined;
    return json?.schema ?? null;
  }
  return entry;
}

export function checkPayload(request: FastifyRequest, reply: FastifyReply, payload: unknown): void {
  const route = `${request.method} ${request.routeOptions.url ?? request.url}`;
  const response = (request.routeOptions.schema as { response?: Record<string, unknown> } | undefined)?.response;
  const schema = responseSchemaFor(response, reply.statusCode);
  if (!schema) throw new Error(`response check: ${route} answered ${reply.statusCode} with JSON but declares no JSON response schema for it`);
  const validate = validatorFor(schema);
  if (!validate(payload)) {
    const what = (validate.errors ?? [])
      .slice(0, 5)
      .map((e) => `${e.instancePath || '(body)'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` "${String(e.params.additionalProperty)}"` : ''}`)
      .join('; ');
    throw new Error(`response check: ${route} ${reply.statusCode} does not match its response schema: ${what}`);
  }
}

export default fp(
  async function responseCheck(app: FastifyInstance) {
    app.addHook('preSerialization', async (request, reply, payload) => {
      // the not-found handler and routes without a matched route config have no schema to check against
      // the not-found handler has no route; routes hidden from the document (Swagger UI's own) are not the API
      const schema = request.routeOptions.schema as { hide?: boolean } | undefined;
      if (!request.routeOptions.url || schema?.hide) return payload;
      // the error reply for a refused payload is let through, whatever its route declares
      if (failed.has(request)) return payload;
      try {
        checkPayload(request, reply, payload);
      } catch (err) {
        failed.add(request);
        request.log.error({ err }, (err as Error).message);
        throw err;
      }
      return payload;
    });
  },
  { name: 'response-check' },
);
