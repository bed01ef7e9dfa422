/**
 * `whereabouts` command line: serve, user, device, models. Errors print one line and exit non-zero.
 */
import readline from 'node:readline';
import { Writable } from 'node:stream';
import { loadConfig, settingsHelp, ConfigError, type Config } from './config.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { AppError } from './errors.js';
import { addDevice, addUser, changePassword, removeUser } from './accounts.js';
import { startServer } from './server.js';
import { printable } from './names.js';

const USAGE = `usage: whereabouts <command> [options]

commands:
  serve                                 start the server (see options below)
  models [--from DIR] [--check] [--offline] [--mirror URL]
                                        make sure the model files are present and valid
  user add NAME [--admin]               add a user (password from stdin or a prompt)
  user list                             list users
  user remove NAME                      remove a user and all their devices and sightings
  user passwd NAME                      set a user's password (ends their sessions)
  device add USER NAME [--room ROOM]    register a device; prints its token once
  device list [USER]                    list devices
  device revoke ID                      revoke a device's token

options (flag, environment variable, meaning):
${settingsHelp()}`;

class UsageError extends Error {}

/** splits command words from --flags; `own` names the flags the command itself takes (with a value or not) */
function split(args: string[], own: Record<string, 'flag' | 'value'>) {
  const words: string[] = [];
  const mine: Record<string, string | true> = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const name = a.startsWith('--') ? a.slice(2).split('=')[0] : null;
    if (name && own[name]) {
      if (own[name] === 'flag') mine[name] = true;
      else {
        const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
        if (v === undefined) throw new UsageError(`--${name} needs a value`);
        mine[name] = v;
      }
    } else if (name) {
      rest.push(a);
      if (!a.includes('=') && args[i + 1] !== undefined && !args[i + 1].startsWith('--') && !/^--no-/.test(a) && a !== '--no-models') rest.push(args[++i]);
    } else words.push(a);
  }
  return { words, mine, rest };
}

async function readPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    const line = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
    if (!line) throw new UsageError('no password on standard input');
    return line;
  }
  const ask = (q: string) =>
    new Promise<string>((resolve) => {
      let muted = false;
      const out = new Writable({
        write(chunk, _enc, cb) {
          if (!muted) process.stderr.write(chunk);
          cb();
        },
      });
      const rl = readline.createInterface({ input: process.stdin, output: out, terminal: true });
      rl.question(q, (a) => {
        rl.close();
        process.stderr.write('\n');
        resolve(a);
      });
      muted = true;
    });
  const a = await ask(prompt);
  const b = await ask('again: ');
  if (a !== b) throw new UsageError('the passwords do not match');
  return a;
}

async function withStore<T>(config: Config, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore(config);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function userByName(store: Store, name: string) {
  const u = await store.getUserByName(name);
  if (!u) throw new AppError('not_found', `no user named "${name}"`);
  return u;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  switch (cmd) {
    case 'serve': {
      if (args.includes('--help')) {
        console.log(USAGE);
        return 0;
      }
      const config = loadConfig(args);
      await startServer(config);
      return -1; // keeps running
    }
    case 'models': {
      const own = { from: 'value', mirror: 'value', check: 'flag', 'check-only-if-present': 'flag', offline: 'flag' } as const;
      const { words, mine, rest } = split(args, own);
      if (words.length) throw new UsageError(`unexpected argument "${words[0]}"`);
      const config = loadConfig(rest);
      const { runModelsCommand } = await import('../models/models.js');
      const passOn = Object.entries(mine).flatMap(([k, v]) => (v === true ? [`--${k}`] : [`--${k}`, v]));
      return runModelsCommand(passOn, config, (line: string) => console.log(line));
    }
    case 'user': {
      const { words, mine, rest } = split(args, { admin: 'flag' });
      const config = loadConfig(rest);
      const [sub, name, extra] = words;
      if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
      return withStore(config, async (store) => {
        switch (sub) {
          case 'add': {
            if (!name) throw new UsageError('usage: whereabouts user add NAME [--admin]');
            if (await store.getUserByName(name)) throw new AppError('conflict', `a user named "${name}" already exists`);
            const pw = await readPassword(`password for ${name}: `);
            const u = await addUser(store, name, pw, !!mine.admin);
            console.log(`added user ${u.name}${u.isAdmin ? ' (admin)' : ''}, id ${u.id}`);
            return 0;
          }
          case 'list': {
            const users = await store.listUsers();
            if (!users.length) console.log('no users yet: add one with `whereabouts user add NAME --admin`');
            for (const u of users) console.log(`${String(u.id).padStart(4)}  ${printable(u.name)}${u.isAdmin ? '  (admin)' : ''}`);
            return 0;
          }
          case 'remove': {
            if (!name) throw new UsageError('usage: whereabouts user remove NAME');
            const u = await userByName(store, name);
            await removeUser(store, u.id);
            console.log(`removed user ${u.name} with their devices and sightings`);
            return 0;
          }
          case 'passwd': {
            if (!name) throw new UsageError('usage: whereabouts user passwd NAME');
            const u = await userByName(store, name);
            await changePassword(store, u.id, await readPassword(`new password for ${u.name}: `));
            console.log(`password changed for ${u.name}; their sessions have ended`);
            return 0;
          }
          default:
            throw new UsageError('usage: whereabouts user add|list|remove|passwd ...');
        }
      });
    }
    case 'device': {
      const { words, mine, rest } = split(args, { room: 'value' });
      const config = loadConfig(rest);
      const [sub, a, b, extra] = words;
      if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
      return withStore(config, async (store) => {
        switch (sub) {
          case 'add': {
            if (!a || !b) throw new UsageError('usage: whereabouts device add USER NAME [--room ROOM]');
            const u = await userByName(store, a);
            const { device, token } = await addDevice(store, u.id, b, typeof mine.room === 'string' ? mine.room : null);
            console.error(`added device ${printable(device.name)} (id ${device.id}) for ${u.name}${device.room ? ` in the ${device.room}` : ''}; its token is shown only now:`);
            console.log(token);
            return 0;
          }
          case 'list': {
            if (b !== undefined) throw new UsageError(`unexpected argument "${b}"`);
            const owner = a ? await userByName(store, a) : null;
            const users = new Map((await store.listUsers()).map((u) => [u.id, u.name]));
            const devices = await store.listDevices(owner?.id);
            if (!devices.length) console.log('no devices');
            for (const d of devices)
              console.log(
                // names stored before control characters were refused are shown escaped, never raw
                `${String(d.id).padStart(4)}  ${printable(users.get(d.userId) ?? '?')}  ${printable(d.name)}${d.room ? `  [${printable(d.room)}]` : ''}` +
                  `${d.revokedAt ? '  revoked' : ''}  last seen ${d.lastSeenAt ? new Date(d.lastSeenAt).toISOString() : 'never'}`,
              );
            return 0;
          }
          case 'revoke': {
            const id = Number(a);
            if (!a || !Number.isInteger(id) || id < 1 || b !== undefined) throw new UsageError('usage: whereabouts device revoke ID');
            if (!(await store.getDevice(id))) throw new AppError('not_found', `no device with id ${id}`);
            if (!(await store.revokeDevice(id, Date.now()))) console.log(`device ${id} was already revoked`);
            else console.log(`revoked device ${id}`);
            return 0;
          }
          default:
            throw new UsageError('usage: whereabouts device add|list|revoke ...');
        }
      });
    }
    default:
      throw new UsageError(`unknown command "${cmd}" (try: whereabouts help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`whereabouts: ${msg}\n`);
    process.exitCode = err instanceof UsageError || err instanceof ConfigError ? 2 : 1;
  },
);
