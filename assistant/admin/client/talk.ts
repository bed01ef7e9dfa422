/**
 * "Hold to talk": the browser microphone streamed over the voice WebSocket (`/v1/listen`, authenticated
 * by the same-origin session cookie) as s16le mono 16 kHz frames; server events are folded with the
 * shared reducer from protocol/protocol.ts; the spoken reply (s16le) is played back when it has arrived.
 *
 * Pressing again while the answer is coming or playing stops it (barge-in: `cancel` to the server, local
 * playback stopped) and listens to the new question. When the reply asks a question (`done` with
 * `follow_up`), the socket stays open and the microphone opens again by itself: the server listens for the
 * answer and decides when it is over (no button needed); it stops listening quietly if nobody answers.
 */
import {
  initialConversation,
  isServerEvent,
  reduceConversation,
  MAX_AUDIO_FRAME_BYTES,
  type ConversationState,
  type ServerEvent,
  type StartMessage,
} from '../../../protocol/protocol.js';

export const TARGET_RATE = 16000;

export function talkSupported(): boolean {
  return (
    typeof WebSocket !== 'undefined' &&
    typeof AudioWorkletNode !== 'undefined' &&
    !!navigator.mediaDevices?.getUserMedia &&
    window.isSecureContext
  );
}

export class Talker {
  private state: ConversationState = initialConversation;
  private ws: WebSocket | null = null;
  private ctx: AudioContext | null = null;
  private mic: MediaStream | null = null;
  private node: AudioWorkletNode | null = null;
  private sending = false;
  private pending: ArrayBuffer[] = [];
  private audio: Uint8Array[] = [];
  private audioRate = TARGET_RATE;
  private stopRequested = false;
  /** the reply being played here */
  private player: { ctx: AudioContext; src: AudioBufferSourceNode } | null = null;
  /** the server listens for the answer to its question: the microphone streams without a button */
  private followUp = false;

  constructor(private readonly onChange: (s: ConversationState) => void) {}

  private dispatch(e: Parameters<typeof reduceConversation>[1]): void {
    this.state = reduceConversation(this.state, e);
    this.onChange(this.state);
  }

  /** the answer is being received or played: a press now is a barge-in */
  get answering(): boolean {
    return !!this.player || this.state.phase === 'thinking' || this.state.phase === 'speaking' || this.followUp;
  }

  /** barge-in: stop the reply here and at the server */
  private interrupt(): void {
    this.stopPlayback();
    const ws = this.ws;
    if (ws) {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'cancel' }));
      ws.close(1000);
      this.cleanup();
    }
    this.followUp = false;
  }

  private stopPlayback(): void {
    const p = this.player;
    this.player = null;
    if (!p) return;
    try {
      p.src.stop();
    } catch {
      /* not started */
    }
    void p.ctx.close().catch(() => {});
  }

  /** the microphone as 16-bit frames at `rate` (or less), to sendAudio */
  private async openMic(): Promise<number> {
    const mic = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
    this.mic = mic;
    const ctx = this.ctx ?? new AudioContext();
    this.ctx = ctx;
    await ctx.audioWorklet.addModule('/assets/admin/client/pcm-worklet.js');
    const rate = Math.min(TARGET_RATE, ctx.sampleRate);
    const node = new AudioWorkletNode(ctx, 'pcm-s16le', { numberOfInputs: 1, numberOfOutputs: 1, processorOptions: { targetRate: rate } });
    this.node = node;
    node.port.onmessage = (e: MessageEvent<ArrayBuffer>) => this.sendAudio(e.data);
    const sink = ctx.createGain();
    sink.gain.value = 0;
    ctx.createMediaStreamSource(mic).connect(node);
    node.connect(sink).connect(ctx.destination);
    return rate;
  }

  async start(): Promise<void> {
    if (this.answering) this.interrupt();
    if (this.ws) return;
    this.stopRequested = false;
    this.audio = [];
    this.pending = [];
    this.dispatch({ type: 'local_start' });
    const rate = await this.openMic();

    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/listen`);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.addEventListener('open', () => {
      // the release ends the question; the server may end it first, once it has heard a whole question
      const start: StartMessage = { type: 'start', sample_rate: rate, format: 's16le', channels: 1, audio: true };
      ws.send(JSON.stringify(start));
      this.sending = true;
      for (const b of this.pending) ws.send(b);
      this.pending = [];
      if (this.stopRequested) ws.send(JSON.stringify({ type: 'stop' }));
    });
    ws.addEventListener('message', (e: MessageEvent<string | ArrayBuffer>) => {
      if (typeof e.data === 'string') {
        let ev: unknown;
        try {
          ev = JSON.parse(e.data);
        } catch {
          return;
        }
        if (isServerEvent(ev)) this.onEvent(ev);
      } else {
        this.audio.push(new Uint8Array(e.data));
        this.dispatch({ type: 'audio_bytes', bytes: e.data.byteLength });
      }
    });
    ws.addEventListener('close', (e) => {
      if (this.state.phase !== 'idle')
        this.dispatch({ type: 'error', code: 'internal', message: e.code === 1008 || e.code === 4401 ? 'Not allowed: log in again.' : 'The connection closed before the answer came.' });
      this.cleanup();
    });
    ws.addEventListener('error', () => {
      /* a close event follows */
    });
  }

  private sendAudio(buf: ArrayBuffer): void {
    if (this.stopRequested && this.sending) return;
    if (buf.byteLength > MAX_AUDIO_FRAME_BYTES) return;
    if (this.sending && this.ws?.readyState === WebSocket.OPEN) this.ws.send(buf);
    else this.pending.push(buf);
  }

  private onEvent(ev: ServerEvent): void {
    if (ev.type === 'audio' && this.state.phase !== 'speaking') {
      this.audio = [];
      this.audioRate = ev.sample_rate;
    }
    if (ev.type === 'transcript') {
      // the server heard the whole question (or the answer): the microphone closes until the next one
      this.followUp = false;
      this.stopRequested = true;
      this.releaseMic();
    }
    if (ev.type === 'listening' && ev.follow_up) {
      this.sending = true;
      for (const b of this.pending) this.ws?.send(b);
      this.pending = [];
    }
    this.dispatch(ev);
    if (ev.type === 'done' || ev.type === 'error') {
      const chunks = this.audio;
      this.audio = [];
      if (ev.type === 'done' && chunks.length) void this.play(chunks, this.audioRate);
      if (ev.type === 'done' && ev.follow_up) {
        // the reply asked a question: keep the socket, open the microphone, the server listens for the answer
        this.followUp = true;
        this.stopRequested = false;
        this.sending = false;
        this.dispatch({ type: 'local_start' });
        this.openMic().catch(() => this.reset());
        return;
      }
      this.followUp = false;
      this.ws?.close(1000);
      this.cleanup();
    }
  }

  /** let go of the button: stop recording, keep the socket open for the answer */
  stop(): void {
    // the server already ended the question (it heard a whole one), maybe answered it and now listens
    // for an answer to its own question: the release must not end that
    if (this.stopRequested || this.followUp || this.state.phase !== 'listening') return;
    this.stopRequested = true;
    this.releaseMic();
    if (this.sending && this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'stop' }));
  }

  reset(): void {
    this.stopPlayback();
    this.followUp = false;
    this.ws?.close(1000);
    this.cleanup();
    this.state = initialConversation;
    this.onChange(this.state);
  }

  private releaseMic(): void {
    this.node?.port.close();
    this.node?.disconnect();
    this.node = null;
    this.mic?.getTracks().forEach((t) => t.stop());
    this.mic = null;
  }

  private cleanup(): void {
    this.releaseMic();
    this.ws = null;
    this.sending = false;
    this.pending = [];
    const ctx = this.ctx;
    this.ctx = null;
    void ctx?.close().catch(() => {});
  }

  private async play(chunks: Uint8Array[], rate: number): Promise<void> {
    const total = chunks.reduce((n, c) => n + c.byteLength, 0);
    const bytes = new Uint8Array(total - (total % 2));
    let off = 0;
    for (const c of chunks) {
      bytes.set(c.subarray(0, Math.min(c.byteLength, bytes.length - off)), off);
      off += c.byteLength;
      if (off >= bytes.length) break;
    }
    const view = new DataView(bytes.buffer);
    const n = bytes.length / 2;
    if (!n) return;
    this.stopPlayback();
    const ctx = new AudioContext();
    const buf = ctx.createBuffer(1, n, rate);
    const ch = buf.getChannelData(0);
    for (let i = 0; i < n; i++) ch[i] = view.getInt16(i * 2, true) / 32768;
    const src = ctx.createBufferSource();
    src.buffer = buf;
    src.connect(ctx.destination);
    const player = { ctx, src };
    this.player = player;
    src.addEventListener('ended', () => {
      if (this.player === player) this.player = null;
      void ctx.close().catch(() => {});
    });
    src.start();
  }
}
