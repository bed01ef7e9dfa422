/**
 * "Hold to talk": the browser microphone streamed over the voice WebSocket (`/v1/listen`, authenticated
 * by the same-origin session cookie) as s16le mono 16 kHz frames; server events are folded with the
 * shared reducer from assistant/protocol.ts; the spoken reply (s16le) is played back when it has arrived.
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

  constructor(private readonly onChange: (s: ConversationState) => void) {}

  private dispatch(e: Parameters<typeof reduceConversation>[1]): void {
    this.state = reduceConversation(this.state, e);
    this.onChange(this.state);
  }

  async start(): Promise<void> {
    if (this.ws) return;
    this.stopRequested = false;
    this.audio = [];
    this.pending = [];
    this.dispatch({ type: 'local_start' });
    const mic = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
    this.mic = mic;
    const ctx = new AudioContext();
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

    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/listen`);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.addEventListener('open', () => {
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
    if (ev.type === 'audio') {
      this.audio = [];
      this.audioRate = ev.sample_rate;
    }
    this.dispatch(ev);
    if (ev.type === 'done' || ev.type === 'error') {
      const chunks = this.audio;
      this.audio = [];
      if (ev.type === 'done' && chunks.length) void this.play(chunks, this.audioRate);
      this.ws?.close(1000);
      this.cleanup();
    }
  }

  /** let go of the button: stop recording, keep the socket open for the answer */
  stop(): void {
    this.stopRequested = true;
    this.releaseMic();
    if (this.sending && this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'stop' }));
  }

  reset(): void {
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
    const ctx = new AudioContext();
    const buf = ctx.createBuffer(1, n, rate);
    const ch = buf.getChannelData(0);
    for (let i = 0; i < n; i++) ch[i] = view.getInt16(i * 2, true) / 32768;
    const src = ctx.createBufferSource();
    src.buffer = buf;
    src.connect(ctx.destination);
    src.addEventListener('ended', () => void ctx.close().catch(() => {}));
    src.start();
  }
}
