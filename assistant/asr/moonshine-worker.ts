/**
 * Worker thread for the second recogniser (moonshine.ts): one utterance at a time, in arrival order (the main
 * thread's listener.ts owns the queue). `session.run` blocks this thread, never the server's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Moonshine, type MoonshineWord } from './moonshine.js';
import { niceThisThread } from '../thread-priority.js';

export interface MoonshineWorkerData {
  encoder: string;
  decoder: string;
  /** onnxruntime intra-op threads */
  threads: number;
  /**
   * the nice value of this worker's threads: above 0 the first recogniser, whose transcripts every question
   * waits for, comes first when the CPU is short (0: as the process)
   */
  nice: number;
}

export type MoonshineRequest = { id: number; pcm: ArrayBuffer } | { id: 0; close: true };

export type MoonshineReply =
  | { type: 'ready'; loadMs: number }
  | { type: 'heard'; id: number; text: string; raw: string; words: MoonshineWord[]; cpuMs: number }
  | { type: 'error'; id: number | null; message: string };

const port = parentPort!;
const data = workerData as MoonshineWorkerData;
const post = (m: MoonshineReply) => port.postMessage(m);

async function main(): Promise<void> {
  const t0 = performance.now();
  // before the sessions exist: onnxruntime's pool threads inherit this thread's priority
  niceThisThread(data.nice);
  let model: Moonshine;
  try {
    model = await Moonshine.load(data, data.threads);
  } catch (e) {
    post({ type: 'error', id: null, message: (e as Error).message });
    return;
  }
  post({ type: 'ready', loadMs: Math.round(performance.now() - t0) });
  // one message at a time: a close waits for the utterance being heard (releasing a session that onnxruntime
  // still runs would crash the process)
  let last: Promise<void> = Promise.resolve();
  port.on('message', (m: MoonshineRequest) => {
    last = last.then(() => handle(model, m));
  });
}

async function handle(model: Moonshine, m: MoonshineRequest): Promise<void> {
  if ('close' in m) {
    await model.release().catch(() => undefined);
    port.close();
    return;
  }
  try {
    const t = performance.now();
    const r = await model.transcribe(new Int16Array(m.pcm));
    post({ type: 'heard', id: m.id, text: r.text, raw: r.raw, words: r.words, cpuMs: Math.round((performance.now() - t) * 10) / 10 });
  } catch (e) {
    post({ type: 'error', id: m.id, message: (e as Error).message });
  }
}

void main();
