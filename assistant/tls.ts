/**
 * HTTPS beside plain HTTP, so the page's hold-to-talk works from a phone on the LAN (browsers give the
 * microphone only to https:// pages and to localhost). Pis and curl keep using plain HTTP on --port.
 *
 *   --tls-cert FILE --tls-key FILE   a certificate you have (e.g. from your own CA, or a proxy's)
 *   --tls-self-signed                a self-signed certificate made once with the `openssl` command (no network),
 *                                    kept in <data>/tls/ and remade when this machine's addresses change; the
 *                                    browser asks once to accept it
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { lanAddresses } from './lan.js';

export class TlsError extends Error {}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** where it came from, for the start-up line */
  source: string;
  /** SHA-256 fingerprint, as browsers show it */
  fingerprint: string;
  selfSigned: boolean;
}

function read(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new TlsError(`cannot read the TLS ${what} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

function describe(cert: Buffer, key: Buffer, source: string, selfSigned: boolean): TlsMaterial {
  let x509: crypto.X509Certificate;
  try {
    x509 = new crypto.X509Certificate(cert);
  } catch (e) {
    throw new TlsError(`${source} is not a PEM certificate (${(e as Error).message})`);
  }
  try {
    if (!x509.checkPrivateKey(crypto.createPrivateKey(key))) throw new TlsError(`the TLS key does not belong to the certificate ${source}`);
  } catch (e) {
    if (e instanceof TlsError) throw e;
    throw new TlsError(`the TLS key for ${source} is not a PEM private key (${(e as Error).message})`);
  }
  return { cert, key, source, fingerprint: x509.fingerprint256, selfSigned };
}

/** the names a self-signed certificate covers: localhost, loopback and this machine's LAN addresses */
export function selfSignedNames(addresses = lanAddresses()): string[] {
  return ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1', ...addresses.map((a) => `IP:${a}`)];
}

/** the self-signed certificate in `dir`: reused while it covers `names` and is valid a week more, else made anew */
export function ensureSelfSigned(dir: string, names = selfSignedNames()): TlsMaterial {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
    try {
      const x = new crypto.X509Certificate(fs.readFileSync(certFile));
      const has = new Set((x.subjectAltName ?? '').split(/,\s*/).map((n) => n.replace(/^IP Address:/, 'IP:').replace(/^DNS:/, 'DNS:')));
      const covers = names.every((n) => has.has(n.replace(/^IP:::1$/, 'IP:0:0:0:0:0:0:0:1')) || has.has(n));
      if (covers && Date.parse(x.validTo) > Date.now() + 7 * 86_400_000) return describe(fs.readFileSync(certFile), fs.readFileSync(keyFile), certFile, true);
    } catch {
      /* unreadable: make a new one */
    }
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmpKey = `${keyFile}.${process.pid}.tmp`;
  const tmpCert = `${certFile}.${process.pid}.tmp`;
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', tmpKey, '-out', tmpCert, '-days', '825', '-subj', '/CN=whereabouts',
        '-addext', `subjectAltName=${names.join(',')}`,
        '-addext', 'extendedKeyUsage=serverAuth',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 },
    );
  } catch (e) {
    fs.rmSync(tmpKey, { force: true });
    fs.rmSync(tmpCert, { force: true });
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new TlsError('--tls-self-signed needs the openssl command (sudo apt install openssl), or give --tls-cert and --tls-key');
    throw new TlsError(`openssl could not make a certificate: ${String(err.stderr ?? err.message).trim().split('\n').pop()}`);
  }
  fs.chmodSync(tmpKey, 0o600);
  fs.renameSync(tmpKey, keyFile);
  fs.renameSync(tmpCert, certFile);
  return describe(fs.readFileSync(certFile), fs.readFileSync(keyFile), certFile, true);
}

/** the certificate the settings ask for, or null for plain HTTP only */
export function loadTls(config: Config): TlsMaterial | null {
  if (config.tlsCert || config.tlsKey) {
    if (!config.tlsCert || !config.tlsKey) throw new TlsError('give both --tls-cert and --tls-key');
    return describe(read(config.tlsCert, 'certificate'), read(config.tlsKey, 'key'), config.tlsCert, false);
  }
  if (config.tlsSelfSigned) return ensureSelfSigned(path.join(config.dataDir, 'tls'));
  return null;
}

/**
 * Serves the same app over HTTPS on `port`: requests and WebSocket upgrades go to the app's own handlers, so
 * every route, hook and the voice socket behave alike on both listeners. The caller closes it before the app.
 */
export async function listenTls(app: FastifyInstance, tls: TlsMaterial, host: string, port: number): Promise<https.Server> {
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => app.routing(req, res));
  server.on('upgrade', (req, socket, head) => app.server.emit('upgrade', req, socket, head));
  // the same limits as the HTTP listener
  server.requestTimeout = app.server.requestTimeout;
  server.headersTimeout = app.server.headersTimeout;
  server.keepAliveTimeout = app.server.keepAliveTimeout;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
