/** Starts the server for `whereabouts serve`: load models, build the app, listen, stop cleanly on signals. */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { buildApp } from './app.js';
import { capMallocArenas, fixMmapThreshold } from './malloc.js';
import { reachableUrls } from './lan.js';
import { listenTls, loadTls } from './tls.js';

export async function startServer(config: Config): Promise<FastifyInstance> {
  capMallocArenas(config.mallocArenas); // before any worker thread starts
  fixMmapThreshold(); // large buffers (request bodies, images) in their own mappings, unmapped when freed
  const tls = loadTls(config); // a bad certificate stops the start before the models load
  const app = await buildApp(config);
  let tlsServer: Awaited<ReturnType<typeof listenTls>> | null = null;
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    if (tlsServer) {
      tlsServer.closeAllConnections();
      tlsServer.close();
    }
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const address = await app.listen({ host: config.host, port: config.port });
  const addr = app.server.address();
  const port = addr && typeof addr === 'object' ? addr.port : config.port;
  const reach = reachableUrls(config.host, port);
  app.log.info(`whereabouts is ready at ${reach.local}/ (store: ${app.store.kind}, data: ${config.dataDir})`);
  if (reach.loopbackOnly)
    app.log.info(`only this machine can reach it (--host ${config.host}); for a Pi or a phone on your network: --host 0.0.0.0`);
  else if (reach.lan.length) app.log.info(`on your network: ${reach.lan.map((u) => `${u}/`).join('  ')}`);
  else app.log.warn(`listening on ${address}, but this machine has no network address other machines could use`);
  if (tls) {
    tlsServer = await listenTls(app, tls, config.host, config.tlsPort);
    const t = reachableUrls(config.host, config.tlsPort, 'https');
    app.log.info(
      `HTTPS (${tls.selfSigned ? 'self-signed certificate: the browser asks once to accept it' : `certificate ${tls.source}`}; SHA-256 ${tls.fingerprint}): ${[t.local, ...t.lan].map((u) => `${u}/`).join('  ')}`,
    );
  }
  if ((await app.store.listUsers()).length === 0)
    app.log.warn('no users yet: add an admin with `whereabouts user add NAME --admin` (or open the web page to set one up)');
  return app;
}
