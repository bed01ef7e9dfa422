/**
 * One settings schema for every command (assistant/settings.ts, config.ts, commands.ts, bench/run.ts): flags
 * through node:util parseArgs, WHEREABOUTS_* environment variables, defaults, validation with errors that
 * name the setting and where the value came from, and generated help.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, SETTINGS } from '../dist/assistant/config.js';
import { commandHelp, COMMANDS, modelsOptions, parseCommand } from '../dist/assistant/commands.js';
import { bool, choice, int, list, num, parseSettings, settingsHelp, str } from '../dist/assistant/settings.js';
import { REPO } from './helpers/tmp.js';

describe('server settings', () => {
  it('take defaults, then WHEREABOUTS_* variables, then flags', () => {
    expect(loadConfig([], {}).port).toBe(8080);
    expect(loadConfig([], { WHEREABOUTS_PORT: '9000' }).port).toBe(9000);
    expect(loadConfig(['--port', '9100'], { WHEREABOUTS_PORT: '9000' }).port).toBe(9100);
    expect(loadConfig(['--port=9200']).port).toBe(9200);
    // conventional names, below the product's own
    expect(loadConfig([], { PORT: '7000' }).port).toBe(7000);
    expect(loadConfig([], { PORT: '7000', WHEREABOUTS_PORT: '7100' }).port).toBe(7100);
    expect(loadConfig([], { DATABASE_URL: 'postgres://x/y' }).database).toBe('postgres://x/y');
    // paths become absolute
    expect(loadConfig(['--data-dir', 'rel/dir']).dataDir).toBe(path.resolve('rel/dir'));
  });

  it('read booleans as flags, negated flags and true/false words', () => {
    expect(loadConfig([]).secureCookies).toBe(false);
    expect(loadConfig(['--secure-cookies']).secureCookies).toBe(true);
    expect(loadConfig(['--secure-cookies', '--no-secure-cookies']).secureCookies).toBe(false);
    expect(loadConfig(['--no-secure-cookies', '--secure-cookies']).secureCookies).toBe(true);
    expect(loadConfig([], { WHEREABOUTS_SECURE_COOKIES: 'yes' }).secureCookies).toBe(true);
    expect(loadConfig(['--no-secure-cookies'], { WHEREABOUTS_SECURE_COOKIES: 'yes' }).secureCookies).toBe(false);
    expect(loadConfig(['--no-models']).noModels).toBe(true);
    expect(loadConfig([], { WHEREABOUTS_NO_MODELS: '1' }).noModels).toBe(true);
  });

  it('refuse bad values with one line naming the setting, the value and where it came from', () => {
    const bad: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['--port', 'eighty'], {}, /^port must be a number, got "eighty" \(--port\)$/],
      [['--port', '70000'], {}, /^port must be a whole number from 0 to 65535, got 70000 \(--port\)$/],
      [[], { WHEREABOUTS_PORT: '1.5' }, /^port must be a whole number .* \(WHEREABOUTS_PORT\)$/],
      [[], { WHEREABOUTS_CONF_THRESHOLD: '2' }, /^conf-threshold must be a number from 0 to 1, got 2 \(WHEREABOUTS_CONF_THRESHOLD\)$/],
      [['--vision-workers', '0'], {}, /^vision-workers must be a whole number from 1 to 64/],
      [['--asr-engine', 'pocketsphinx'], {}, /^asr-engine must be one of vosk, none, got "pocketsphinx"/],
      [['--log-level', 'loud'], {}, /^log-level must be one of fatal, error/],
      [['--time-zone', 'Mars/Olympus'], {}, /^time-zone must be an IANA time zone/],
      [['--database', 'mysql://x'], {}, /^database must be empty, postgres:\/\/\.\.\. or sqlite:FILE/],
      [[], { WHEREABOUTS_SECURE_COOKIES: 'maybe' }, /^secure-cookies must be true or false, got "maybe" \(WHEREABOUTS_SECURE_COOKIES\)$/],
      [['--bogus'], {}, /^unknown option --bogus$/],
      [['--port'], {}, /^--port needs a value$/],
      [['--secure-cookies=false'], {}, /^--secure-cookies takes no value/],
      [['stray'], {}, /^unexpected argument "stray"$/],
    ];
    for (const [flags, env, re] of bad) expect(() => loadConfig(flags, env), `${flags.join(' ')} ${JSON.stringify(env)}`).toThrow(re);
  });

  it('check values set in code by the same rules', () => {
    expect(() => loadConfig([], {}, { port: -1 })).toThrow(/^port must be a whole number from 0 to 65535, got -1 \(set in code\)$/);
    expect(loadConfig([], {}, { port: 0 }).port).toBe(0);
  });

  it('document every setting in the help, with its flag and environment variable', () => {
    const help = commandHelp();
    for (const key of Object.keys(SETTINGS)) {
      const flag = `--${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
      expect(help, key).toContain(flag);
      expect(help, key).toContain(`WHEREABOUTS_${flag.slice(2).replace(/-/g, '_').toUpperCase()}`);
    }
    for (const name of Object.keys(COMMANDS)) expect(help).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  });
});

describe('commands', () => {
  it('parse their own flags and words alongside the server settings', () => {
    const u = parseCommand('user', ['add', 'ann', '--admin', '--data-dir', '/tmp/x'], {});
    expect(u.words).toEqual(['add', 'ann']);
    expect(u.options).toEqual({ admin: true });
    expect(u.config.dataDir).toBe('/tmp/x');
    const d = parseCommand('device', ['add', 'ann', 'cam', '--room', 'hall'], { WHEREABOUTS_DATA_DIR: '/tmp/y' });
    expect(d).toMatchObject({ words: ['add', 'ann', 'cam'], options: { room: 'hall' }, config: { dataDir: '/tmp/y' } });
    expect(() => parseCommand('user', ['add', 'ann', 'extra'], {})).toThrow(/^unexpected argument "extra"$/);
    expect(() => parseCommand('serve', ['--admin'], {})).toThrow(/^unknown option --admin$/);
  });

  it('give the models command its options, the mirror also from the environment', () => {
    const m = parseCommand('models', ['--check-only-if-present', '--from', 'rel', '--models-dir', '/m'], { WHEREABOUTS_MODELS_MIRROR: 'http://mirror' });
    expect(modelsOptions(m.options)).toEqual({ check: true, onlyIfPresent: true, offline: false, from: path.resolve('rel'), mirror: 'http://mirror' });
    expect(m.config.modelsDir).toBe('/m');
    expect(modelsOptions(parseCommand('models', [], {}).options)).toEqual({ check: false, onlyIfPresent: false, offline: false, from: null, mirror: null });
    expect(commandHelp('models')).toMatch(/--check-only-if-present[\s\S]*WHEREABOUTS_MODELS_MIRROR/);
  });
});

describe('a new setting is one schema entry', () => {
  const schema = {
    maxWidgets: int(4, 'how many widgets', { min: 1 }),
    widgetColour: choice('red', ['red', 'blue'], 'widget colour'),
    ratio: num(0.5, 'a ratio', { min: 0, max: 1 }),
    greeting: str('hi', 'what to say', { check: (v) => (v.length > 10 ? 'must be at most 10 characters' : null) }),
    loud: bool(false, 'shout'),
    tag: list('a tag'),
  };

  it('gets its flag, environment variable, default, validation and help line', () => {
    expect(parseSettings(schema, [], {}).values).toEqual({ maxWidgets: 4, widgetColour: 'red', ratio: 0.5, greeting: 'hi', loud: false, tag: [] });
    const p = parseSettings(schema, ['--widget-colour', 'blue', '--tag', 'a', '--tag=b', '--loud'], { WHEREABOUTS_MAX_WIDGETS: '7' });
    expect(p.values).toMatchObject({ maxWidgets: 7, widgetColour: 'blue', tag: ['a', 'b'], loud: true });
    expect(p.sources).toMatchObject({ maxWidgets: 'WHEREABOUTS_MAX_WIDGETS', widgetColour: '--widget-colour', ratio: 'default' });
    expect(() => parseSettings(schema, ['--max-widgets', '0'], {})).toThrow(/^max-widgets must be a whole number of at least 1, got 0 \(--max-widgets\)$/);
    expect(() => parseSettings(schema, ['--greeting', 'hello there world'], {})).toThrow(/^greeting must be at most 10 characters/);
    expect(() => parseSettings(schema, [], { WHEREABOUTS_TAG: 'x' })).not.toThrow(); // lists are flags only
    const help = settingsHelp(schema);
    expect(help).toMatch(/--max-widgets N +WHEREABOUTS_MAX_WIDGETS +how many widgets \(default: 4\)/);
    expect(help).toMatch(/--widget-colour red\|blue/);
    expect(help).toMatch(/--tag VALUE +a tag \(repeatable\)/);
  });
});

describe('the bench', () => {
  it('takes its options from the same kind of schema: a bad one is one line and exit code 2', () => {
    const r = spawnSync(process.execPath, [path.join(REPO, 'dist', 'bench', 'run.js'), '--only', 'text,sound'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('bench: only must list sections from voice, text, frames, lookup, recognition, endpoint, pi-vad, tts, got "text,sound" (--only)');
  });
});
