/**
 * A push-to-talk button on a GPIO line, watched by libgpiod's `gpiomon` in a child process (no native
 * addon). Works with libgpiod 1.6 (Raspberry Pi OS Bookworm: `gpiomon -b -B pull-up -F %e gpiochip0 17`,
 * %e is 0 falling / 1 rising) and 2.x (`gpiomon -c gpiochip0 -b pull-up -F %e 17`, %e is 1 rising / 2 falling).
 * Emits 'press' and 'release'; with activeLow (a button to ground and a pull-up) pressing is a falling edge.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import readline from 'node:readline';
import type { ButtonConfig } from './config.js';
import { PiError } from './errors.js';
import { gpiomonVersion, lastLine, which } from './system.js';

export function gpiomonCommand(major: number, b: ButtonConfig): { cmd: string; args: string[] } {
  if (major >= 2) {
    const args = ['-c', b.chip, ...(b.bias !== 'as-is' ? ['-b', b.bias] : []), '-p', '10ms', '-F', '%e', String(b.line)];
    // libgpiod 2 has no --line-buffered: make its stdout line-buffered from outside
    return which('stdbuf') ? { cmd: 'stdbuf', args: ['-oL', 'gpiomon', ...args] } : { cmd: 'gpiomon', args };
  }
  return { cmd: 'gpiomon', args: ['-b', ...(b.bias !== 'as-is' ? ['-B', b.bias] : []), '-F', '%e', b.chip, String(b.line)] };
}

/** one line of gpiomon output (format %e) -> the edge, or null */
export function parseEdge(line: string, major: number): 'rising' | 'falling' | null {
  const t = line.trim();
  if (major >= 2) return t === '1' ? 'rising' : t === '2' ? 'falling' : null;
  return t === '1' ? 'rising' : t === '0' ? 'falling' : null;
}

export class GpioButton extends EventEmitter {
  private proc: ChildProcess | null = null;
  private pressed = false;
  private stopping = false;

  constructor(readonly cfg: ButtonConfig) {
    super();
  }

  get label(): string {
    return `${this.cfg.chip} line ${this.cfg.line}`;
  }

  /** starts gpiomon; rejects with a one-line PiError when it is missing or cannot watch the line */
  async start(): Promise<void> {
    const v = await gpiomonVersion();
    if (!v) throw new PiError('button: gpiomon is not installed (sudo apt install gpiod)');
    const { cmd, args } = gpiomonCommand(v.major, this.cfg);
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    let stderr = '';
    p.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    const rl = readline.createInterface({ input: p.stdout! });
    rl.on('line', (line) => {
      const edge = parseEdge(line, v.major);
      if (!edge) return;
      const down = this.cfg.activeLow ? edge === 'falling' : edge === 'rising';
      if (down === this.pressed) return; // a bounce
      this.pressed = down;
      this.emit(down ? 'press' : 'release');
    });
    let started = false;
    await new Promise<void>((resolve, reject) => {
      // gpiomon prints nothing when it starts: give it a moment to fail
      const t = setTimeout(() => {
        started = true;
        resolve();
      }, 300);
      const fail = (why: string) => {
        clearTimeout(t);
        reject(new PiError(`button: gpiomon cannot watch ${this.label} (${why})`));
      };
      p.once('error', (e) => fail(e.message));
      p.once('exit', (code, signal) => {
        if (this.stopping) return;
        const why = lastLine(stderr) || `exit ${code ?? signal}`;
        const hint = /permission/i.test(why) ? '; add the user to the gpio group' : '';
        const err = new PiError(`button: gpiomon cannot watch ${this.label} (${why}${hint})`);
        clearTimeout(t);
        if (started) this.emit('error', err);
        else reject(err);
      });
    });
  }

  stop(): void {
    this.stopping = true;
    this.proc?.kill();
    this.proc = null;
  }
}
