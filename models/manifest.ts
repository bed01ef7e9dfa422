/**
 * models/manifest.json: the models the product knows by name (file, accepted checksums, download URL, how to
 * feed and decode them). `resolveVisionModel` turns config.visionModel — a manifest name or a path to a user
 * .onnx file — into everything the detector needs, and checks the file's structure so that a missing,
 * truncated or wrong file is a clear start-up error (ModelError) rather than a crash inside the runtime.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ModelError } from './errors.js';
import { MANIFEST_FILE } from './paths.js';
import { formatDims, OnnxFormatError, readOnnxInfo, type OnnxInfo } from './onnx.js';

export type DetectorFormat = 'yolox' | 'ultralytics';
export type ChannelOrder = 'bgr' | 'rgb';
export type LetterboxAlign = 'top-left' | 'center';

export interface ManifestModel {
  name: string;
  /** 'detection' (more kinds may follow, e.g. a speech model) */
  kind: string;
  description?: string;
  /** file name inside config.modelsDir */
  file: string;
  /** official download */
  url: string;
  /** a copy kept in the repository, relative to the manifest's folder (installed without any network access) */
  bundled?: string;
  /** accepted sha256 digests (lower-case hex) */
  sha256: string[];
  /** size of the official download, bytes */
  bytes: number;
  format: DetectorFormat;
  /** model input [width, height] */
  input: [number, number];
  /** expected output shape */
  output?: number[];
  channels: ChannelOrder;
  /** pixel multiplier: 1 feeds raw 0..255, 1/255 feeds 0..1 */
  scale: number;
  letterbox: LetterboxAlign;
  pad: number;
  /** YOLOX grid strides */
  strides?: number[];
  labels: string[];
  licence: string;
  homepage?: string;
  notes?: string;
}

export interface Manifest {
  version: number;
  models: ManifestModel[];
}

export { ModelError };

/** Which detection model to use: the `vision-model`, `vision-labels` and `models-dir` settings. */
export interface VisionModelOptions {
  /** a manifest name (e.g. yolox_nano) or a path to a user .onnx file */
  visionModel: string;
  /** labels file (one per line) for a user model without `names` metadata; '' for none */
  visionLabels: string;
  /** where manifest models are installed */
  modelsDir: string;
}

/** Everything the detector needs about the active detection model. */
export interface VisionModel {
  name: string;
  /** absolute path of the .onnx file */
  path: string;
  source: 'manifest' | 'file';
  format: DetectorFormat;
  input: [number, number];
  channels: ChannelOrder;
  scale: number;
  letterbox: LetterboxAlign;
  pad: number;
  strides: number[];
  labels: string[];
  /** output shape the decoder expects */
  output: number[];
  entry?: ManifestModel;
}

/** models/manifest.json of the installed package */
export function manifestPath(): string {
  return MANIFEST_FILE;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Checks a parsed manifest; throws ModelError listing every problem. */
export function validateManifest(raw: unknown, where = 'manifest'): Manifest {
  const problems: string[] = [];
  const m = raw as Manifest;
  if (!m || typeof m !== 'object' || !Array.isArray(m.models)) throw new ModelError(`${where}: expected {"version", "models": [...]}`);
  const names = new Set<string>();
  m.models.forEach((e, i) => {
    const at = `${where}: models[${i}]${e && typeof e.name === 'string' ? ` (${e.name})` : ''}`;
    const bad = (what: string) => problems.push(`${at}: ${what}`);
    if (!e || typeof e !== 'object') return bad('not an object');
    if (typeof e.name !== 'string' || !/^[\w.-]+$/.test(e.name)) bad('name must be a word');
    else if (names.has(e.name)) bad('duplicate name');
    else names.add(e.name);
    if (typeof e.kind !== 'string') bad('kind missing');
    if (typeof e.file !== 'string' || e.file === '' || path.basename(e.file) !== e.file) bad('file must be a plain file name');
    if (typeof e.url !== 'string' || !/^https?:\/\//.test(e.url)) bad('url must be http(s)');
    if (e.bundled !== undefined && (typeof e.bundled !== 'string' || !/^[\w.-]+(\/[\w.-]+)*$/.test(e.bundled) || e.bundled.split('/').includes('..')))
      bad('bundled must be a relative path inside the models folder');
    if (!Array.isArray(e.sha256) || e.sha256.length === 0 || !e.sha256.every((h) => typeof h === 'string' && SHA256.test(h))) bad('sha256 must be a non-empty list of lower-case hex digests');
    if (!Number.isInteger(e.bytes) || e.bytes <= 0) bad('bytes must be a positive integer');
    if (typeof e.licence !== 'string' || e.licence === '') bad('licence missing');
    if (e.kind !== 'detection') return;
    if (e.format !== 'yolox' && e.format !== 'ultralytics') bad(`format must be yolox or ultralytics, got ${JSON.stringify(e.format)}`);
    if (!Array.isArray(e.input) || e.input.length !== 2 || !e.input.every((n) => Number.isInteger(n) && n > 0 && n % 32 === 0)) bad('input must be [width, height], multiples of 32');
    if (e.channels !== 'bgr' && e.channels !== 'rgb') bad('channels must be bgr or rgb');
    if (typeof e.scale !== 'number' || !(e.scale > 0)) bad('scale must be a positive number');
    if (e.letterbox !== 'top-left' && e.letterbox !== 'center') bad('letterbox must be top-left or center');
    if (!Number.isInteger(e.pad) || e.pad < 0 || e.pad > 255) bad('pad must be 0..255');
    if (e.strides !== undefined && (!Array.isArray(e.strides) || !e.strides.every((s) => Number.isInteger(s) && s > 0))) bad('strides must be positive integers');
    if (!Array.isArray(e.labels) || e.labels.length === 0 || !e.labels.every((l) => typeof l === 'string' && l !== '')) bad('labels must be a non-empty list of strings');
    if (e.output !== undefined && Array.isArray(e.labels) && Array.isArray(e.input)) {
      const want = expectedOutput(e.format, e.input, e.labels.length, e.strides ?? [8, 16, 32]);
      if (formatDims(want) !== formatDims(e.output)) bad(`output ${formatDims(e.output)} does not match input, labels and format (expected ${formatDims(want)})`);
    }
  });
  if (problems.length) throw new ModelError(problems.join('\n'));
  return m;
}

let cached: { file: string; manifest: Manifest } | null = null;

/** Loads and validates the manifest (cached per file). */
export function loadManifest(file = manifestPath()): Manifest {
  if (cached && cached.file === file) return cached.manifest;
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ModelError(`cannot read the model manifest ${file}: ${(e as Error).message}`, { cause: e });
  }
  const manifest = validateManifest(raw, file);
  cached = { file, manifest };
  return manifest;
}

export function findModel(manifest: Manifest, name: string): ManifestModel | undefined {
  return manifest.models.find((m) => m.name === name);
}

/** A visionModel value is a path (not a manifest name) when it names an .onnx file or holds a separator. */
export function isModelPath(value: string): boolean {
  return /\.onnx$/i.test(value) || value.includes('/') || value.includes(path.sep);
}

/** Ultralytics `names` metadata ("{0: 'keys', 1: 'wallet'}", or JSON) -> labels by index; null if unparsable. */
export function parseNamesMetadata(s: string | undefined): string[] | null {
  if (!s) return null;
  const text = s.trim();
  try {
    const j = JSON.parse(text) as unknown;
    if (Array.isArray(j) && j.every((x) => typeof x === 'string')) return j.length ? (j as string[]) : null;
  } catch {
    /* not JSON: the Python dict form */
  }
  const out: string[] = [];
  const re = /(\d+)\s*:\s*(?:'((?:\\.|[^'\\])*)'|"((?:\\.|[^"\\])*)")/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const raw = m[2] ?? m[3] ?? '';
    out[Number(m[1])] = raw.replace(/\\(.)/g, '$1');
  }
  if (out.length === 0) return null;
  for (let i = 0; i < out.length; i++) if (out[i] === undefined) return null;
  return out;
}

/** Ultralytics `imgsz` metadata "[640, 640]" (height, width) -> [width, height] */
function parseImgsz(s: string | undefined): [number, number] | null {
  const m = s?.match(/^\s*\[\s*(\d+)\s*,\s*(\d+)\s*\]\s*$/);
  return m ? [Number(m[2]), Number(m[1])] : null;
}

export function yoloxAnchors(input: readonly number[], strides: readonly number[]): number {
  return strides.reduce((n, s) => n + Math.floor(input[0] / s) * Math.floor(input[1] / s), 0);
}

/** The output shape a decoder expects: YOLOX [1, anchors, 5 + C]; Ultralytics [1, 4 + C, anchors]. */
export function expectedOutput(format: DetectorFormat, input: readonly number[], classes: number, strides: readonly number[] = [8, 16, 32]): number[] {
  const anchors = yoloxAnchors(input, strides);
  return format === 'yolox' ? [1, anchors, 5 + classes] : [1, 4 + classes, anchors];
}

/** Guesses the format from a [1, a, b] output and the number of classes. */
export function detectFormat(outputDims: ReadonlyArray<number | string>, classes: number): DetectorFormat | null {
  if (outputDims.length !== 3) return null;
  const [, a, b] = outputDims;
  if (a === 4 + classes && (typeof b !== 'number' || b > a)) return 'ultralytics';
  if (b === 5 + classes) return 'yolox';
  return null;
}

function dimsFit(actual: ReadonlyArray<number | string>, want: readonly number[]): boolean {
  return actual.length === want.length && actual.every((d, i) => typeof d === 'string' || d === -1 || d === want[i]);
}

/** Compares a model file's graph with what the decoder expects; returns what is wrong, or null. */
export function checkModelShape(model: Pick<VisionModel, 'input' | 'output'>, info: OnnxInfo): string | null {
  const input = info.inputs[0];
  const out = info.outputs[0];
  const wantIn = [1, 3, model.input[1], model.input[0]];
  if (info.inputs.length !== 1) return `it has ${info.inputs.length} inputs, expected 1`;
  if (input.elemType !== 1) return `its input "${input.name}" is not float32`;
  if (!dimsFit(input.dims, wantIn)) return `its input "${input.name}" is ${formatDims(input.dims)}, expected ${formatDims(wantIn)}`;
  if (out.elemType !== 1) return `its output "${out.name}" is not float32`;
  if (!dimsFit(out.dims, model.output)) return `its output "${out.name}" is ${formatDims(out.dims)}, expected ${formatDims(model.output)}`;
  return null;
}

async function readOnnxOrExplain(file: string, what: string, hint: string): Promise<OnnxInfo> {
  let st: fs.Stats;
  try {
    st = await fsp.stat(file);
  } catch {
    throw new ModelError(`${what}: the model file ${file} is missing. ${hint}`);
  }
  if (!st.isFile()) throw new ModelError(`${what}: ${file} is not a file. ${hint}`);
  try {
    return await readOnnxInfo(file);
  } catch (e) {
    const why = e instanceof OnnxFormatError ? e.message.replace(`${file}: `, '') : (e as Error).message;
    throw new ModelError(`${what}: the model file ${file} is not usable (${why}). ${hint}`, { cause: e });
  }
}

async function readLabelsFile(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw new ModelError(`vision labels file ${file} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  const labels = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (labels.length === 0) throw new ModelError(`vision labels file ${file} has no labels (one per line expected)`);
  return labels;
}

/**
 * Resolves config.visionModel to a VisionModel and checks the file (exists, complete ONNX, shapes fit).
 * Throws ModelError with a message naming the file and the problem.
 */
export async function resolveVisionModel(config: VisionModelOptions, manifest?: Manifest): Promise<VisionModel> {
  const value = config.visionModel.trim();
  if (value === '') throw new ModelError('vision-model is empty: set a manifest name (e.g. yolox_nano) or a path to an .onnx file');
  if (!isModelPath(value)) {
    const m = manifest ?? loadManifest();
    const entry = findModel(m, value);
    if (!entry || entry.kind !== 'detection') {
      const known = m.models.filter((x) => x.kind === 'detection').map((x) => x.name);
      throw new ModelError(`unknown detection model "${value}": use one of ${known.join(', ')} or a path to an .onnx file`);
    }
    const file = path.join(config.modelsDir, entry.file);
    const strides = entry.strides ?? [8, 16, 32];
    const model: VisionModel = {
      name: entry.name,
      path: file,
      source: 'manifest',
      format: entry.format,
      input: entry.input,
      channels: entry.channels,
      scale: entry.scale,
      letterbox: entry.letterbox,
      pad: entry.pad,
      strides,
      labels: entry.labels,
      output: expectedOutput(entry.format, entry.input, entry.labels.length, strides),
      entry,
    };
    const hint = `Run \`whereabouts models\` to download or copy it (${entry.url}).`;
    const info = await readOnnxOrExplain(file, `detection model "${entry.name}"`, hint);
    const wrong = checkModelShape(model, info);
    if (wrong) throw new ModelError(`detection model "${entry.name}": ${file} is not the expected model: ${wrong}. ${hint}`);
    return model;
  }

  const file = path.resolve(value);
  const what = `detection model ${file}`;
  const info = await readOnnxOrExplain(file, what, 'Check --vision-model.');
  const out = info.outputs[0];
  let labels: string[] | null = null;
  if (config.visionLabels) labels = await readLabelsFile(path.resolve(config.visionLabels));
  else labels = parseNamesMetadata(info.metadata.names);
  if (!labels) throw new ModelError(`${what}: its class labels are unknown (no "names" metadata): set --vision-labels to a file with one label per line`);
  if (out.dims.length === 3 && out.dims[2] === 6 && out.dims[1] !== 4 + labels.length) {
    throw new ModelError(`${what}: its output ${formatDims(out.dims)} looks like an export with built-in NMS; export it without NMS (Ultralytics: nms=False)`);
  }
  const format = detectFormat(out.dims, labels.length);
  if (!format) {
    throw new ModelError(
      `${what}: cannot tell its format from output ${formatDims(out.dims)} and ${labels.length} labels ` +
        `(expected Ultralytics [1, ${4 + labels.length}, N] or YOLOX [1, N, ${5 + labels.length}])`,
    );
  }
  const inDims = info.inputs[0].dims;
  let input: [number, number] | null = null;
  if (inDims.length === 4 && typeof inDims[2] === 'number' && typeof inDims[3] === 'number' && inDims[2] > 0 && inDims[3] > 0) input = [inDims[3], inDims[2]];
  else input = parseImgsz(info.metadata.imgsz);
  if (!input) throw new ModelError(`${what}: its input ${formatDims(inDims)} has no fixed size and there is no imgsz metadata`);
  if (input[0] % 32 !== 0 || input[1] % 32 !== 0) throw new ModelError(`${what}: its input size ${input[0]}x${input[1]} is not a multiple of 32`);
  const strides = [8, 16, 32];
  const model: VisionModel = {
    name: path.basename(file, path.extname(file)),
    path: file,
    source: 'file',
    format,
    input,
    channels: format === 'yolox' ? 'bgr' : 'rgb',
    scale: format === 'yolox' ? 1 : 1 / 255,
    letterbox: format === 'yolox' ? 'top-left' : 'center',
    pad: 114,
    strides,
    labels,
    output: expectedOutput(format, input, labels.length, strides),
  };
  // Ultralytics boxes carry their own coordinates: any anchor count decodes (e.g. P6 models with stride 64)
  if (format === 'ultralytics' && typeof out.dims[2] === 'number' && out.dims[2] > 0) model.output[2] = out.dims[2];
  const wrong = checkModelShape(model, info);
  if (wrong) throw new ModelError(`${what}: ${wrong} (${format} format, ${labels.length} labels, input ${input[0]}x${input[1]})`);
  return model;
}
