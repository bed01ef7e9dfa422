/**
 * `whereabouts-pi`: the Raspberry Pi client. Errors print one line and exit non-zero (1 failure, 2 usage,
 * 3 token refused).
 */
import { parseArgs } from 'node:util';
import { FileSink, FileSource, ArecordSource, NullSink, defaultSpeaker, type AudioSink, type AudioSource } from './audio.js';
import { runCamera } from './camera.js';
import { configPath, loadConfig, type PiConfig } from './config.js';
import { PiError, UsageError, EXIT_USAGE } from './errors.js';
import { runListen, Ui, type ListenMode } from './listen.js';
import { makeLogger, type LogLevel } from './log.js';
import { runCheck, runSetup } from './setup.js';

const USAGE = `usage: whereabouts-pi <command> [options]

  setup --server URL --token TOKEN   write the settings and check the server, token, mic, speaker, camera
        [--config PATH | --system]   (default ~/.config/whereabouts/pi.json; --system: /etc/whereabouts/pi.json)
        [--mic DEV] [--speaker DEV]  ALSA devices (default: ALSA's default), e.g. plughw:1,0
        [--button CHIP:LINE]         a push-to-talk button on a GPIO line, e.g. gpiochip0:17
        [--camera-command CMD] [--interval SECONDS] [--watch DIR] [--spool DIR] [--force]
  check                              the same checks for the existing settings
  listen                             ask by voice
        [--enter | --button | --vad] push-to-talk with Enter, the GPIO button, or hands-free
        [--input FILE [--fast]]      read a WAV (or raw s16le) file instead of the microphone; repeat
                                     --input for more questions (a later file answers a reply that asked back)
        [--output FILE | --no-audio] write the reply's s16le audio to a file, or show text only
        [--once] [--json] [--partials]
  camera                             send camera frames
        [--watch DIR]                upload images that appear in DIR instead of running the camera command
        [--command CMD] [--interval SECONDS] [--once]

common options: --config PATH, --verbose, --quiet`;

const COMMON = {
  config: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parse<T extends Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: false, strict: true }).values as Record<string, string | boolean | string[] | undefined>;
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split('\n')[0]} (whereabouts-pi help lists the options)`);
  }
}

function level(v: Record<string, unknown>): LogLevel {
  return v.verbose ? 'debug' : v.quiet ? 'warn' : 'info';
}

/** setup/check report lines: with --quiet only the lines that report a problem */
function report(v: Record<string, unknown>): (line: string, fine?: boolean) => void {
  return (line, fine) => {
    if (!(v.quiet && fine)) process.stdout.write(line + '\n');
  };
}

function load(v: Record<string, unknown>): { file: string; config: PiConfig } {
  const file = configPath(v.config as string | undefined);
  return { file, config: loadConfig(file) };
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  const say = (l: string) => process.stdout.write(l + '\n');
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      say(USAGE);
      return cmd ? 0 : EXIT_USAGE;
    case 'setup': {
      const v = parse(args, {
        server: { type: 'string' },
        token: { type: 'string' },
        system: { type: 'boolean' },
        mic: { type: 'string' },
        speaker: { type: 'string' },
        button: { type: 'string' },
        'camera-command': { type: 'string' },
        interval: { type: 'string' },
        watch: { type: 'string' },
        spool: { type: 'string' },
        force: { type: 'boolean' },
      });
      if (v.help) return say(USAGE), 0;
      return runSetup(v as never, report(v));
    }
    case 'check': {
      const v = parse(args, {});
      if (v.help) return say(USAGE), 0;
      const { file, config } = load(v);
      return runCheck(file, config, report(v));
    }
    case 'listen': {
      const v = parse(args, {
        enter: { type: 'boolean' },
        button: { type: 'boolean' },
        vad: { type: 'boolean' },
        input: { type: 'string', multiple: true },
        fast: { type: 'boolean' },
        output: { type: 'string' },
        'no-audio': { type: 'boolean' },
        once: { type: 'boolean' },
        json: { type: 'boolean' },
        partials: { type: 'boolean' },
      });
      if (v.help) return say(USAGE), 0;
      const picked = (['enter', 'button', 'vad'] as const).filter((k) => v[k]);
      if (picked.length > 1) throw new UsageError(`pick one of --${picked.join(', --')}`);
      if (v.output && v['no-audio']) throw new UsageError('give --output or --no-audio, not both');
      if (v.fast && !v.input) throw new UsageError('--fast only goes with --input FILE');
      const { config } = load(v);
      const log = makeLogger(level(v));
      const rate = config.mic.sampleRate;
      let mode: ListenMode;
      let source: AudioSource;
      const inputs = ((v.input as string[] | undefined) ?? []).map(String);
      let more: AudioSource[] = [];
      if (inputs.length) {
        if (v.enter || v.button) throw new UsageError('--input streams a file: it goes with --vad or alone');
        if (v.vad && inputs.length > 1) throw new UsageError('--vad takes one --input file');
        const files = inputs.map((f) => new FileSource(f, rate, { fast: !!v.fast, padMs: v.vad ? 1000 : 0 }));
        source = files[0];
        more = files.slice(1);
        mode = v.vad ? 'vad' : 'file';
      } else {
        source = new ArecordSource(config.mic.device, rate, log);
        const configured = config.listen.mode;
        mode = picked[0] ?? (configured !== 'auto' ? configured : config.button ? 'button' : process.stdin.isTTY ? 'enter' : 'vad');
      }
      const sink: AudioSink = v['no-audio'] ? new NullSink() : v.output ? new FileSink(String(v.output)) : defaultSpeaker(config.speaker.device, config.speaker.player, log);
      const ui = new Ui({ json: !!v.json, partials: !!v.partials, out: process.stdout });
      return runListen({ config, log, ui, source, more, sink, mode, once: !!v.once || inputs.length > 0, audio: !v['no-audio'] && config.listen.audio });
    }
    case 'camera': {
      const v = parse(args, {
        watch: { type: 'string' },
        command: { type: 'string' },
        interval: { type: 'string' },
        once: { type: 'boolean' },
      });
      if (v.help) return say(USAGE), 0;
      if (v.watch && v.command) throw new UsageError('give --watch DIR or --command CMD, not both');
      const interval = v.interval !== undefined ? Number(v.interval) : undefined;
      if (interval !== undefined && !(interval > 0)) throw new UsageError('--interval wants a number of seconds, e.g. 10');
      const { config } = load(v);
      const log = makeLogger(level(v));
      return runCamera({
        config,
        log,
        watchDir: (v.watch as string | undefined) ?? null,
        command: (v.command as string | undefined) ?? null,
        intervalSeconds: interval,
        once: !!v.once,
        settleMs: envNumber('WHEREABOUTS_PI_SETTLE_MS'),
        pollMs: envNumber('WHEREABOUTS_PI_POLL_MS'),
      });
    }
    default:
      throw new UsageError(`unknown command "${cmd}" (whereabouts-pi help lists the commands)`);
  }
}

function envNumber(name: string): number | undefined {
  const v = process.env[name];
  return v && Number.isFinite(Number(v)) ? Number(v) : undefined;
}

/** a child process or timer left behind must not keep a finished command alive */
function exitSoon(): void {
  setTimeout(() => process.exit(), 2000).unref();
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    exitSoon();
  },
  (e: unknown) => {
    if (e instanceof PiError) {
      process.stderr.write(`whereabouts-pi: ${e.message}\n`);
      process.exitCode = e.exitCode;
    } else {
      process.stderr.write(`whereabouts-pi: ${(e as Error)?.message ?? String(e)}\n`);
      if (process.env.DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
      process.exitCode = 1;
    }
    exitSoon();
  },
);
