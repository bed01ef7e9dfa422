/**
 * glibc gives every thread that contends for the heap an arena of its own (up to 8 per core), and worker
 * threads (inference, speech) each leave one behind: tens of MB of resident memory that nothing uses.
 * Capping the arenas (what MALLOC_ARENA_MAX does) keeps the server's memory flat. Called once at start-up,
 * before the worker threads exist; a no-op off glibc or when the environment already chose.
 */
import koffi from 'koffi';

const M_ARENA_MAX = -8;

export function capMallocArenas(arenas: number): boolean {
  if (process.platform !== 'linux' || process.env.MALLOC_ARENA_MAX || !(arenas > 0)) return false;
  try {
    const libc = koffi.load('libc.so.6');
    const mallopt = libc.func('int mallopt(int param, int value)');
    return mallopt(M_ARENA_MAX, Math.floor(arenas)) === 1;
  } catch {
    return false; // not glibc (musl, ...): nothing to cap
  }
}
