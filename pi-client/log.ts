/**
 * Log lines go to stderr (journald adds the time stamps under systemd); `--verbose` adds debug lines and
 * `--quiet` keeps only warnings and errors. Each line is one complete message.
 */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function makeLogger(level: LogLevel = 'info', write: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const at = ORDER[level];
  const out = (l: LogLevel, prefix: string) => (msg: string) => {
    if (ORDER[l] >= at) write(prefix + msg);
  };
  return { debug: out('debug', 'debug: '), info: out('info', ''), warn: out('warn', 'warning: '), error: out('error', 'error: ') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
