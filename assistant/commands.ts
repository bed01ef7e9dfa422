/**
 * The `whereabouts` commands' arguments: each command's own flags are a settings schema in the same form as
 * the server's (assistant/config.ts), parsed together with them by node:util parseArgs, and `--help` is
 * generated from both. cli.ts runs the commands.
 */
import path from 'node:path';
import type { ModelsCommandOptions } from '../models/models.js';
import { loadConfig, SETTINGS, type Config } from './config.js';
import { bool, ConfigError, formatHelp, helpRows, parseSettings, str, type Schema, type SettingsValues } from './settings.js';

const help = { help: bool(false, 'show this help', { short: 'h', env: false }) };

/** `whereabouts models` flags (with the server settings that say which models: --models-dir, --vision-model ...) */
export const MODELS_FLAGS = {
  from: str('', 'copy the model files from DIR (or this file) instead of downloading them', { placeholder: 'DIR|FILE', env: false }),
  offline: bool(false, 'never download (copy from --from only)', { env: false }),
  check: bool(false, 'only verify; exit 1 when a model is missing or damaged', { env: false }),
  checkOnlyIfPresent: bool(false, 'verify the models that are present; a missing one is only reported', { env: false }),
  mirror: str('', 'download from URL/<file name> instead of the official address', { placeholder: 'URL', env: 'WHEREABOUTS_MODELS_MIRROR' }),
};

interface Command {
  /** the usage lines: arguments and what the command does */
  usage: [string, string][];
  own: Schema;
  /** how many plain words the command takes */
  words: number;
}

export const COMMANDS = {
  serve: { usage: [['serve', 'start the server (options below)']], own: {}, words: 0 },
  models: { usage: [['models [--from DIR] [--check] [--offline] [--mirror URL]', 'make sure the model files are present and valid']], own: MODELS_FLAGS, words: 0 },
  user: {
    usage: [
      ['user add NAME [--admin]', 'add a user (password from stdin or a prompt)'],
      ['user list', 'list users'],
      ['user remove NAME', 'remove a user and all their devices and sightings'],
      ['user passwd NAME', "set a user's password (ends their sessions)"],
    ],
    own: { admin: bool(false, 'user add: make the user an administrator', { env: false }) },
    words: 2,
  },
  device: {
    usage: [
      ['device add USER NAME [--room ROOM]', "register a device; prints its token once"],
      ['device list [USER]', 'list devices'],
      ['device revoke ID', "revoke a device's token"],
    ],
    own: { room: str('', 'device add: the room the device is in', { placeholder: 'ROOM', env: false }) },
    words: 3,
  },
} satisfies Record<string, Command>;

export type CommandName = keyof typeof COMMANDS;
type Own<K extends CommandName> = SettingsValues<(typeof COMMANDS)[K]['own']>;

export interface ParsedCommand<K extends CommandName> {
  config: Config;
  /** the command's own flags */
  options: Own<K>;
  /** its plain words (e.g. ['add', 'ann']) */
  words: string[];
  help: boolean;
}

export const isCommand = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name);

/** Parses a command's arguments (after the command word); throws ConfigError with one clear line. */
export function parseCommand<K extends CommandName>(name: K, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedCommand<K> {
  const cmd: Command = COMMANDS[name];
  const { values, positionals } = parseSettings({ ...SETTINGS, ...cmd.own, ...help }, argv, env, { positionals: cmd.words });
  const all = values as Record<string, unknown>;
  const pick = (schema: Schema) => Object.fromEntries(Object.keys(schema).map((k) => [k, all[k]]));
  return {
    config: loadConfig([], {}, pick(SETTINGS) as Partial<Config>),
    options: pick(cmd.own) as Own<K>,
    words: positionals,
    help: all.help === true,
  };
}

/** `whereabouts models` flags as the models command takes them */
export function modelsOptions(o: Own<'models'>): ModelsCommandOptions {
  return { from: o.from ? path.resolve(o.from) : null, offline: o.offline, check: o.check || o.checkOnlyIfPresent, onlyIfPresent: o.checkOnlyIfPresent, mirror: o.mirror || null };
}

/** `whereabouts help` (all commands) or `whereabouts CMD --help` (one command, with its own flags). */
export function commandHelp(name?: CommandName): string {
  const cmds = name ? [COMMANDS[name] as Command] : Object.values(COMMANDS as Record<string, Command>);
  const usage = cmds.flatMap((c) => c.usage);
  const w = Math.max(...usage.map(([a]) => a.length)) + 2;
  const groups = cmds
    .filter((c) => Object.keys(c.own).length)
    .map((c) => ({ title: `options of ${c.usage[0][0].split(' ')[0]}:`, rows: helpRows(c.own) }));
  groups.push({ title: 'options (flag, environment variable, meaning):', rows: helpRows({ ...SETTINGS, ...help }) });
  return `usage: whereabouts <command> [options]\n\ncommands:\n${usage.map(([a, b]) => `  ${a.padEnd(w)}${b}`).join('\n')}\n\n${formatHelp(groups)}`;
}

export { ConfigError };
