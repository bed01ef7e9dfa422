/** Runs the real command-line programs from dist/. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO } from './tmp.js';
export { freePort } from './net.js';
import { freePort } from './net.js';

export const CLI = path.join(REPO, 'dist', 'assistant', 'cli.js');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(args: string[], opts: { input?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? REPO, env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    p.stdin.end(opts.input ?? '');
  });
}


/** starts `whereabouts serve` as a child process and waits until it answers /healthz */
export async function serve(args: string[], env: Record<string, string> = {}): Promise<{ proc: ChildProcess; url: string; port: number; logs: () => string; stop(): Promise<void> }> {
  const port = args.includes('--port') ? Number(args[args.indexOf('--port') + 1]) : await freePort();
  const full = args.includes('--port') ? args : [...args, '--port', String(port)];
  const proc = spawn(process.execPath, [CLI, 'serve', ...full], { cwd: REPO, env: { ...process.env, ...env } });
  let logs = '';
  proc.stdout!.on('data', (d) => (logs += d));
  proc.stderr!.on('data', (d) => (logs += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited (${proc.exitCode}): ${logs}`);
    try {
      const r = await fetch(url + '/healthz');
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`server did not start: ${logs}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    url,
    port,
    logs: () => logs,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
