/**
 * Where the server can be reached from: the addresses of this machine's network interfaces that other machines
 * on the home network can use (a Pi, a phone), for the start-up lines and the admin page's setup line.
 */
import os from 'node:os';

export interface Reach {
  /** http(s)://host:port for this machine itself */
  local: string;
  /** one URL per LAN address; empty when the server listens on loopback only (or the machine has no LAN) */
  lan: string[];
  /** listening on a loopback address: nothing but this machine can connect */
  loopbackOnly: boolean;
}

const isLoopback = (host: string) => /^(127\.|::1$|localhost$|\[::1\]$)/i.test(host);
const isAny = (host: string) => host === '0.0.0.0' || host === '::' || host === '' || host === '[::]';

function hostPart(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** the machine's non-internal IPv4 addresses (then IPv6 global ones), in a stable order */
export function lanAddresses(interfaces = os.networkInterfaces()): string[] {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const list of Object.values(interfaces))
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv4') v4.push(a.address);
      // link-local (fe80::) needs a zone index in a URL; leave it out
      else if (a.family === 'IPv6' && !/^fe80:/i.test(a.address)) v6.push(a.address);
    }
  return [...new Set([...v4, ...v6])];
}

/** the URLs a server listening on `host:port` can be reached at */
export function reachableUrls(host: string, port: number, protocol: 'http' | 'https' = 'http', interfaces = os.networkInterfaces()): Reach {
  if (isLoopback(host)) return { local: `${protocol}://${hostPart(host === 'localhost' ? '127.0.0.1' : host.replace(/^\[|\]$/g, ''))}:${port}`, lan: [], loopbackOnly: true };
  if (isAny(host)) {
    const lan = lanAddresses(interfaces).filter((a) => host !== '0.0.0.0' || !a.includes(':'));
    return { local: `${protocol}://127.0.0.1:${port}`, lan: lan.map((a) => `${protocol}://${hostPart(a)}:${port}`), loopbackOnly: false };
  }
  // one specific address (or a name): that is where everyone reaches it
  const url = `${protocol}://${hostPart(host.replace(/^\[|\]$/g, ''))}:${port}`;
  return { local: url, lan: [url], loopbackOnly: false };
}

/**
 * The address to give a Pi in the setup line, seen from a request to `requestHost` (the page's own address):
 * the page's address when another machine can use it, else the first LAN address, else (loopback only) the
 * loopback address with a note saying what to change.
 */
export function setupAddress(requestProtocol: string, requestHost: string, reach: Reach): { url: string; note: string | null } {
  const hostname = requestHost.replace(/:\d+$/, '');
  if (!isLoopback(hostname)) return { url: `${requestProtocol}://${requestHost}`, note: null };
  if (reach.lan.length) return { url: reach.lan[0], note: null };
  return {
    url: reach.local,
    note: reach.loopbackOnly
      ? 'The server listens only on this machine (127.0.0.1), so a Pi cannot reach it: restart it with --host 0.0.0.0 (WHEREABOUTS_HOST=0.0.0.0) and use this machine’s network address.'
      : 'This machine has no network address a Pi could use: connect it to your home network.',
  };
}
