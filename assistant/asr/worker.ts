/**
 * A recogniser worker thread: hosts many recognisers (one per stream), all made from the one model the pool
 * shares between its workers (the first worker loads it and reports its address; the others, and any
 * replacement, borrow it: assistant/asr/pool.ts owns its lifetime). Audio is queued per stream and decoded in slices, round-robin, yielding to the event loop
 * between rounds, so one long stream never starves the others and new messages are handled promptly.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { loadVosk, type VoskLib, type VoskModelAddress, type VoskRecognizerHandle } from './libvosk.js';
import { Resampler, float32ToS16le, s16leToFloat32 } from '../../protocol/pcm.js';
import { UNK, cleanTranscript, grammarJson } from './grammar.js';
import { MODEL_RATE } from '../../models/vosk-files.js';
import { joinSegments, parseVoskResult, type Parsed } from './nbest.js';
import type { FromWorker, ToWorker, WordInfo, WorkerInit } from './messages.js';
import { SileroVad, type VadStream } from './vad.js';
import { Rnnoise, type DenoiseStream } from './denoise.js';
import { LoudnessTracker } from './loudness.js';
import { HeardWords } from './heard.js';

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);

interface Stream {
  id: number;
  rec: VoskRecognizerHandle;
  rate: number;
  resampler: Resampler | null;
  queue: Uint8Array[];
  queued: number;
  /** an odd byte left over from the previous chunk (-1: none) */
  carry: number;
  finishing: boolean;
  /** what each endpointed segment heard (libvosk restarts after an endpoint) */
  segments: Parsed[];
  lastPartial: string;
  /** the words so far (final segments and the current partial) and where they appeared */
  heard: HeardWords;
  /** they end in an out-of-grammar word ("where is my [unk]") */
  unk: boolean;
  /** decoding the kept audio again (rejoin): its partials and endpoints are not reported */
  muted: boolean;
  vad: VadStream | null;
  /** noise suppression in front of the VAD (asr/denoise.ts; null: the VAD hears the audio as it came) */
  den: DenoiseStream | null;
  /** the level meter beside the VAD (asr/loudness.ts) */
  loud: LoudnessTracker;
  inBytes: number;
  cpuMs: number;
  /**
   * the utterance at 16 kHz, kept (up to HOLD_MAX_BYTES; `keep` false beyond) for a second look after it and
   * for decoding it again whole when a flush split it (flushSegment)
   */
  audio: Uint8Array[];
  audioBytes: number;
  keep: boolean;
  /** how many segments there were when the turn first flushed this stream (-1: never) */
  flushedAt: number;
  /** how many windows the VAD had heard as speech then */
  flushedSpeech: number;
  /**
   * the kept audio being decoded again from its start (rejoin), a step per round so the other streams on this
   * worker are not held up: meanwhile this stream's new audio waits and its progress is held back (null: none)
   */
  replay: Replay | null;
}

interface Replay {
  chunks: Uint8Array[];
  next: number;
  /** the words so far and their out-of-grammar tail before the replay (what the turn has been shown) */
  before: { heard: HeardWords; unk: boolean };
  /** progress bytes held back while replaying */
  owed: number;
}

/** a finished utterance's audio, held for a second look (asr/listener.ts: another recogniser hears it again) */
interface Held {
  chunks: Uint8Array[];
  at: number;
}

/** 30 s of 16 kHz s16le: longer utterances get no second look */
const HOLD_MAX_BYTES = 30 * 16000 * 2;
/** held audio nobody asked about is dropped after this long, and beyond this many utterances (oldest first) */
const HOLD_MS = 60_000;
const HOLD_MAX = 64;

let lib: VoskLib;
let model: VoskModelAddress;
let grammar: string | null = null;
let vad: SileroVad | null = null;
let rnnoise: Rnnoise | null = null;
const streams = new Map<number, Stream>();
const held = new Map<number, Held>();
let order: number[] = [];
let cursor = 0;
let scheduled = false;
let pumping = false;

function filterGrammar(sentences: string[] | null): { json: string | null; dropped: { phrase: string; word: string }[]; size: number } {
  if (!sentences) return { json: null, dropped: [], size: 0 };
  const dropped: { phrase: string; word: string }[] = [];
  const cache = new Map<string, boolean>();
  const known = (w: string) => {
    let k = cache.get(w);
    if (k === undefined) {
      k = w === UNK || lib.findWord(model, w) >= 0;
      cache.set(w, k);
      if (!k) dropped.push({ phrase: '', word: w });
    }
    return k;
  };
  const keep: string[] = [];
  for (const p of sentences) {
    const bad = p.split(' ').find((w) => !known(w));
    if (bad === undefined) keep.push(p);
    else {
      const d = dropped.find((x) => x.word === bad);
      if (d && !d.phrase) d.phrase = p;
    }
  }
  if (!keep.includes(UNK)) keep.push(UNK);
  return { json: grammarJson(keep), dropped, size: keep.length };
}

/** Parses a libvosk result: words below minConfidence become [unk]; the N-best list with shares of mass. */
function parseResult(json: string): Parsed {
  return parseVoskResult(json, init.minConfidence);
}

/** the partial's words, and whether they end in an out-of-grammar word ([unk]) */
function partialText(json: string): { text: string; unk: boolean } {
  try {
    const o = JSON.parse(json) as { partial?: string };
    const raw = (o.partial ?? '').trim();
    return { text: cleanTranscript(raw), unk: /(?:\[unk\]|<unk>)$/.test(raw) };
  } catch {
    return { text: '', unk: false };
  }
}

function free(s: Stream) {
  s.den?.close();
  streams.delete(s.id);
  unjudged.delete(s.id);
  order = order.filter((x) => x !== s.id);
  try {
    lib.recognizerFree(s.rec);
  } catch {
    /* already reported */
  }
}

/** a recogniser as every stream has one: the grammar (if any), word times, the N-best list */
function streamRecognizer(): VoskRecognizerHandle {
  const rec = grammar ? lib.recognizerNewGrm(model, MODEL_RATE, grammar) : lib.recognizerNew(model, MODEL_RATE);
  try {
    lib.setWords(rec, true);
    if (init.maxAlternatives > 0 && lib.setMaxAlternatives) lib.setMaxAlternatives(rec, init.maxAlternatives);
    return rec;
  } catch (e) {
    lib.recognizerFree(rec);
    throw e;
  }
}

function open(id: number, rate: number, judged: boolean) {
  if (streams.has(id)) return post({ type: 'error', id, message: 'stream already open' });
  try {
    const rec = streamRecognizer();
    streams.set(id, {
      id,
      rec,
      rate,
      resampler: rate === MODEL_RATE ? null : new Resampler(rate, MODEL_RATE),
      queue: [],
      queued: 0,
      carry: -1,
      finishing: false,
      segments: [],
      lastPartial: '',
      heard: new HeardWords(),
      unk: false,
      muted: false,
      vad: vad && judged ? vad.stream() : null,
      den: vad && judged && rnnoise ? rnnoise.stream() : null,
      loud: new LoudnessTracker(MODEL_RATE),
      inBytes: 0,
      cpuMs: 0,
      audio: [],
      audioBytes: 0,
      // the audio is kept for a flush's whole decode (hands-free) and for second looks
      keep: !!grammar && (judged || init.secondLook),
      flushedAt: -1,
      flushedSpeech: 0,
      replay: null,
    });
    order.push(id);
  } catch (e) {
    post({ type: 'error', id, message: (e as Error).message });
  }
}

function schedule() {
  if (scheduled || pumping) return;
  scheduled = true;
  setImmediate(pump);
}

/** Takes up to `max` bytes (even) of queued audio, prepending any carried odd byte. */
function take(s: Stream, max: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let n = 0;
  if (s.carry >= 0) {
    parts.push(Uint8Array.of(s.carry));
    n = 1;
    s.carry = -1;
  }
  while (s.queue.length && n < max) {
    const head = s.queue[0];
    const want = max - n;
    if (head.byteLength <= want) {
      parts.push(head);
      n += head.byteLength;
      s.queue.shift();
    } else {
      parts.push(head.subarray(0, want));
      s.queue[0] = head.subarray(want);
      n += want;
    }
  }
  let out: Uint8Array;
  if (parts.length === 1) out = parts[0];
  else {
    out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.byteLength;
    }
  }
  if (out.byteLength & 1) {
    s.carry = out[out.byteLength - 1];
    out = out.subarray(0, out.byteLength - 1);
  }
  return out;
}

function decode(s: Stream, pcm16k: Uint8Array) {
  if (pcm16k.byteLength === 0) return;
  const r = lib.acceptWaveform(s.rec, pcm16k);
  if (r < 0) throw new Error('vosk_recognizer_accept_waveform failed');
  if (r === 1) endSegment(s, parseResult(lib.result(s.rec)));
  else {
    const part = partialText(lib.partialResult(s.rec));
    const p = part.text;
    const full = [...s.segments.map((x) => x.text), p].filter(Boolean).join(' ');
    setHeard(s, full);
    if (part.text || part.unk) s.unk = part.unk;
    if (p && full !== s.lastPartial) {
      s.lastPartial = full;
      if (!s.muted) post({ type: 'partial', id: s.id, text: full });
    }
  }
}

/** a segment is over (libvosk's endpoint, or a flush): its final words join the words so far */
function endSegment(s: Stream, res: Parsed) {
  s.lastPartial = '';
  if (res.raw) s.segments.push(res);
  setHeard(s, s.segments.map((x) => x.text).filter(Boolean).join(' '));
  s.unk = /(?:\[unk\]|<unk>)$/.test(res.raw.trim());
  if (!s.muted) post({ type: 'endpoint', id: s.id, text: res.text, raw: res.raw, words: res.words, alternatives: res.alternatives });
}

/**
 * Ends the current segment now, with the audio decoded so far (the turn asks for it when the words are
 * unfinished and the audio has gone quiet: a partial result is libvosk's best path so far, its final result
 * the lattice's, and the two can differ: "where are my" until the final says "where remote"). The next
 * audio starts a new segment (libvosk restarts after a final result).
 */
function flushSegment(s: Stream) {
  const t0 = performance.now();
  endSegment(s, parseResult(lib.finalResult(s.rec)));
  if (s.flushedAt < 0) {
    s.flushedAt = s.segments.length;
    s.flushedSpeech = s.vad?.speechWindowCount ?? 0;
  }
  s.cpuMs += performance.now() - t0;
  progress(s, 0);
}

function setHeard(s: Stream, text: string) {
  s.heard.set(text, (s.inBytes / 2 / s.rate) * 1000);
}

/**
 * Speech came again after a flush ("where is my" | flush | "um ... spoon"): the words after the pause would be
 * decoded on their own in the new segment, and an item alone is heard worse or not at all. So the utterance so
 * far is decoded again from its start by a new recogniser (the kept audio), which goes on from there: its partial
 * words then say "where is my spoon" as the speech goes on, not only the final transcript.
 */
function startRejoin(s: Stream) {
  const t0 = performance.now();
  const rec = streamRecognizer();
  lib.recognizerFree(s.rec);
  s.rec = rec;
  s.replay = { chunks: s.audio.slice(), next: 0, before: { heard: s.heard, unk: s.unk }, owed: 0 };
  s.heard = new HeardWords();
  s.segments = [];
  s.lastPartial = '';
  s.flushedAt = -1;
  s.flushedSpeech = 0;
  s.muted = true;
  s.cpuMs += performance.now() - t0;
}

/** decodes up to `budget` bytes more of the replay; at its end the stream goes on as one utterance */
function replayStep(s: Stream, budget: number) {
  const r = s.replay;
  if (!r) return;
  const t0 = performance.now();
  let done = 0;
  while (r.next < r.chunks.length && done < budget) {
    const c = r.chunks[r.next++];
    decode(s, c);
    done += c.byteLength;
  }
  s.cpuMs += performance.now() - t0;
  if (r.next < r.chunks.length) return;
  s.replay = null;
  s.muted = false;
  // the words as decoded whole; words that were already shown keep the point where they first appeared
  const text = s.heard.text;
  const unk = s.unk;
  s.heard = r.before.heard;
  setHeard(s, text);
  s.unk = unk;
  s.lastPartial = '';
  if (r.owed > 0) progress(s, r.owed);
}

/** the whole kept utterance decoded again now (finalize: someone waits for the transcript) */
function rejoin(s: Stream) {
  if (!s.replay) startRejoin(s);
  replayStep(s, Infinity);
}

/**
 * Audio decoded again per round and stream while replaying (ms): ~15-25 ms of CPU here, so the other streams'
 * slices and the VAD's batch go on between steps (a whole replay at once held the worker for 45-385 ms)
 */
const REPLAY_STEP_MS = Number(process.env.WHEREABOUTS_ASR_REPLAY_STEP_MS) || 250;

/**
 * The words end in something out of the grammar, and it was speech: the VAD heard speech after the words
 * last changed. A recogniser fills a pause after "where is my" with [unk] for the room's noise; that is a
 * hesitation, not an unknown thing.
 */
function unknownTail(s: Stream): boolean {
  if (!s.unk) return false;
  if (!s.vad) return true;
  return s.vad.judgedMs - s.vad.silenceMs > s.heard.atMs;
}

function toModelRate(s: Stream, bytes: Uint8Array): Uint8Array {
  if (!s.resampler) return bytes;
  return float32ToS16le(s.resampler.process(s16leToFloat32(bytes)));
}

/** a slice's bytes at the stream's rate (`init.sliceMs` of audio, even) */
function sliceBytes(s: Stream): number {
  return Math.max(2, Math.round((s.rate * init.sliceMs) / 1000) * 2);
}

/**
 * Decodes up to `max` bytes of the stream's queued audio; `judge`: the VAD and the level meter hear it too
 * (not for a stream whose audio has ended: its quiet no longer decides anything). Returns the bytes taken.
 */
function slice(s: Stream, max = sliceBytes(s), judge = true): number {
  const t0 = performance.now();
  const bytes = take(s, max);
  s.queued -= bytes.byteLength;
  s.inBytes += bytes.byteLength;
  if (bytes.byteLength) {
    const pcm = toModelRate(s, bytes);
    hold(s, pcm);
    decode(s, pcm);
    if (judge) {
      // the VAD and the level meter judge the same 16 kHz audio, so quiet time is measured where the words end
      const f = s16leToFloat32(pcm);
      s.vad?.push(s.den ? s.den.process(f) : f);
      s.loud.push(f);
    }
  }
  s.cpuMs += performance.now() - t0;
  return bytes.byteLength;
}

/** keeps the utterance's 16 kHz audio for a second look (the chunks are not reused: no copy) */
function hold(s: Stream, pcm: Uint8Array) {
  if (!s.keep) return;
  if (s.audioBytes + pcm.byteLength > HOLD_MAX_BYTES) {
    s.keep = false;
    s.audio = [];
    return;
  }
  s.audio.push(pcm);
  s.audioBytes += pcm.byteLength;
}

function pruneHeld(now: number) {
  for (const [id, h] of held) if (now - h.at > HOLD_MS || held.size > HOLD_MAX) held.delete(id);
}

/** hands a finished utterance's held audio to the main thread for its second look (whole, as decoded) */
function giveHeld(id: number) {
  const h = held.get(id);
  held.delete(id);
  if (!h) return post({ type: 'held', id, pcm: null });
  const pcm = new Uint8Array(h.chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of h.chunks) {
    pcm.set(c, at);
    at += c.byteLength;
  }
  post({ type: 'held', id, pcm: pcm.buffer }, [pcm.buffer]);
}

function progress(s: Stream, bytes: number) {
  post({ type: 'progress', id: s.id, bytes, text: s.heard.text, unk: unknownTail(s), silenceMs: s.vad ? s.vad.silenceMs : null, speech: s.vad ? s.vad.speech : true, loudQuietMs: s.loud.quietMs, levelRangeDb: s.loud.rangeDb });
}

function finalize(s: Stream) {
  // a replay still in progress (its finish came while the round waited for the VAD): completed first
  if (s.replay) rejoin(s);
  const t0 = performance.now();
  if (s.resampler) decode(s, float32ToS16le(s.resampler.flush()));
  let res = parseResult(lib.finalResult(s.rec));
  // words or speech came after a flush split the utterance ("where is my" | "um" | "cup"): an item decoded on
  // its own, without the words before it, is heard worse or not at all (alone it is no sentence of the grammar);
  // the transcript is the whole utterance decoded again at once (rejoin), then made final
  const spokeAfter = !!s.vad && s.vad.speechWindowCount > s.flushedSpeech;
  const split = s.flushedAt >= 0 && (res.raw !== '' || s.segments.length > s.flushedAt || spokeAfter);
  if (split && s.keep && s.audio.length) {
    rejoin(s);
    res = parseResult(lib.finalResult(s.rec));
  }
  const all = joinSegments([...s.segments, res]);
  s.cpuMs += performance.now() - t0;
  free(s);
  const now = Date.now();
  pruneHeld(now);
  // held for a second look when those are on and the whole utterance was kept
  const checkable = init.secondLook && s.keep && s.audioBytes > 0;
  if (checkable) held.set(s.id, { chunks: s.audio, at: now });
  s.audio = [];
  post({ type: 'final', id: s.id, text: all.text, raw: all.raw, words: all.words, alternatives: all.alternatives, audioSeconds: s.inBytes / 2 / s.rate, cpuMs: s.cpuMs, checkable });
}

/**
 * The VAD's batches. One Silero run costs about the same for one stream's 32 ms window as for a dozen
 * streams' (measured: ~32 ms of CPU per stream-second judged alone, ~9 batched over 16), but a worker that
 * keeps up decodes each stream's audio as it arrives, a frame at a time, so judging right after each decode
 * made batches of one or two. The windows therefore wait for each other: they are judged at once when every
 * open stream has one waiting (a full batch; a single stream is never kept waiting), else at most
 * VAD_WAIT_MS after the first one was ready. The decoded slices' progress messages go out after their
 * judgement (a partial's words go out at once, in 'partial').
 */
const VAD_WAIT_MS = 32;
/** bytes decoded per stream since its last progress message */
const unjudged = new Map<number, number>();
/** when the oldest unjudged window became ready (0: none waits) */
let vadWaitingSince = 0;
let vadTimer: NodeJS.Timeout | null = null;

/** judges the waiting windows when it is time, then sends the progress they held; false when the VAD failed */
async function judgeVad(): Promise<boolean> {
  if (!unjudged.size) return true;
  if (vad) {
    let waiting = 0;
    let open = 0;
    for (const s of streams.values()) {
      // (a stream being decoded again sends no windows meanwhile: nobody waits for it)
      if (!s.finishing && !s.replay) open++;
      if (s.vad?.hasWindow) waiting++;
    }
    const now = performance.now();
    if (waiting > 0) {
      if (!vadWaitingSince) vadWaitingSince = now;
      if (waiting < open && now - vadWaitingSince < VAD_WAIT_MS) {
        // come back when the oldest window has waited long enough (sooner if more audio arrives)
        vadTimer ??= setTimeout(() => {
          vadTimer = null;
          schedule();
        }, Math.max(1, Math.ceil(vadWaitingSince + VAD_WAIT_MS - now)));
        return true;
      }
      const batch = [...streams.values()].filter((s) => s.vad?.hasWindow);
      const t0 = performance.now();
      try {
        await vad.judge(batch.map((s) => s.vad!));
      } catch (e) {
        for (const s of batch) {
          free(s);
          post({ type: 'error', id: s.id, message: `voice-activity detector failed: ${(e as Error).message}` });
        }
        return false;
      }
      const share = (performance.now() - t0) / batch.length;
      for (const s of batch) s.cpuMs += share;
      vadWaitingSince = 0;
      if (vadTimer) clearTimeout(vadTimer);
      vadTimer = null;
    }
    // (no whole window waits: the slices were shorter than a window, and their progress goes out as it is)
    for (const id of unjudged.keys()) {
      const s = streams.get(id);
      if (s && !s.replay && s.flushedAt >= 0 && s.keep && s.audio.length && (s.vad?.speechWindowCount ?? 0) > s.flushedSpeech) {
        try {
          startRejoin(s);
        } catch (e) {
          free(s);
          post({ type: 'error', id: s.id, message: `recogniser failed: ${(e as Error).message}` });
        }
      }
    }
  }
  for (const [id, bytes] of unjudged) {
    const s = streams.get(id);
    // replaying: its progress goes out when the replay is over (words half decoded again would mislead the turn)
    if (s?.replay) s.replay.owed += bytes;
    else if (s) progress(s, bytes);
  }
  unjudged.clear();
  return true;
}

async function pump() {
  scheduled = false;
  if (pumping) return;
  pumping = true;
  try {
    await pumpRound();
  } finally {
    pumping = false;
  }
  for (const s of streams.values()) {
    if (s.queued > 0 || s.finishing || s.replay) {
      schedule();
      break;
    }
  }
}

/**
 * A round of slices yields to the event loop after this long (ms): a stream's `finish` (someone waits for its
 * transcript) is read between rounds, so this bounds how long it waits before it is drained and finalised.
 */
const ROUND_MS = Number(process.env.WHEREABOUTS_ASR_ROUND_MS) || 10;

/** audio of a stream whose audio has ended decoded at once, before anyone else's slice: a second's worth */
const DRAIN_MAX_MS = 1000;

/**
 * Streams whose audio has ended: someone waits for their transcript, and every other stream's audio is still
 * arriving in real time, so these are decoded (up to DRAIN_MAX_MS of their audio per round) and finalised
 * first, not one slice per round behind everyone else's slices and the VAD's batch. Their VAD verdicts no
 * longer matter (the turn has ended): their windows are not judged.
 */
function drainFinishing(ids: number[]) {
  for (const id of ids) {
    const s = streams.get(id);
    if (!s?.finishing) continue;
    try {
      // a replay in progress first: the audio after it waits for it
      if (s.replay) rejoin(s);
      const budget = Math.round((s.rate * DRAIN_MAX_MS) / 1000) * 2;
      let drained = 0;
      while ((s.queued > 0 || s.carry >= 0) && drained < budget) {
        const bytes = slice(s, Math.min(sliceBytes(s), budget - drained), false);
        if (!bytes) break;
        drained += bytes;
      }
      // an odd byte left at the very end is half a sample: dropped (it would hold the stream open for ever)
      if (s.queued === 1 && !s.queue.length && s.carry >= 0) {
        s.carry = -1;
        s.queued = 0;
      }
      // the words so far go out (as partials, before the transcript), with every byte decoded but not yet reported
      const owed = drained + (unjudged.get(id) ?? 0);
      unjudged.delete(id);
      if (owed > 0) progress(s, owed);
      if (s.queued <= 0) finalize(s);
    } catch (e) {
      free(s);
      post({ type: 'error', id, message: (e as Error).message });
    }
  }
}

async function pumpRound() {
  // one round: a slice for each stream with work, starting after the last one served
  // streams whose audio has ended (someone waits for their transcript) first, then the rest round-robin
  const rotated = order.slice(cursor).concat(order.slice(0, cursor));
  drainFinishing(rotated);
  const deadline = performance.now() + ROUND_MS;
  const ids = rotated.filter((id) => streams.get(id)?.finishing).concat(rotated.filter((id) => !streams.get(id)?.finishing));
  let served = 0;
  const decoded: Array<{ s: Stream; bytes: number }> = [];
  for (const id of ids) {
    const s = streams.get(id);
    if (!s) continue;
    try {
      // replaying: a step of it, and the new audio waits (it comes after what is decoded again)
      if (s.replay) replayStep(s, Math.round((MODEL_RATE * REPLAY_STEP_MS) / 1000) * 2);
      else if (s.queued > 0 || s.carry >= 0) {
        const bytes = slice(s);
        if (bytes) decoded.push({ s, bytes });
      }
    } catch (e) {
      free(s);
      post({ type: 'error', id, message: (e as Error).message });
    }
    served++;
    if (performance.now() > deadline) break;
  }
  // the round's audio through the VAD, all streams in one batch per window
  for (const d of decoded) unjudged.set(d.s.id, (unjudged.get(d.s.id) ?? 0) + d.bytes);
  if (!(await judgeVad())) return;
  for (const id of ids) {
    const s = streams.get(id);
    if (!s) continue;
    try {
      if (s.finishing && s.queued <= 0) finalize(s);
    } catch (e) {
      free(s);
      post({ type: 'error', id, message: (e as Error).message });
    }
  }
  cursor = order.length ? (cursor + Math.max(1, served)) % order.length : 0;
}

function onMessage(m: ToWorker) {
  switch (m.op) {
    case 'open':
      open(m.id, m.rate, m.vad);
      break;
    case 'audio': {
      const s = streams.get(m.id);
      if (!s || s.finishing) return;
      s.queue.push(m.pcm);
      s.queued += m.pcm.byteLength;
      schedule();
      break;
    }
    case 'finish': {
      const s = streams.get(m.id);
      if (!s) return post({ type: 'error', id: m.id, message: 'unknown stream' });
      s.finishing = true;
      schedule();
      break;
    }
    case 'flush': {
      const s = streams.get(m.id);
      if (!s || s.finishing) return;
      try {
        // a replay is the whole utterance decoded again: nothing to flush until it is over (rare: the turn asks
        // for a flush after quiet, a replay starts on speech)
        if (s.replay) rejoin(s);
        flushSegment(s);
      } catch (e) {
        free(s);
        post({ type: 'error', id: m.id, message: (e as Error).message });
      }
      break;
    }
    case 'abort': {
      const s = streams.get(m.id);
      if (s) free(s);
      held.delete(m.id);
      break;
    }
    case 'check':
      giveHeld(m.id);
      break;
    case 'release':
      held.delete(m.id);
      break;
    case 'grammar': {
      const g = filterGrammar(m.phrases);
      grammar = g.json;
      post({ type: 'grammar', dropped: g.dropped, size: g.size });
      break;
    }
    case 'stats': {
      let pendingBytes = 0;
      for (const s of streams.values()) pendingBytes += s.queued;
      post({ type: 'stats', req: m.req, recognizers: streams.size, pendingBytes, model: `0x${model.toString(16)}` });
      break;
    }
    case 'close':
      for (const s of [...streams.values()]) free(s);
      held.clear();
      // only the last worker to close drops the model (the pool says which, once every other one has exited)
      if (m.freeModel) {
        try {
          lib.modelFree(model);
        } catch {
          /* exiting anyway */
        }
      }
      port.close();
      break;
  }
}

async function main() {
  const t0 = performance.now();
  lib = loadVosk(init.libPath);
  lib.setLogLevel(init.logLevel);
  // the pool's shared model, or (the first worker) load it and tell the pool where it is
  const loaded = init.model === null;
  model = init.model ?? lib.modelNew(init.modelDir);
  const g = filterGrammar(init.grammar);
  grammar = g.json;
  let vadProblem: string | null = null;
  let denoiseProblem: string | null = null;
  if (init.vadModel) {
    try {
      vad = await SileroVad.load(init.vadModel);
    } catch (e) {
      vadProblem = (e as Error).message;
    }
    if (vad && init.vadDenoise) {
      try {
        rnnoise = await Rnnoise.load();
      } catch (e) {
        denoiseProblem = (e as Error).message;
      }
    }
  }
  port.on('message', onMessage);
  post({ type: 'ready', dropped: g.dropped, loadMs: Math.round(performance.now() - t0), vad: !!vad, vadProblem, denoise: !!rnnoise, denoiseProblem, model, loaded });
}

main().catch((e) => {
  // a model this worker loaded itself is nobody else's yet: free it before reporting
  if (init.model === null && model) {
    try {
      lib.modelFree(model);
    } catch {
      /* reporting anyway */
    }
  }
  post({ type: 'fatal', message: (e as Error).message });
});
