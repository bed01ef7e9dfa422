/**
 * Settings schemas for every command: one entry per setting gives its flag (`--kebab-case`), its environment
 * variable (`WHEREABOUTS_SNAKE_CASE`), its default, how it is validated and its line of `--help`. Parsing
 * uses node:util `parseArgs` (strict: an unknown flag, a missing value or a stray word is an error).
 * Precedence: default < environment < flag. A value that does not fit says which setting, from where, what
 * was given and what is expected.
 *
 *   const SCHEMA = { port: int(8080, 'port to listen on', { min: 0, max: 65535 }), ... };
 *   type Values = SettingsValues<typeof SCHEMA>;                    // { port: number, ... }
 *   const { values, positionals } = parseSettings(SCHEMA, argv, process.env);
 *   settingsHelp(SCHEMA)                                              // the options table for --help
 */
import { parseArgs } from 'node:util';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Kind = 'string' | 'number' | 'boolean' | 'list';

export interface Setting<T> {
  kind: Kind;
  /** the default, or a function computing it when the settings are read */
  def: T | (() => T);
  help: string;
  /** the environment variable; default WHEREABOUTS_<SNAKE_CASE>; false: a flag only */
  env?: string | false;
  /** older or conventional names read when the main variable is unset (e.g. PORT, DATABASE_URL) */
  alsoEnv?: string[];
  /** a one-letter alias (-h) */
  short?: string;
  /** what the value looks like in the help (N, DIR, URL) */
  placeholder?: string;
  /** turns the checked raw text into the value (e.g. a path made absolute) */
  map?: (v: T) => T;
  /** null when the value is acceptable, otherwise what it must be ("must be at least 1") */
  check?: (v: T) => string | null;
  /** accepted values (shown in the help) */
  choices?: readonly string[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a setting of any value type (functions make Setting invariant)
export type Schema = Record<string, Setting<any>>;
export type SettingsValues<S extends Schema> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

interface NumberRule {
  min?: number;
  max?: number;
  /** whole numbers only */
  integer?: boolean;
}
type Extra<T> = Partial<Omit<Setting<T>, 'kind' | 'def' | 'help'>>;

export const str = (def: string | (() => string), help: string, extra: Extra<string> = {}): Setting<string> => ({ kind: 'string', def, help, ...extra });

export const num = (def: number | (() => number), help: string, rule: NumberRule & Extra<number> = {}): Setting<number> => {
  const { min, max, integer, ...extra } = rule;
  const what = integer ? 'a whole number' : 'a number';
  const range = min !== undefined && max !== undefined ? ` from ${min} to ${max}` : min !== undefined ? ` of at least ${min}` : max !== undefined ? ` of at most ${max}` : '';
  return {
    kind: 'number',
    def,
    help,
    placeholder: 'N',
    ...extra,
    check: (v) => {
      if (!Number.isFinite(v) || (integer && !Number.isInteger(v)) || (min !== undefined && v < min) || (max !== undefined && v > max)) return `must be ${what}${range}`;
      return extra.check?.(v) ?? null;
    },
  };
};

export const int = (def: number | (() => number), help: string, rule: Omit<NumberRule, 'integer'> & Extra<number> = {}) => num(def, help, { ...rule, integer: true });

export const bool = (def: boolean, help: string, extra: Extra<boolean> = {}): Setting<boolean> => ({ kind: 'boolean', def, help, ...extra });

export const choice = (def: string, choices: readonly string[], help: string, extra: Extra<string> = {}): Setting<string> => {
  const listed = choices.join('|');
  return {
    kind: 'string',
    def,
    help: listed.length <= 16 ? help : `${help}: ${choices.join(', ')}`,
    choices,
    placeholder: listed.length <= 16 ? listed : 'WORD',
    ...extra,
    check: (v) => (choices.includes(v) ? (extra.check?.(v) ?? null) : `must be one of ${choices.join(', ')}`),
  };
};

/** a flag that may be given several times; no environment variable */
export const list = (help: string, extra: Extra<string[]> = {}): Setting<string[]> => ({ kind: 'list', def: () => [], help, env: false, ...extra });

export const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
export const envName = (key: string, s: Setting<unknown>): string | null =>
  s.env === false ? null : (s.env ?? 'WHEREABOUTS_' + kebab(key).replace(/-/g, '_').toUpperCase());
/** the flag that sets a boolean to false: --no-x (none for a setting already named no-x) */
const negation = (key: string) => (kebab(key).startsWith('no-') ? null : `no-${kebab(key)}`);

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off)$/i;

function fromText(key: string, s: Setting<unknown>, raw: string, where: string): unknown {
  const bad = (what: string) => new ConfigError(`${kebab(key)} ${what}, got "${raw}" (${where})`);
  if (s.kind === 'number') {
    if (raw.trim() === '' || !Number.isFinite(Number(raw))) throw bad('must be a number');
    return Number(raw);
  }
  if (s.kind === 'boolean') {
    if (TRUE.test(raw)) return true;
    if (FALSE.test(raw)) return false;
    throw bad('must be true or false');
  }
  if (s.kind === 'list') return raw.split(',').filter(Boolean);
  return raw;
}

function finish(key: string, s: Setting<unknown>, value: unknown, where: string): unknown {
  const problem = s.check?.(value as never);
  if (problem) throw new ConfigError(`${kebab(key)} ${problem}, got ${JSON.stringify(value)} (${where})`);
  return s.map ? s.map(value as never) : value;
}

export interface Parsed<S extends Schema> {
  values: SettingsValues<S>;
  /** words that are not flags (a command's arguments) */
  positionals: string[];
  /** where each value came from: 'default', an environment variable's name, or '--flag' */
  sources: Record<keyof S, string>;
}

/**
 * Reads the settings of `schema` from defaults, `env` and `argv`. `positionals`: how many plain words the
 * command takes (default none; Infinity for any number).
 */
export function parseSettings<S extends Schema>(schema: S, argv: readonly string[], env: NodeJS.ProcessEnv = process.env, opts: { positionals?: number } = {}): Parsed<S> {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const [key, s] of Object.entries(schema)) {
    options[kebab(key)] = { type: s.kind === 'boolean' ? 'boolean' : 'string', ...(s.kind === 'list' ? { multiple: true } : {}), ...(s.short ? { short: s.short } : {}) };
    const no = negation(key);
    if (s.kind === 'boolean' && no) options[no] = { type: 'boolean' };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (e) {
    // node's messages name the flag ("Unknown option '--bogus'"); keep them, in our words
    const m = (e as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(m);
    if (unknown) throw new ConfigError(`unknown option ${unknown[1]}`);
    const noValue = /Option '(-\w, )?(--[\w-]+) <value>' argument missing/.exec(m);
    if (noValue) throw new ConfigError(`${noValue[2]} needs a value`);
    const takesNone = /Option '(-\w, )?(--[\w-]+)' does not take an argument/.exec(m);
    if (takesNone) throw new ConfigError(`${takesNone[2]} takes no value (use ${takesNone[2]} or --no-${takesNone[2].slice(2)})`);
    throw new ConfigError(m.split('\n')[0]);
  }
  const max = opts.positionals ?? 0;
  if (parsed.positionals.length > max) throw new ConfigError(`unexpected argument "${parsed.positionals[max]}"`);
  const given = parsed.values as Record<string, string | boolean | string[] | undefined>;

  const values: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  for (const [key, s] of Object.entries(schema)) {
    const flag = kebab(key);
    const no = negation(key);
    let value: unknown;
    let where = 'default';
    if (given[flag] !== undefined || (no && given[no] !== undefined)) {
      where = `--${flag}`;
      // the last of --x / --no-x wins
      if (s.kind === 'boolean') value = no && given[no] !== undefined && argv.lastIndexOf(`--${no}`) > argv.lastIndexOf(`--${flag}`) ? false : given[flag] !== undefined;
      else if (s.kind === 'list') value = given[flag];
      else value = fromText(key, s, given[flag] as string, where);
    } else {
      const name = [envName(key, s), ...(s.alsoEnv ?? [])].find((n) => n && env[n] !== undefined && env[n] !== '');
      if (name) {
        where = name;
        value = fromText(key, s, env[name]!, name);
      } else value = typeof s.def === 'function' ? (s.def as () => unknown)() : s.def;
    }
    values[key] = finish(key, s, value, where);
    sources[key] = where;
  }
  return { values: values as SettingsValues<S>, positionals: parsed.positionals, sources: sources as Record<keyof S, string> };
}

/** Checks values set in code (tests, the bench) against the schema: the same rules as flags. */
export function checkSettings<S extends Schema>(schema: S, values: Partial<SettingsValues<S>>): void {
  for (const [key, v] of Object.entries(values)) {
    const s = schema[key];
    if (!s || v === undefined) continue;
    finish(key, s, v, 'set in code');
  }
}

export interface HelpRow {
  flag: string;
  env: string;
  text: string;
}

/** one row of --help per setting: its flag (and value placeholder), environment variables, meaning and default */
export function helpRows(schema: Schema): HelpRow[] {
  return Object.entries(schema).map(([key, s]) => {
    let flag = `--${kebab(key)}`;
    if (s.kind !== 'boolean') flag += ` ${s.placeholder ?? (s.kind === 'list' ? 'VALUE' : 'TEXT')}`;
    if (s.short) flag = `-${s.short}, ${flag}`;
    const def = typeof s.def === 'function' ? (s.def as () => unknown)() : s.def;
    const shown = s.kind === 'list' ? ' (repeatable)' : def === '' || def === false ? '' : ` (default: ${String(def)})`;
    const env = [envName(key, s), ...(s.alsoEnv ?? [])].filter(Boolean).join(', ');
    return { flag, env, text: `${s.help}${shown}` };
  });
}

/** Lays out groups of rows as aligned tables (one width for all groups). */
export function formatHelp(groups: Array<{ title: string; rows: HelpRow[] }>): string {
  const all = groups.flatMap((g) => g.rows);
  const w = Math.max(...all.map((r) => r.flag.length)) + 2;
  const e = Math.max(0, ...all.map((r) => r.env.length)) + 2;
  return groups.map((g) => `${g.title}\n${g.rows.map((r) => `  ${r.flag.padEnd(w)}${r.env.padEnd(e)}${r.text}`.trimEnd()).join('\n')}`).join('\n\n');
}

/** The options table for --help: flag, environment variable, meaning and default. */
export function settingsHelp(schema: Schema, title = 'options (flag, environment variable, meaning):'): string {
  return formatHelp([{ title, rows: helpRows(schema) }]);
}
