/**
 * The server's voice turn reducer (assistant/voice/turn.ts), table-tested on its own: each row folds a
 * sequence of events from a starting state and checks the phase, the events sent to the client and the
 * effects asked of the plumbing. Also the completeness classifier (voice/complete.ts) that drives semantic
 * endpointing.
 */
import { describe, expect, it } from 'vitest';
import { initialTurn, reduceTurn, silenceNeeded, TURN_DEFAULTS, type Completeness, type TurnEffect, type TurnEvent, type TurnState } from '../dist/assistant/voice/turn.js';
import { CompletenessClassifier } from '../dist/assistant/voice/complete.js';
import { buildVocabulary } from '../dist/nlp/vocabulary.js';
import { manifestLabels } from '../dist/assistant/app.js';

const cfg = { ...TURN_DEFAULTS, maxUtteranceSeconds: 1, endSilenceMs: 200, prefixSilenceMs: 450, unsureSilenceMs: 300, statementSilenceMs: 450, trailingSilenceMs: 800, hesitationMs: 1500, speculateSilenceMs: 60, levelQuietMs: 100, levelGraceMs: 1000, vadQuietMinMs: 32, levelTrustRangeDb: 25, watchdogMs: 5000, followUpMs: 4000, noSpeechMs: 600 };

function fold(events: TurnEvent[], from: TurnState = initialTurn()) {
  let s = from;
  const effects: TurnEffect[] = [];
  for (const e of events) {
    const r = reduceTurn(s, e, cfg);
    s = r.state;
    effects.push(...r.effects);
  }
  return { s, effects, sent: effects.filter((f) => f.type === 'send').map((f) => (f as { event: { type: string } }).event), kinds: effects.map((f) => f.type) };
}
const sentTypes = (x: ReturnType<typeof fold>) => x.sent.map((e) => e.type);

const pcm = (ms: number) => new Uint8Array(Math.round(16 * ms) * 2);
const start: TurnEvent = { type: 'start', sample_rate: 16000 };
const opened: TurnEvent = { type: 'asr_opened', seq: 1 };
const prog = (text: string, silenceMs: number | null, complete: Completeness, seq = 1, loudQuietMs?: number, levelRangeDb?: number): TurnEvent => ({
  type: 'asr_progress',
  seq,
  text,
  silenceMs,
  speech: true,
  complete,
  ...(loudQuietMs === undefined ? {} : { loudQuietMs }),
  ...(levelRangeDb === undefined ? {} : { levelRangeDb }),
});
/** the recogniser's progress when its VAD has heard no voice (yet) */
const noVoice = (silenceMs: number, text = '', seq = 1, audioMs?: number): TurnEvent => ({ type: 'asr_progress', seq, text, silenceMs, speech: false, complete: text ? 'trailing' : 'incomplete', ...(audioMs === undefined ? {} : { audioMs }) });
const reply = (seq = 1, followUp = false) => ({
  type: 'answered' as const,
  seq,
  reply: { type: 'reply' as const, text: 'Your cup is on the table.', intent: 'find_item', outcome: 'found', item: 'cup', label: 'cup', sighting: null, timings: { asr_ms: 1, nlp_ms: 1, lookup_ms: 1, tts_ms: 1 }, follow_up: followUp },
  followUp,
  speech: true,
});
/** an answer with another outcome (no request in the words: "turn on the lights"; no words: "didn't catch that") */
const replyOf = (outcome: string, seq = 1) => ({ ...reply(seq), reply: { ...reply(seq).reply, text: 'I can help you find things.', intent: 'not_a_request', outcome, item: null, label: null } });
const listeningTurn = fold([start, opened]).s;
/** opened by the client's own voice detector */
const handsFreeTurn = fold([{ type: 'start', sample_rate: 16000, hands_free: true }, opened]).s;

describe('voice turn reducer: a table of event sequences', () => {
  const rows: Array<{ name: string; from?: TurnState; events: TurnEvent[]; phase: string; sent?: string[]; has?: string[]; not?: string[]; check?: (x: ReturnType<typeof fold>) => void }> = [
    { name: 'connect says ready', events: [{ type: 'connected' }], phase: 'idle', sent: ['ready'] },
    { name: 'start opens a recogniser stream; listening once it is open', events: [start, opened], phase: 'listening', sent: ['listening'], has: ['open_asr'] },
    {
      name: 'the stream is opened for endpointing (hands-free: it needs the VAD) unless the client will say stop',
      events: [start, opened, { type: 'stop' }, { type: 'asr_final', seq: 1, text: '', ms: 1 }, { type: 'start', sample_rate: 16000, endpoint: false }],
      phase: 'listening',
      check: (x) => expect(x.effects.filter((f) => f.type === 'open_asr').map((f) => (f as { endpointing: boolean }).endpointing)).toEqual([true, false]),
    },
    { name: 'a refused stream (busy) ends with a typed error', events: [start, { type: 'asr_refused', seq: 1, code: 'busy', message: 'x' }], phase: 'idle', sent: ['error'] },
    { name: 'bad sample rate', events: [{ type: 'start', sample_rate: 7999 }], phase: 'idle', sent: ['error'], not: ['open_asr'] },
    { name: 'wrong format', events: [{ type: 'start', sample_rate: 16000, format: 'f32le' }], phase: 'idle', sent: ['error'] },
    { name: 'audio before start', events: [{ type: 'audio', pcm: pcm(20) }], phase: 'idle', sent: ['error'] },
    { name: 'audio is written to the stream', from: listeningTurn, events: [{ type: 'audio', pcm: pcm(20) }], phase: 'listening', sent: [], has: ['write_asr'] },
    { name: 'an odd byte count fails the utterance, then its audio in flight is dropped', from: listeningTurn, events: [{ type: 'audio', pcm: new Uint8Array(3) }, { type: 'audio', pcm: pcm(20) }], phase: 'idle', sent: ['error'], has: ['abort_asr'] },
    { name: 'the length limit ends the utterance (max_length)', from: listeningTurn, events: [{ type: 'audio', pcm: pcm(1000) }], phase: 'finishing', has: ['finish_asr', 'set_timer'], check: (x) => expect(x.s.reason).toBe('max_length') },
    { name: 'stop ends the utterance; the final transcript is sent and answered', from: listeningTurn, events: [{ type: 'stop' }, { type: 'asr_final', seq: 1, text: 'where is my cup', ms: 20 }], phase: 'answering', sent: ['transcript'], has: ['finish_asr', 'answer'] },
    { name: 'the whole turn: reply, speech, done', from: listeningTurn, events: [{ type: 'stop' }, { type: 'asr_final', seq: 1, text: 'where is my cup', ms: 20 }, reply(), { type: 'spoken', seq: 1 }], phase: 'idle', sent: ['transcript', 'reply', 'done'], has: ['speak', 'clear_timer'] },
    { name: 'no speech wanted: done right after the reply', from: listeningTurn, events: [{ type: 'stop' }, { type: 'asr_final', seq: 1, text: 'where is my cup', ms: 20 }, { ...reply(), speech: false }], phase: 'idle', sent: ['transcript', 'reply', 'done'], not: ['speak'] },
    { name: 'max_length with nothing heard: too_long', from: listeningTurn, events: [{ type: 'audio', pcm: pcm(1000) }, { type: 'asr_final', seq: 1, text: '', ms: 5 }], phase: 'idle', sent: ['error'], check: (x) => expect((x.sent[0] as { code?: string }).code).toBe('too_long') },
    // semantic endpointing
    { name: 'a complete request ends after the short silence', from: listeningTurn, events: [prog('where is my cup', 0, 'complete'), prog('where is my cup', 100, 'complete'), prog('where is my cup', 200, 'complete')], phase: 'finishing', sent: ['partial'], has: ['speculate', 'finish_asr'], check: (x) => expect(x.s.reason).toBe('endpoint') },
    { name: 'the end says why (the endpoint, and the class of the words it ended on; stop without one)', from: listeningTurn, events: [prog('where is my cup', 200, 'complete')], phase: 'finishing', check: (x) => expect(x.effects.find((f) => f.type === 'finish_asr')).toEqual({ type: 'finish_asr', seq: 1, reason: 'endpoint', words: 'complete' }) },
    { name: '... stop', from: listeningTurn, events: [{ type: 'stop' }], phase: 'finishing', check: (x) => expect(x.effects.find((f) => f.type === 'finish_asr')).toEqual({ type: 'finish_asr', seq: 1, reason: 'stop', words: null }) },
    { name: 'a complete request is not ended before the short silence', from: listeningTurn, events: [prog('where is my cup', 190, 'complete')], phase: 'listening', has: ['speculate'], not: ['finish_asr'] },
    { name: 'an incomplete request waits through a hesitation', from: listeningTurn, events: [prog('where is my', 300, 'incomplete'), prog('where is my', 1000, 'incomplete')], phase: 'listening', not: ['finish_asr', 'speculate'] },
    { name: 'the recogniser\'s own endpoint does not end an incomplete request', from: listeningTurn, events: [prog('where is my', 600, 'incomplete'), { type: 'asr_endpoint', seq: 1, text: 'where is my', complete: 'incomplete' }], phase: 'listening', not: ['finish_asr'] },
    { name: 'a hesitation that never ends ends at the longest wait', from: listeningTurn, events: [prog('where is my', 1500, 'incomplete')], phase: 'finishing', has: ['finish_asr'] },
    { name: 'the item after a hesitation ends the utterance', from: listeningTurn, events: [prog('where is my', 900, 'incomplete'), prog('where is my keys', 0, 'complete'), prog('where is my keys', 220, 'complete')], phase: 'finishing', sent: ['partial', 'partial'] },
    { name: 'an item that could still grow waits longer', from: listeningTurn, events: [prog('where is my phone', 300, 'prefix')], phase: 'listening', not: ['finish_asr'] },
    { name: 'a whole sentence that is not a request ends after a longer silence (its reply is prepared meanwhile)', from: listeningTurn, events: [prog('turn on the lights', 200, 'statement')], phase: 'listening', has: ['speculate'], not: ['finish_asr'] },
    { name: '... and then ends', from: listeningTurn, events: [prog('turn on the lights', 450, 'statement')], phase: 'finishing' },
    { name: 'a sentence that trails ("tell me a") waits longer than a whole one', from: listeningTurn, events: [prog('tell me a', 500, 'trailing')], phase: 'listening', has: ['speculate'], not: ['finish_asr'] },
    { name: '... but not as long as a hesitation before an item', from: listeningTurn, events: [prog('tell me a', 800, 'trailing')], phase: 'finishing' },
    { name: 'unfinished words gone quiet: the recogniser is asked for its final words, once for the same words', from: listeningTurn, events: [prog('where are my', 100, 'incomplete'), prog('where are my', 260, 'incomplete'), prog('where are my', 400, 'incomplete')], phase: 'listening', check: (x) => expect(x.kinds.filter((k) => k === 'flush_asr')).toHaveLength(1) },
    { name: '... and again when its words changed (a flush gave "where remote": unsure, quiet long enough: it ends)', from: listeningTurn, events: [prog('where are my', 260, 'incomplete'), prog('where remote', 300, 'unsure')], phase: 'finishing', check: (x) => expect(x.kinds.filter((k) => k === 'flush_asr')).toHaveLength(1) },
    { name: 'a trailing sentence gone quiet is flushed too', from: listeningTurn, events: [prog('tell me a', 300, 'trailing')], phase: 'listening', has: ['flush_asr'] },
    { name: 'complete words are not flushed (their N-best stays one segment)', from: listeningTurn, events: [prog('where is my cup', 100, 'complete'), prog('where is my phone', 260, 'prefix')], phase: 'listening', not: ['flush_asr'] },
    { name: 'push-to-talk never flushes', from: fold([{ type: 'start', sample_rate: 16000, endpoint: false }, opened]).s, events: [prog('where are my', 1000, 'incomplete')], phase: 'listening', not: ['flush_asr', 'finish_asr'] },
    { name: 'speech with no word yet is not answered speculatively, and ends after the trailing wait', from: listeningTurn, events: [prog('', 700, 'trailing')], phase: 'listening', not: ['speculate', 'finish_asr'] },
    { name: '... then ends', from: listeningTurn, events: [prog('', 700, 'trailing'), prog('', 800, 'trailing')], phase: 'finishing', not: ['speculate'] },
    { name: 'a request whose item is unsure waits a little longer than a sure one, not a hesitation\'s wait', from: listeningTurn, events: [prog('where is my course', 250, 'unsure'), prog('where is my course', 300, 'unsure')], phase: 'finishing', has: ['speculate'] },
    { name: 'the level meter holds the end while a frame still stands out from the noise', from: listeningTurn, events: [prog('where is my knife', 250, 'complete', 1, 40), prog('where is my knife', 400, 'complete', 1, 60)], phase: 'listening', not: ['finish_asr'] },
    { name: '... and lets it end once the level has been quiet long enough', from: listeningTurn, events: [prog('where is my knife', 250, 'complete', 1, 40), prog('where is my knife', 300, 'complete', 1, 100)], phase: 'finishing', has: ['finish_asr'] },
    { name: 'in a quiet room the level meter\'s quiet ends it before the VAD\'s (once the VAD hears no speech)', from: listeningTurn, events: [prog('where is my cup', 40, 'complete', 1, 200, 30)], phase: 'finishing', has: ['speculate', 'finish_asr'] },
    { name: '... not while the VAD still hears speech', from: listeningTurn, events: [prog('where is my cup', 0, 'complete', 1, 200, 30)], phase: 'listening', not: ['speculate', 'finish_asr'] },
    { name: '... and not in a noisy room (narrow range): there only the VAD ends it', from: listeningTurn, events: [prog('where is my cup', 40, 'complete', 1, 200, 12)], phase: 'listening', not: ['finish_asr'] },
    { name: '... but not forever: the VAD\'s quiet wins after the grace time', from: listeningTurn, events: [prog('where is my knife', 1199, 'complete', 1, 0), prog('where is my knife', 1200, 'complete', 1, 0)], phase: 'finishing', check: (x) => expect(x.kinds.filter((k) => k === 'finish_asr')).toHaveLength(1) },
    { name: 'with a VAD the recogniser\'s own endpoint (its last segment only) does not end the utterance', from: listeningTurn, events: [prog('hey', 300, 'incomplete'), { type: 'asr_endpoint', seq: 1, text: 'hey', complete: 'statement' }], phase: 'listening', not: ['finish_asr'] },
    { name: 'push-to-talk (endpoint: false): quiet does not end it, stop does; it still speculates', from: fold([{ type: 'start', sample_rate: 16000, endpoint: false }, opened]).s, events: [prog('where is my cup', 900, 'complete'), { type: 'asr_endpoint', seq: 1, text: 'where is my cup', complete: 'complete' }], phase: 'listening', has: ['speculate'], not: ['finish_asr'] },
    { name: 'endpoint must be a boolean', events: [{ type: 'start', sample_rate: 16000, endpoint: 'no' }], phase: 'idle', sent: ['error'] },
    { name: 'the transcript says how much audio it covers', from: listeningTurn, events: [{ type: 'audio', pcm: pcm(500) }, { type: 'stop' }, { type: 'asr_final', seq: 1, text: 'where is my cup', ms: 2 }], phase: 'answering', check: (x) => expect(x.sent.at(-1)).toMatchObject({ type: 'transcript', heard_ms: 500 }) },
    { name: 'without a VAD the recogniser\'s endpoint decides', from: listeningTurn, events: [prog('where is my cup', null, 'incomplete'), { type: 'asr_endpoint', seq: 1, text: 'where is my cup', complete: 'complete' }], phase: 'finishing', not: ['speculate'] },
    // speculation
    { name: 'a speculation for words that changed is dropped', from: listeningTurn, events: [prog('where is my cup', 80, 'complete'), prog('where is my cupboard', 0, 'incomplete')], phase: 'listening', has: ['speculate', 'drop_speculation'] },
    { name: 'a final transcript that disagrees drops the speculation', from: listeningTurn, events: [prog('where is my cup', 80, 'complete'), { type: 'stop' }, { type: 'asr_final', seq: 1, text: 'where is my cap', ms: 3 }], phase: 'answering', has: ['speculate', 'drop_speculation', 'answer'] },
    { name: 'a final transcript that agrees keeps it', from: listeningTurn, events: [prog('where is my cup', 80, 'complete'), prog('where is my cup', 200, 'complete'), { type: 'asr_final', seq: 1, text: 'where is my cup', ms: 3 }], phase: 'answering', has: ['speculate', 'answer'], not: ['drop_speculation'] },
    // cancel / barge-in
    { name: 'cancel while speaking stops the audio and says done (cancelled)', from: listeningTurn, events: [{ type: 'stop' }, { type: 'asr_final', seq: 1, text: 'where is my cup', ms: 20 }, reply(), { type: 'cancel' }, { type: 'spoken', seq: 1 }], phase: 'idle', sent: ['transcript', 'reply', 'done'], has: ['stop_speech'], check: (x) => expect(x.sent.at(-1)).toEqual({ type: 'done', reason: 'cancelled' }) },
    { name: 'a new start while speaking stops the reply and listens (barge-in)', from: listeningTurn, events: [{ type: 'stop' }, { type: 'asr_final', seq: 1, text: 'where is my cup', ms: 20 }, reply(), start, { type: 'asr_opened', seq: 2 }, { type: 'spoken', seq: 1 }], phase: 'listening', sent: ['transcript', 'reply', 'listening'], has: ['stop_speech'], check: (x) => expect(x.s.seq).toBe(2) },
    { name: 'cancel while listening drops the utterance', from: listeningTurn, events: [{ type: 'cancel' }, { type: 'audio', pcm: pcm(20) }], phase: 'idle', sent: ['done'], has: ['abort_asr'] },
    { name: 'a late final of a cancelled utterance is ignored', from: listeningTurn, events: [{ type: 'stop' }, { type: 'cancel' }, { type: 'asr_final', seq: 1, text: 'where is my cup', ms: 1 }], phase: 'idle', sent: ['done'], not: ['answer'] },
    // watchdog
    { name: 'the watchdog ends a stuck answer with a typed error', from: listeningTurn, events: [{ type: 'stop' }, { type: 'asr_final', seq: 1, text: 'where is my cup', ms: 20 }, { type: 'timer', kind: 'watchdog', seq: 1 }, reply()], phase: 'idle', sent: ['transcript', 'error'], has: ['set_timer', 'stop_speech'], check: (x) => expect((x.sent[1] as { code?: string }).code).toBe('timeout') },
    { name: 'a stale watchdog of an earlier utterance is ignored', from: listeningTurn, events: [{ type: 'stop' }, { type: 'asr_final', seq: 1, text: 'x', ms: 1 }, reply(), { type: 'spoken', seq: 1 }, start, { type: 'asr_opened', seq: 2 }, { type: 'timer', kind: 'watchdog', seq: 1 }], phase: 'listening', not: ['abort_asr'] },
    // follow-up
    { name: 'a reply that asks a question: done (follow_up), then listening again on its own', from: listeningTurn, events: [{ type: 'stop' }, { type: 'asr_final', seq: 1, text: 'where is it', ms: 20 }, reply(1, true), { type: 'spoken', seq: 1 }, { type: 'asr_opened', seq: 2 }], phase: 'listening', sent: ['transcript', 'reply', 'done', 'listening'], check: (x) => { expect(x.sent[2]).toEqual({ type: 'done', follow_up: true }); expect(x.sent[3]).toEqual({ type: 'listening', sample_rate: 16000, follow_up: true }); expect(x.s.followUp).toBe(true); } },
    { name: 'nobody answers the follow-up: done (no_speech), quietly', from: listeningTurn, events: [{ type: 'stop' }, { type: 'asr_final', seq: 1, text: 'where is it', ms: 20 }, reply(1, true), { type: 'spoken', seq: 1 }, { type: 'asr_opened', seq: 2 }, { type: 'timer', kind: 'follow_up', seq: 2 }], phase: 'idle', has: ['abort_asr'], check: (x) => expect(x.sent.at(-1)).toEqual({ type: 'done', reason: 'no_speech' }) },
    { name: 'speech in the follow-up keeps listening past its timer', from: listeningTurn, events: [{ type: 'stop' }, { type: 'asr_final', seq: 1, text: 'where is it', ms: 20 }, reply(1, true), { type: 'spoken', seq: 1 }, { type: 'asr_opened', seq: 2 }, prog('yes', 0, 'complete', 2), { type: 'timer', kind: 'follow_up', seq: 2 }], phase: 'listening' },
    // hands-free, opened by a sound that was no voice
    { name: 'hands-free, no voice in noSpeechMs of audio: done (no_speech), quietly, nothing answered', from: handsFreeTurn, events: [{ type: 'audio', pcm: pcm(700) }, noVoice(700), { type: 'audio', pcm: pcm(20) }], phase: 'idle', sent: ['done'], has: ['abort_asr'], not: ['finish_asr', 'answer', 'speak'], check: (x) => { expect(x.sent[0]).toEqual({ type: 'done', reason: 'no_speech' }); expect(x.s.draining).toBe(true); } },
    { name: '... even when the recogniser made a word of the noise', from: handsFreeTurn, events: [{ type: 'audio', pcm: pcm(700) }, noVoice(700, 'the')], phase: 'idle', sent: ['partial', 'done'], not: ['answer'] },
    { name: 'what counts is the audio decoded, not what has arrived (a client sending faster than real time)', from: handsFreeTurn, events: [{ type: 'audio', pcm: pcm(900) }, noVoice(300, '', 1, 300)], phase: 'listening', sent: [] },
    { name: '... and once the decoded audio is past the bound: the quiet end', from: handsFreeTurn, events: [{ type: 'audio', pcm: pcm(900) }, noVoice(300, '', 1, 300), noVoice(620, '', 1, 620)], phase: 'idle', sent: ['done'] },
    { name: 'no voice in less audio than that: still listening', from: handsFreeTurn, events: [{ type: 'audio', pcm: pcm(500) }, noVoice(500)], phase: 'listening', sent: [] },
    { name: 'a voice heard: never ended for no speech', from: handsFreeTurn, events: [{ type: 'audio', pcm: pcm(300) }, prog('', 0, 'incomplete'), { type: 'audio', pcm: pcm(400) }, noVoice(400)], phase: 'listening', sent: [] },
    { name: 'hands-free, words but no request in them (talk in the room): the transcript, then done (not_a_request), nothing said', from: handsFreeTurn, events: [prog('turn on the lights', 500, 'statement'), { type: 'asr_final', seq: 1, text: 'turn on the lights', ms: 5 }, replyOf('not_understood')], phase: 'idle', has: ['stop_speech'], not: ['speak'], check: (x) => { expect(sentTypes(x).filter((t) => t !== 'partial')).toEqual(['transcript', 'done']); expect(x.sent.at(-1)).toEqual({ type: 'done', reason: 'not_a_request' }); } },
    { name: 'hands-free, a voice but no words: done (no_speech), not "didn\'t catch that"', from: handsFreeTurn, events: [prog('', 900, 'trailing'), { type: 'asr_final', seq: 1, text: '', ms: 5 }, replyOf('not_heard')], phase: 'idle', not: ['speak'], check: (x) => { expect(sentTypes(x)).toEqual(['transcript', 'done']); expect(x.sent.at(-1)).toEqual({ type: 'done', reason: 'no_speech' }); } },
    { name: 'hands-free, a request: answered aloud as ever', from: handsFreeTurn, events: [prog('where is my cup', 300, 'complete'), { type: 'asr_final', seq: 1, text: 'where is my cup', ms: 5 }, reply(), { type: 'spoken', seq: 1 }], phase: 'idle', has: ['speak'], check: (x) => expect(sentTypes(x).filter((t) => t !== 'partial')).toEqual(['transcript', 'reply', 'done']) },
    { name: 'a press: no request in the words is answered aloud (someone asked us)', from: listeningTurn, events: [{ type: 'stop' }, { type: 'asr_final', seq: 1, text: 'turn on the lights', ms: 5 }, replyOf('not_understood'), { type: 'spoken', seq: 1 }], phase: 'idle', has: ['speak'], sent: ['transcript', 'reply', 'done'] },
    { name: 'a press (no hands_free) waits for the person to speak: not ended for no speech', from: listeningTurn, events: [{ type: 'audio', pcm: pcm(700) }, noVoice(700)], phase: 'listening', sent: [] },
    {
      name: 'push-to-talk (endpoint false) is not either, even marked hands_free (stop ends it)',
      events: [{ type: 'start', sample_rate: 16000, endpoint: false, hands_free: true }, opened, { type: 'audio', pcm: pcm(700) }, noVoice(700)],
      phase: 'listening',
      sent: ['listening'],
    },
    { name: 'hands_free must be a boolean', events: [{ type: 'start', sample_rate: 16000, hands_free: 'yes' }], phase: 'idle', sent: ['error'], not: ['open_asr'] },
    { name: '... nor a follow-up after a hands-free question (its own timer ends it)', from: handsFreeTurn, events: [{ type: 'stop' }, { type: 'asr_final', seq: 1, text: 'where is it', ms: 20 }, reply(1, true), { type: 'spoken', seq: 1 }, { type: 'asr_opened', seq: 2 }, { type: 'audio', pcm: pcm(700) }, noVoice(700, '', 2)], phase: 'listening' },
    // the connection
    { name: 'close tears the utterance down', from: listeningTurn, events: [{ type: 'closed' }, { type: 'audio', pcm: pcm(20) }], phase: 'idle', sent: [], has: ['abort_asr'], check: (x) => expect(x.s.closed).toBe(true) },
    { name: 'the guard ends the connection with a typed error and a close', from: listeningTurn, events: [{ type: 'terminate', code: 'unauthorized', message: 'revoked', closeCode: 1008 }], phase: 'idle', sent: ['error'], has: ['abort_asr', 'close'] },
  ];
  for (const r of rows)
    it(r.name, () => {
      const x = fold(r.events, r.from);
      expect(x.s.phase).toBe(r.phase);
      if (r.sent) expect(sentTypes(x)).toEqual(r.sent);
      for (const k of r.has ?? []) expect(x.kinds, k).toContain(k);
      for (const k of r.not ?? []) expect(x.kinds, k).not.toContain(k);
      r.check?.(x);
    });

  it('silence needed grows with doubt', () => {
    expect(silenceNeeded(cfg, 'complete')).toBe(200);
    expect(silenceNeeded(cfg, 'unsure')).toBe(300);
    expect(silenceNeeded(cfg, 'statement')).toBe(450);
    expect(silenceNeeded(cfg, 'prefix')).toBe(450);
    expect(silenceNeeded(cfg, 'trailing')).toBe(800);
    expect(silenceNeeded(cfg, 'incomplete')).toBe(1500);
  });

  it('is pure: the state passed in is not changed', () => {
    const s = fold([start, opened]).s;
    const copy = JSON.stringify(s);
    reduceTurn(s, prog('where is my cup', 300, 'complete'), cfg);
    reduceTurn(s, { type: 'cancel' }, cfg);
    expect(JSON.stringify(s)).toBe(copy);
  });
});

describe('completeness of the words so far', () => {
  const c = new CompletenessClassifier(buildVocabulary(manifestLabels('yolox_nano')!));
  const table: Array<[string, string]> = [
    ['where', 'incomplete'],
    ['where is', 'incomplete'],
    ['where is my', 'incomplete'],
    ['where is my um', 'incomplete'],
    ['have you seen', 'incomplete'],
    ['where is my cup', 'complete'],
    ['where are my keys', 'complete'],
    ['have you seen my laptop', 'complete'],
    ['when did you last see my umbrella', 'complete'],
    ['where is my teddy bear', 'complete'],
    ['where is my teddy bear please', 'complete'],
    ['where is my phone', 'prefix'],
    ['where is my cup please', 'complete'],
    ['turn on the lights', 'statement'],
    ['play some music', 'statement'],
    // a sentence that is not a request and trails: it may go on, but not into an item
    ['turn on the', 'trailing'],
    ['tell me a', 'trailing'],
    ['what time is it', 'trailing'],
    // no word yet: the words come after the sound, and a pause may follow the first one
    ['', 'trailing'],
    // ... but a lead-in, one word (perhaps a misheard "hey"), or words of asking: the request may be coming
    ['a', 'incomplete'],
    ['hey could', 'incomplete'],
    // a greeting or filler before the request's first words: still its beginning
    ['hey could you', 'incomplete'],
    ['hey could you tell me', 'incomplete'],
    ['okay have you', 'incomplete'],
    ['hey do you know', 'incomplete'],
    ['excuse me', 'incomplete'],
    ['i was wondering', 'incomplete'],
    ['okay um', 'incomplete'],
    ['i think i put', 'incomplete'],
    ['i think i put my', 'incomplete'],
    ['was where like', 'trailing'],
    ['hey', 'incomplete'],
    ['okay so', 'incomplete'],
    // what a recogniser makes of whole requests: the item first, then words a request ends with
    ['do you know where my laptop is', 'complete'],
    ['could you tell me where my bottle is please', 'complete'],
    // stray words before the request (read as nlp/parse parseHeard reads them)
    ['the know where my remote', 'complete'],
    // the words are over, but the item is unsure: misheard, or followed by stray words
    ['where is my course', 'unsure'],
    ['where is my mouse them', 'unsure'],
    ['thank you', 'statement'],
    ['what about when like', 'incomplete'],
  ];
  for (const [text, want] of table) it(`"${text}" is ${want}`, () => expect(c.classify(text)).toBe(want));
  it('an answer to a pending question is complete', () => {
    expect(c.classify('yes', { lastItem: 'cup', lastLabel: 'cup', pending: { kind: 'confirm', item: 'cup', label: 'cup' }, at: 0 })).toBe('complete');
    expect(c.classify('yes')).not.toBe('complete');
    expect(c.classify('the cup', { lastItem: null, lastLabel: null, pending: { kind: 'which' }, at: 0 })).toBe('complete');
  });
  it('a request that ends in something the recogniser has no word for is whole, given a little more quiet', () => {
    expect(c.classify('where is my', null, true)).toBe('prefix');
    expect(c.classify('have you seen the', null, true)).toBe('prefix');
    expect(c.classify('where is my', null, false)).toBe('incomplete');
    expect(c.classify('where is', null, true)).toBe('incomplete');
  });
});
