/**
 * Keeping the server's resident memory honest under glibc.
 *
 * - Arenas: glibc gives every thread that contends for the heap an arena of its own (up to 8 per core), and
 *   worker threads (inference, speech) each leave one behind: tens of MB of resident memory that nothing
 *   uses. Capping the arenas (what MALLOC_ARENA_MAX does) keeps the server's memory flat.
 * - The mmap threshold: glibc raises it each time a large block is freed (up to 32 MB), after which
 *   request bodies and image buffers come from the heap instead of their own mappings, and a burst of
 *   uploads leaves the heap fragmented and resident long after. A fixed threshold keeps large buffers in
 *   mappings that are unmapped when freed.
 * - After a burst, `collectGarbage()` + `trimMalloc()` (plugins/bodies.ts calls them) free the buffers the
 *   JavaScript heap still points at and hand the freed heap pages back to the system.
 *
 * Called once at start-up, before the worker threads exist; each is a no-op off glibc or when the
 * environment already chose (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import koffi from 'koffi';

const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
const M_ARENA_MAX = -8;

let libc: { mallopt: (p: number, v: number) => number; trim: (pad: number) => number } | null | undefined;

function glibc() {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== 'linux') return libc;
  try {
    const lib = koffi.load('libc.so.6');
    const mallopt = lib.func('int mallopt(int param, int value)');
    const trim = lib.func('int malloc_trim(size_t pad)');
    libc = { mallopt: (p, v) => mallopt(p, v) as number, trim: (pad) => trim(pad) as number };
  } catch {
    libc = null; // not glibc (musl, ...)
  }
  return libc;
}

export function capMallocArenas(arenas: number): boolean {
  if (process.env.MALLOC_ARENA_MAX || !(arenas > 0)) return false;
  const c = glibc();
  return !!c && c.mallopt(M_ARENA_MAX, Math.floor(arenas)) === 1;
}

/** a fixed mmap threshold (bytes) and trim threshold: large buffers live in their own mappings */
export function fixMmapThreshold(bytes = 256 * 1024): boolean {
  if (process.env.MALLOC_MMAP_THRESHOLD_ || process.env.MALLOC_TRIM_THRESHOLD_) return false;
  const c = glibc();
  if (!c) return false;
  return c.mallopt(M_MMAP_THRESHOLD, bytes) === 1 && c.mallopt(M_TRIM_THRESHOLD, 4 * bytes) === 1;
}

/** hands freed heap pages back to the system (every arena); false off glibc */
export function trimMalloc(): boolean {
  const c = glibc();
  if (!c) return false;
  c.trim(0);
  return true;
}

let gc: (() => void) | null | undefined;

/** a full garbage collection (frees the large buffers the JavaScript heap still references); false if unavailable */
export function collectGarbage(): boolean {
  if (gc === undefined) {
    gc = (globalThis as { gc?: () => void }).gc ?? null;
    if (!gc) {
      try {
        v8.setFlagsFromString('--expose-gc');
        gc = vm.runInNewContext('gc') as () => void;
      } catch {
        gc = null;
      }
    }
  }
  if (!gc) return false;
  gc();
  return true;
}
