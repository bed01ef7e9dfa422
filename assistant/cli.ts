/**
 * `whereabouts` command line: serve, user, device, models. Errors print one line and exit non-zero.
 */
import readline from 'node:readline';
import { Writable } from 'node:stream';
import type { Config } from './config.js';
import { commandHelp, ConfigError, isCommand, modelsOptions, parseCommand } from './commands.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { AppError } from './errors.js';
import { addDevice, addUser, changePassword, removeUser } from './accounts.js';
import { startServer } from './server.js';
import { printable } from './names.js';

class UsageError extends Error {}

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
    console.log(commandHelp(args[0] && isCommand(args[0]) ? args[0] : undefined));
    return cmd ? 0 : 2;
  }
  if (!isCommand(cmd)) throw new UsageError(`unknown command "${cmd}" (try: whereabouts help)`);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(commandHelp(cmd));
    return 0;
  }
  switch (cmd) {
    case 'serve': {
      const { config } = parseCommand('serve', args);
      await startServer(config);
      return -1; // keeps running
    }
    case 'models': {
      const { config, options: o } = parseCommand('models', args);
      const { runModels } = await import('../models/models.js');
      return runModels(modelsOptions(o), config, (line: string) => console.log(line));
    }
    case 'user': {
      const { config, options: mine, words } = parseCommand('user', args);
      const [sub, name] = words;
      return withStore(config, async (store) => {
        switch (sub) {
          case 'add': {
            if (!name) throw new UsageError('usage: whereabouts user add NAME [--admin]');
            if (await store.getUserByName(name)) throw new AppError('conflict', `a user named "${name}" already exists`);
            const pw = await readPassword(`password for ${name}: `);
            const u = await addUser(store, name, pw, mine.admin);
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
      const { config, options: mine, words } = parseCommand('device', args);
      const [sub, a, b] = words;
      return withStore(config, async (store) => {
        switch (sub) {
          case 'add': {
            if (!a || !b) throw new UsageError('usage: whereabouts device add USER NAME [--room ROOM]');
            const u = await userByName(store, a);
            const { device, token } = await addDevice(store, u.id, b, mine.room || null);
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
