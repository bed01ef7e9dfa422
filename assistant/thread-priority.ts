import os from 'node:os';

/**
 * Lowers the calling thread's priority to `nice` (Linux only: there setpriority on thread id 0 affects the
 * calling thread alone, and threads it starts afterwards, onnxruntime's pool among them, inherit it; elsewhere
 * it would lower the whole server, so nothing is done). For worker threads whose work may wait: inference
 * that should yield the CPU to the event loop or to the speech recognisers. False when nothing was changed.
 */
export function niceThisThread(nice: number): boolean {
  if (!(nice > 0) || process.platform !== 'linux') return false;
  try {
    os.setPriority(0, nice);
    return true;
  } catch {
    return false; // not allowed: run at normal priority
  }
}
