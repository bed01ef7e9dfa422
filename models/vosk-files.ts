/**
 * What a usable Vosk model folder and libvosk look like, checked without loading them (cheap, main-thread safe).
 * The small English model (vosk-model-small-en-us-0.15, or the same model from the Maven artifact
 * com.alphacephei:vosk-model-en) has a runtime-grammar graph (HCLr.fst + Gr.fst), which the grammar needs.
 */
import fs from 'node:fs';
import path from 'node:path';

export const MODEL_RATE = 16000;

/** files every Vosk nnet3 model needs, with a minimum plausible size in bytes */
const REQUIRED: [string, number][] = [
  ['am/final.mdl', 1_000_000],
  ['conf/model.conf', 10],
  ['conf/mfcc.conf', 10],
];
/** a runtime-grammar graph (small models), or a static one (big models: no grammar support) */
const GRAMMAR_GRAPH: [string, number][] = [
  ['graph/HCLr.fst', 1_000_000],
  ['graph/Gr.fst', 100_000],
];
const STATIC_GRAPH: [string, number][] = [['graph/HCLG.fst', 1_000_000]];

export interface ModelCheck {
  ok: boolean;
  dir: string;
  /** the model supports a runtime grammar (vosk_recognizer_new_grm) */
  grammar: boolean;
  /** human-readable problems ("am/final.mdl missing") */
  problems: string[];
}

export function checkVoskModel(dir: string): ModelCheck {
  const problems: string[] = [];
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(dir);
  } catch {
    /* none */
  }
  if (!st || !st.isDirectory()) return { ok: false, dir, grammar: false, problems: [`${dir} does not exist`] };
  const size = (rel: string): number => {
    try {
      const s = fs.statSync(path.join(dir, rel));
      return s.isFile() ? s.size : -1;
    } catch {
      return -1;
    }
  };
  const verify = (list: [string, number][], out: string[]) => {
    for (const [rel, min] of list) {
      const n = size(rel);
      if (n < 0) out.push(`${rel} missing`);
      else if (n < min) out.push(`${rel} is truncated (${n} bytes)`);
    }
  };
  verify(REQUIRED, problems);
  const g: string[] = [];
  verify(GRAMMAR_GRAPH, g);
  const grammar = g.length === 0;
  if (!grammar) {
    const s: string[] = [];
    verify(STATIC_GRAPH, s);
    if (s.length) problems.push(...g);
  }
  return { ok: problems.length === 0, dir, grammar, problems };
}

/** A fingerprint of the model files + library (sizes and mtimes), to cache a successful load probe. */
export function fingerprint(modelDir: string, libPath: string): string {
  const parts: string[] = [];
  const add = (p: string) => {
    try {
      const s = fs.statSync(p);
      parts.push(`${path.relative(modelDir, p) || p}:${s.size}:${Math.floor(s.mtimeMs)}`);
    } catch {
      parts.push(`${p}:-`);
    }
  };
  add(libPath);
  const walk = (d: string, depth: number) => {
    let names: string[] = [];
    try {
      names = fs.readdirSync(d).sort();
    } catch {
      return;
    }
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const p = path.join(d, n);
      let s: fs.Stats;
      try {
        s = fs.statSync(p);
      } catch {
        continue;
      }
      if (s.isDirectory()) {
        if (depth < 4) walk(p, depth + 1);
      } else add(p);
    }
  };
  walk(modelDir, 0);
  return parts.join('|');
}

/** ELF e_machine per Node arch, and the wheel platform tag that carries libvosk for it */
export const ARCH: Record<string, { machine: number; wheel: string; wheelTag: RegExp } | undefined> = {
  x64: { machine: 62, wheel: 'manylinux2010_x86_64', wheelTag: /x86_64/ },
  arm64: { machine: 183, wheel: 'manylinux2014_aarch64', wheelTag: /aarch64/ },
  arm: { machine: 40, wheel: 'linux_armv7l', wheelTag: /armv7l/ },
};

/** where `whereabouts models` installs libvosk */
export const libvoskFile = (modelsDir: string) => path.join(modelsDir, 'lib', 'libvosk.so');

/** Checks an ELF shared object is built for this CPU. Returns a problem or null. */
export function checkLib(file: string): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return `${file} missing`;
  }
  try {
    const h = Buffer.alloc(20);
    fs.readSync(fd, h, 0, 20, 0);
    if (h.readUInt32BE(0) !== 0x7f454c46) return `${file} is not an ELF library`;
    const want = ARCH[process.arch];
    const machine = h.readUInt16LE(18);
    if (want && machine !== want.machine) return `${file} is built for another CPU (ELF machine ${machine}, this is ${process.arch})`;
    if (fs.fstatSync(fd).size < 1_000_000) return `${file} is truncated`;
    return null;
  } finally {
    fs.closeSync(fd);
  }
}
