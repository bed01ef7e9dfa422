/**
 * Moonshine tiny (English, MIT; an encoder-decoder transformer exported to ONNX, installed by `whereabouts
 * models`): a second recogniser with no grammar, for the utterances the first one (Vosk, held to the grammar
 * of requests) was unsure about. It hears whole words the grammar cannot ("binoculars", "stapler") and often
 * the right one where the grammar's nearest words disagree ("bottle" where Vosk heard "balls").
 *
 * Greedy decoding with the decoder's key/value cache; each token's probability (softmax of its logit) gives the
 * words' confidences (a word: the least sure of its tokens). Runs in whichever thread loads it: the server loads
 * it in its own worker (moonshine-worker.ts) because `session.run` blocks the thread.
 */
import ort from 'onnxruntime-node';
import tokenizer from 'llama-tokenizer-js';
import { normalizeLabel } from '../../nlp/normalize.js';

export const MOONSHINE_RATE = 16_000;

/** the tiny model's decoder cache shape (layers, key/value heads, head size) */
const LAYERS = 6;
const HEADS = 8;
const HEAD_DIM = 36;
const START_TOKEN = 1;
const END_TOKEN = 2;
/** tokens per second of audio at most (the model's own bound: more is a runaway repetition) */
const TOKENS_PER_SECOND = 6;
/** audio shorter than this holds no word (and is below what the encoder's convolutions accept) */
const MIN_SAMPLES = MOONSHINE_RATE / 4;
/** the encoder's limit is 64 s; a spoken question is far shorter (the server's utterance limit is 15 s) */
const MAX_SAMPLES = MOONSHINE_RATE * 30;

export interface MoonshineWord {
  word: string;
  /** the least probable of the word's tokens, 0..1 */
  conf: number;
}

export interface MoonshineResult {
  /** lower case, letters, digits and apostrophes, single spaces ("Where's my cup?" -> "where's my cup") */
  text: string;
  words: MoonshineWord[];
  /** the model's own text, as written */
  raw: string;
  encodeMs: number;
  decodeMs: number;
}

/** "Where's my cup?" -> "where's my cup"; "tape-measure" -> "tape measure"; quotes around words go */
export function normaliseHeard(s: string): string {
  return normalizeLabel(s)
    .replace(/(^| )'+|'+( |$)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

const WORD_START = '\u2581';

/** tokens -> words with confidences (a token whose piece starts with "▁" starts a word) */
export function tokensToWords(ids: readonly number[], probs: readonly number[]): { raw: string; words: MoonshineWord[] } {
  const raw = ids.length ? tokenizer.decode([...ids], false, false).trim() : '';
  const groups: { ids: number[]; conf: number }[] = [];
  ids.forEach((id, i) => {
    const piece = tokenizer.vocabById[id] ?? '';
    if (!groups.length || piece.startsWith(WORD_START)) groups.push({ ids: [id], conf: probs[i] });
    else {
      const g = groups[groups.length - 1];
      g.ids.push(id);
      g.conf = Math.min(g.conf, probs[i]);
    }
  });
  const words: MoonshineWord[] = [];
  for (const g of groups) {
    // a group may hold more than one word once normalised ("tape-measure", "cup?I")
    for (const w of normaliseHeard(tokenizer.decode(g.ids, false, false)).split(' ')) if (w) words.push({ word: w, conf: g.conf });
  }
  return { raw, words };
}

export class Moonshine {
  /** the decoder's outputs wanted after its first step: the logits and its own growing cache */
  private readonly laterOutputs: string[];

  private constructor(
    private readonly encoder: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
  ) {
    this.laterOutputs = decoder.outputNames.filter((n) => n === 'logits' || (n.startsWith('present') && n.includes('.decoder.')));
  }

  static async load(files: { encoder: string; decoder: string }, threads = 1): Promise<Moonshine> {
    const opts: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // (its memory arena stays on: without it decoding is 3-4x slower; the worker holds ~110 MiB loaded, ~180 in use)
    };
    // both loads are seen through before either failure is reported: a thread ended while onnxruntime still
    // loads the other file aborts the whole process
    const [enc, dec] = await Promise.allSettled([ort.InferenceSession.create(files.encoder, opts), ort.InferenceSession.create(files.decoder, opts)]);
    if (enc.status === 'rejected' || dec.status === 'rejected') {
      for (const r of [enc, dec]) if (r.status === 'fulfilled') await r.value.release().catch(() => undefined);
      throw (enc.status === 'rejected' ? enc.reason : (dec as PromiseRejectedResult).reason) as Error;
    }
    const [encoder, decoder] = [enc.value, dec.value];
    for (const [s, want] of [
      [encoder, ['input_values']],
      [decoder, ['input_ids', 'encoder_hidden_states', 'use_cache_branch']],
    ] as const) {
      for (const n of want)
        if (!s.inputNames.includes(n)) {
          await Promise.all([encoder.release(), decoder.release()]).catch(() => undefined);
          throw new Error(`not a Moonshine model: no input ${n} (has ${s.inputNames.join(', ')})`);
        }
    }
    if (!decoder.inputNames.includes(`past_key_values.${LAYERS - 1}.encoder.value`)) {
      await Promise.all([encoder.release(), decoder.release()]).catch(() => undefined);
      throw new Error('not the Moonshine tiny decoder (its cache has another shape)');
    }
    return new Moonshine(encoder, decoder);
  }

  /** Transcribes 16 kHz mono s16le PCM (the utterance as the first recogniser decoded it). */
  async transcribe(pcm: Int16Array): Promise<MoonshineResult> {
    const n = Math.min(pcm.length, MAX_SAMPLES);
    if (n < MIN_SAMPLES) return { text: '', words: [], raw: '', encodeMs: 0, decodeMs: 0 };
    const audio = new Float32Array(n);
    for (let i = 0; i < n; i++) audio[i] = pcm[i] / 32768;
    const t0 = performance.now();
    const enc = await this.encoder.run({ input_values: new ort.Tensor('float32', audio, [1, n]) });
    const hidden = enc.last_hidden_state ?? enc[this.encoder.outputNames[0]];
    const t1 = performance.now();
    const past: Record<string, ort.Tensor> = {};
    for (let l = 0; l < LAYERS; l++)
      for (const a of ['decoder', 'encoder'])
        for (const b of ['key', 'value']) past[`past_key_values.${l}.${a}.${b}`] = new ort.Tensor('float32', new Float32Array(0), [0, HEADS, 1, HEAD_DIM]);
    const pastNames = Object.keys(past);
    const ids: number[] = [];
    const probs: number[] = [];
    const maxTokens = Math.max(1, Math.trunc((n / MOONSHINE_RATE) * TOKENS_PER_SECOND));
    let next = START_TOKEN;
    try {
      for (let i = 0; i < maxTokens; i++) {
        const out = await this.decoder.run(
          {
            input_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(next)), [1, 1]),
            encoder_hidden_states: hidden,
            use_cache_branch: new ort.Tensor('bool', [i > 0]),
            ...past,
          },
          // after the first step the encoder's cache is what it was: not copied out again (it is the largest)
          i === 0 ? this.decoder.outputNames : this.laterOutputs,
        );
        const logits = out.logits.data as Float32Array;
        let best = 0;
        for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
        let sum = 0;
        for (let j = 0; j < logits.length; j++) sum += Math.exp(logits[j] - logits[best]);
        // the cache: the decoder's own entries grow every step; the encoder's are computed on the first step only
        for (const k of pastNames) {
          if (i > 0 && !k.includes('.decoder.')) continue;
          const present = out[k.replace('past_key_values', 'present')];
          if (!present) throw new Error(`Moonshine decoder gave no ${k.replace('past_key_values', 'present')}`);
          past[k] = present;
        }
        if (best === END_TOKEN) break;
        ids.push(best);
        probs.push(1 / sum);
        next = best;
      }
    } finally {
      hidden.dispose?.();
    }
    const t2 = performance.now();
    const { raw, words } = tokensToWords(ids, probs);
    return { text: words.map((w) => w.word).join(' '), words, raw, encodeMs: t1 - t0, decodeMs: t2 - t1 };
  }

  async release(): Promise<void> {
    await Promise.all([this.encoder.release(), this.decoder.release()]);
  }
}
