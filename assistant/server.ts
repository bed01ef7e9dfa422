/** Starts the server for `whereabouts serve`: load models, build the app, listen, stop cleanly on signals. */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { buildApp } from './app.js';
import { capMallocArenas, fixMmapThreshold } from './malloc.js';

export async function startServer(config: Config): Promise<FastifyInstance> {
  capMallocArenas(config.mallocArenas); // before any worker thread starts
  fixMmapThreshold(); // large buffers (request bodies, images) in their own mappings, unmapped when freed
  const app = await buildApp(config);
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const address = await app.listen({ host: config.host, port: config.port });
  app.log.info(`whereabouts is ready at ${address}/ (store: ${app.store.kind}, data: ${config.dataDir})`);
  if ((await app.store.listUsers()).length === 0)
    app.log.warn('no users yet: add an admin with `whereabouts user add NAME --admin` (or open the web page to set one up)');
  return app;
}
