/**
 * A side-by-side figure for push-to-talk: the same clips, the same model and the same grammar through
 * vosk-server's `websocket/asr_server.py` (alphacep/vosk-server, with PyPI `vosk` and `websockets<11`), the
 * peer the project measures itself against. Each of N clients asks in turn, as the voice bench's
 * push-to-talk clients do: one connection per question, `{"config": {phrase_list, sample_rate, words,
 * max_alternatives}}`, the clip in 20 ms frames at real-time pace, then `{"eof" : 1}`; the clock runs from
 * the eof to the final result (vosk-server's equivalent of our `stop` -> `transcript`; it synthesises no
 * reply). Run the peer first, e.g.:
 *
 *   python3 -m venv v && v/bin/pip install vosk 'websockets<11'
 *   VOSK_SAMPLE_RATE=16000 VOSK_ALTERNATIVES=5 v/bin/python asr_server.py models/files/vosk-model-small-en-us-0.15
 *   node dist/bench/peer-vosk.js [--url ws://127.0.0.1:2700] [--streams 16] [--seconds 30] [--split test] [--every 3] [--gap MS]
 *
 * --gap: a further pause after each question, ms. The voice bench's clients wait for the whole reply before
 * asking again, so at the same number of clients they send less audio; a gap that gives the same number of
 * questions in the same time gives the peer the same load.
 *
 * Prints one JSON line: questions, stop -> final p50/p95/max ms, errors, and the clips' words as heard.
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { buildGrammar } from '../assistant/asr/grammar.js';
import { LabelBook } from '../assistant/labels.js';
import { manifestLabels } from '../assistant/app.js';
import { loadConfig } from '../assistant/config.js';
import { mulberry32 } from './seed.js';
import { summarize } from './util.js';
import { loadFixtures, type Fixture } from './voice.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function askPeer(url: string, phrases: readonly string[], f: Fixture): Promise<{ ms: number; text: string } | { error: string }> {
  const ws = new WebSocket(url);
  const replies: Array<{ at: number; data: string }> = [];
  let closed = false;
  ws.on('message', (d) => replies.push({ at: performance.now(), data: d.toString() }));
  ws.on('close', () => (closed = true));
  const opened = await new Promise<string | null>((resolve) => {
    ws.once('open', () => resolve(null));
    ws.once('error', (e) => resolve(e.message));
  });
  if (opened) return { error: opened };
  ws.send(JSON.stringify({ config: { phrase_list: phrases, sample_rate: f.sampleRate, words: true, max_alternatives: 5 } }));
  const frameMs = 20;
  const frameBytes = Math.round((f.sampleRate * frameMs) / 1000) * 2;
  const t0 = performance.now();
  let i = 0;
  for (let o = 0; o < f.pcm.length; o += frameBytes, i++) {
    const wait = t0 + i * frameMs - performance.now();
    if (wait > 1) await sleep(wait);
    ws.send(f.pcm.subarray(o, o + frameBytes), { binary: true });
  }
  const frames = i;
  ws.send('{"eof" : 1}');
  const tStop = performance.now();
  // every frame gets a reply, then the eof's: the final result
  const deadline = tStop + 30_000;
  while (replies.length < frames + 1 && !closed && performance.now() < deadline) await sleep(1);
  ws.close();
  const last = replies[frames];
  if (!last) return { error: closed ? 'closed' : 'timeout' };
  let text = '';
  try {
    const o = JSON.parse(last.data) as { text?: string; alternatives?: Array<{ text: string }> };
    text = o.text ?? o.alternatives?.[0]?.text ?? '';
  } catch {
    /* reported as heard nothing */
  }
  return { ms: last.at - tStop, text };
}

async function main() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'ws://127.0.0.1:2700' },
      streams: { type: 'string', default: '16' },
      seconds: { type: 'string', default: '30' },
      split: { type: 'string', default: 'test' },
      every: { type: 'string', default: '3' },
      gap: { type: 'string', default: '0' },
    },
  });
  const config = loadConfig([], {});
  const labels = manifestLabels(config.visionModel) ?? [];
  const book = new LabelBook(labels);
  // the grammar our recogniser workers get (assistant/asr/recognizer.ts), [unk] included
  const phrases = buildGrammar(book.vocabulary.phrases(), { preferred: book.labels });
  if (!phrases.includes('[unk]')) phrases.push('[unk]');
  const every = Math.max(1, Number(values.every));
  const fixtures = loadFixtures(undefined, { hesitations: false })
    .filter((f) => f.split === values.split)
    .filter((_, i) => i % every === 0);
  const streams = Math.max(1, Number(values.streams));
  const until = performance.now() + Number(values.seconds) * 1000;
  const ms: number[] = [];
  const errors: Record<string, number> = {};
  const heard: string[] = [];
  await Promise.all(
    Array.from({ length: streams }, async (_, c) => {
      const rnd = mulberry32(1000 + c);
      let k = Math.floor((c * fixtures.length) / streams);
      while (performance.now() < until) {
        const f = fixtures[k++ % fixtures.length];
        const r = await askPeer(values.url!, phrases, f);
        if ('error' in r) errors[r.error] = (errors[r.error] ?? 0) + 1;
        else {
          ms.push(r.ms);
          heard.push(`${f.file}: ${r.text}`);
        }
        await sleep(100 + rnd() * 200 + Number(values.gap));
      }
    }),
  );
  const s = summarize(ms);
  console.log(JSON.stringify({ peer: 'vosk-server asr_server.py', streams, gapMs: Number(values.gap), questions: ms.length, grammar: phrases.length, stopToFinalMs: { p50: s.p50, p95: s.p95, max: s.max }, errors, heard: heard.slice(0, 5) }));
}

await main();
