/**
 * A throwaway PostgreSQL server for tests: initdb in a temporary folder, `pg_ctl start` on a free loopback
 * port with its socket in that folder, no system service involved. As root it runs everything through
 * `runuser -u postgres --` (PostgreSQL refuses to run as root; Debian's package makes the `postgres` user).
 *
 * The whole run shares one server (test/global-setup.ts exports its URL as WHEREABOUTS_TEST_PG_URL); tests that
 * stop and restart PostgreSQL start a private one with `startPostgres()`.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './net.js';

export const PG_URL_ENV = 'WHEREABOUTS_TEST_PG_URL';
/** set by the global setup when no server could be started: the reason */
export const PG_MISSING_ENV = 'WHEREABOUTS_TEST_PG_MISSING';

export const inCI = (): boolean => /^(1|true|yes)$/i.test(process.env.CI ?? '');

/** the folder holding initdb/pg_ctl/postgres: $WHEREABOUTS_PG_BIN ('none': pretend there is none), else the newest /usr/lib/postgresql/N/bin, else PATH */
export function findPgBin(): string | null {
  const cands: string[] = [];
  if (process.env.WHEREABOUTS_PG_BIN === 'none') return null; // to try the no-PostgreSQL paths
  if (process.env.WHEREABOUTS_PG_BIN) cands.push(process.env.WHEREABOUTS_PG_BIN);
  try {
    const versions = fs
      .readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) cands.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    /* not Debian-style */
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir) cands.push(dir);
  for (const dir of cands) {
    const ok = ['initdb', 'pg_ctl', 'postgres'].every((b) => {
      try {
        fs.accessSync(path.join(dir, b), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (ok) return fs.realpathSync(dir);
  }
  return null;
}


interface RunAs {
  uid: number;
  gid: number;
  /** the command prefix that runs a program as that user */
  prefix: string[];
}

/** as root: the postgres user (runuser); otherwise: ourselves */
function runAs(): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  let uid: number;
  let gid: number;
  try {
    uid = id('-u');
    gid = id('-g');
  } catch {
    throw new Error('running as root and there is no "postgres" user to run PostgreSQL as (apt-get install postgresql creates it)');
  }
  return { uid, gid, prefix: ['runuser', '-u', 'postgres', '--'] };
}

export interface PgServer {
  /** superuser URL of the maintenance database */
  url: string;
  port: number;
  dir: string;
  bin: string;
  /** `pg_ctl stop` (fast: aborts transactions, closes connections; immediate: no shutdown checkpoint, crash recovery on start) */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** `pg_ctl start` again on the same port and data (waits until it accepts connections) */
  start(): Promise<void>;
  /** stops it and removes the folder */
  destroy(): void;
  /** a fresh empty database; returns its URL */
  createDatabase(prefix?: string): Promise<string>;
  log(): string;
}

let dbCounter = 0;

/** CREATE DATABASE <prefix>_<pid>_<n> on the server behind adminUrl; returns the new database's URL */
export async function createDatabase(adminUrl: string, prefix = 'wa_test'): Promise<string> {
  const name = `${prefix}_${process.pid}_${++dbCounter}_${Math.random().toString(36).slice(2, 7)}`;
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(adminUrl);
  u.pathname = '/' + name;
  return u.toString();
}

export async function startPostgres(opts: { port?: number } = {}): Promise<PgServer> {
  const bin = findPgBin();
  if (!bin) throw new Error('PostgreSQL binaries not found (apt-get install postgresql, or set WHEREABOUTS_PG_BIN)');
  const who = runAs();
  // as root the folder must be reachable by the postgres user: /tmp rather than a TMPDIR that may be private
  const base = who ? process.env.WHEREABOUTS_PG_TMP || '/tmp' : os.tmpdir();
  const dir = fs.mkdtempSync(path.join(base, 'wa-pg-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  if (who) fs.chownSync(dir, who.uid, who.gid);
  let port = opts.port ?? (await freePort());

  const exec = (prog: string, args: string[], timeoutMs = 60_000) => {
    const argv = [...(who?.prefix ?? []), path.join(bin, prog), ...args];
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: timeoutMs, cwd: dir, env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
    if (r.status !== 0) {
      const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n') : '';
      throw new Error(`${prog} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}\n${tail}`);
    }
    return r.stdout;
  };
  // the same without blocking the event loop (tests that keep load running while PostgreSQL stops)
  const execAsync = (prog: string, args: string[], timeoutMs = 60_000) =>
    new Promise<void>((resolve, reject) => {
      const argv = [...(who?.prefix ?? []), path.join(bin, prog), ...args];
      execFile(argv[0], argv.slice(1), { timeout: timeoutMs, cwd: dir, env: { ...process.env, LC_ALL: 'C', LANG: 'C' } }, (err, stdout, stderr) =>
        err ? reject(new Error(`${prog} ${args.join(' ')} failed: ${stderr || stdout || err.message}`)) : resolve(),
      );
    });

  exec('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
  // settings for a disposable test server: loopback only, socket in our folder, no fsync (the OS keeps the
  // data across a PostgreSQL stop/kill; only a machine crash would lose it, which tests do not do)
  const conf = [
    `port = ${port}`,
    `listen_addresses = '127.0.0.1'`,
    `unix_socket_directories = '${dir}'`,
    `fsync = off`,
    `full_page_writes = off`,
    `max_connections = 200`,
    `shared_buffers = 64MB`,
    `logging_collector = off`,
    `log_min_messages = warning`,
  ];
  fs.appendFileSync(path.join(data, 'postgresql.conf'), '\n# whereabouts tests\n' + conf.join('\n') + '\n');

  const startArgs = ['-D', data, '-l', logFile, '-w', '-t', '60', 'start'];
  const stopArgs = (mode: string) => ['-D', data, '-m', mode, '-w', '-t', '60', 'stop'];
  // the free port may be taken between our probe and the server's bind: then try another
  for (let attempt = 1; ; attempt++) {
    try {
      exec('pg_ctl', startArgs);
      break;
    } catch (e) {
      if (attempt >= 3 || opts.port || !/already in use|could not (bind|create listen)/i.test(String((e as Error).message))) throw e;
      port = await freePort();
      fs.appendFileSync(path.join(data, 'postgresql.conf'), `port = ${port}\n`);
    }
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let destroyed = false;
  return {
    url,
    port,
    dir,
    bin,
    stop: (mode = 'fast') => execAsync('pg_ctl', stopArgs(mode)),
    start: () => execAsync('pg_ctl', startArgs),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        exec('pg_ctl', stopArgs('immediate'));
      } catch {
        /* already stopped */
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
    createDatabase: (prefix?: string) => createDatabase(url, prefix),
    log: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : ''),
  };
}

/** the shared server's URL from the global setup, or null (with the reason in pgMissingReason()) */
export function sharedPgUrl(): string | null {
  return process.env[PG_URL_ENV] || null;
}

export function pgMissingReason(): string {
  return process.env[PG_MISSING_ENV] || (findPgBin() ? 'the PostgreSQL test server was not started (is test/global-setup.ts in vitest.config.ts?)' : 'PostgreSQL binaries not found');
}
