/**
 * Don't guess (nlp/hearing.ts), tolerant parsing of recogniser output (nlp/parse.ts parseHeard), reading the
 * answer to a clarifying question, and the N-best parsing of libvosk results (assistant/asr/nbest.ts).
 * Table-driven; no model needed.
 */
import { describe, expect, it } from 'vitest';
import { decideHearing, readFollowUp, DEFAULT_THRESHOLDS } from '../dist/nlp/hearing.js';
import { parseHeard, parseRequest } from '../dist/nlp/parse.js';
import { buildVocabulary } from '../dist/nlp/vocabulary.js';
import { COCO_LABELS } from '../dist/nlp/coco-labels.js';
import { joinSegments, parseVoskResult } from '../dist/assistant/asr/nbest.js';

const vocab = buildVocabulary(COCO_LABELS);
const resolve = (i: string) => vocab.resolve(i);
const phrases = new Set([...vocab.phrases(), 'keys', 'wallet', 'glasses']);
const isPhrase = (i: string) => phrases.has(i);
const hear = (alts: Array<[string, number]>) => decideHearing(alts.map(([text, confidence]) => ({ text, confidence })), resolve, DEFAULT_THRESHOLDS, isPhrase);

describe('tolerant parsing of recogniser output (parseHeard)', () => {
  // [heard, expected item] — stray words before, inside and after; "is" heard as "as"/"this"; misheard verbs
  const finds: Array<[string, string]> = [
    ["a where's the cup", 'cup'],
    ['know where the cup this', 'cup'],
    ['okay know where is my clock', 'clock'],
    ['the know where my remote', 'remote'],
    ['when find my laptop', 'laptop'],
    ['where as my cup', 'cup'],
    ['where this my phone', 'phone'],
    ['where my cup this', 'cup'],
    ['can you seen the cup', 'cup'],
    ['have you see my book', 'book'],
    ['where did i pot the cup', 'cup'],
    ['where did i pat my keys', 'keys'],
    ['feet could you telly where my umbrella is please', 'umbrella'],
    ['though can you know where is my wallet', 'wallet'],
    ['where is my mouse them', 'mouse'],
    ['where is my cup', 'cup'],
  ];
  it.each(finds)('"%s" -> %s', (heard, item) => {
    const r = parseHeard(heard);
    expect(r.intent).toBe('find_item');
    expect(r.item).toBe(item);
  });

  const nonRequests = [
    'call mum', 'remind me to buy milk', 'volume up', 'good night', 'how tall is the eiffel tower', "what's the weather like",
    'turn on the lights', 'play some music', 'set a timer for ten minutes', 'what time is it', 'tell me a joke', 'stop',
    'add eggs to the shopping list', 'who won the match', 'thank you', 'open the curtains', 'the night', 'the knife', '',
    'okay', 'call my mum', 'remind me where the meeting is tomorrow please',
  ];
  it.each(nonRequests)('"%s" never becomes a find', (t) => {
    const r = parseHeard(t);
    expect(r.intent, t).toBe('not_a_request');
    // and it is not answered about an item either
    const h = decideHearing([{ text: t, confidence: 1 }], resolve, DEFAULT_THRESHOLDS, isPhrase);
    expect(h.kind === 'answer' && h.label !== null, `${t} -> ${JSON.stringify(h)}`).toBe(false);
  });

  it('"what about my books" is a follow-up question (answered as a find without a conversation)', () => {
    expect(parseHeard('what about my books')).toMatchObject({ item: 'books' });
    expect(parseHeard('the what about my books')).toMatchObject({ item: 'books' });
  });

  it('typed text keeps the plain parser: parseRequest is unchanged for clean questions', () => {
    expect(parseRequest('where is my red cup')).toEqual({ intent: 'find_item', item: 'red cup' });
    expect(parseRequest('okay know where is my clock').intent).toBe('not_a_request');
  });
});

describe("don't guess (decideHearing)", () => {
  it('nothing heard -> not_heard', () => {
    expect(hear([]).kind).toBe('not_heard');
    expect(hear([['', 1]]).kind).toBe('not_heard');
  });
  it('a sure item is answered', () => {
    const h = hear([['where is my cup', 0.8], ["where's my cup", 0.2]]);
    expect(h).toMatchObject({ kind: 'answer', label: 'cup', confidence: 1 });
  });
  it('alternatives that disagree on the item are asked about, never answered', () => {
    const h = hear([['when did you last see my cot', 0.5], ['when did you last see my cup', 0.5]]);
    expect(h.kind).toBe('confirm');
    const h2 = hear([['where is my cat', 0.45], ['where is my car', 0.35], ['where is my coffee', 0.2]]);
    expect(h2).toMatchObject({ kind: 'confirm', label: 'cat' });
  });
  it('picks the alternative that parses as a request with a known item', () => {
    // the best hypothesis names nothing; the second names a cup: ask about the cup rather than guessing
    const h = hear([['have you seen my good', 0.4], ['have you seen my book', 0.35], ['have you seen my bird', 0.25]]);
    expect(h).toMatchObject({ kind: 'confirm', label: 'book' });
    const sure = hear([['where my own', 0.1], ['where is my phone', 0.9]]);
    expect(sure).toMatchObject({ kind: 'answer', label: 'cell phone' });
  });
  it('a stray word after the item splits the belief: "my backpack van" is asked about', () => {
    expect(hear([['where is my backpack van', 1]]).kind).toBe('confirm');
    // a real two-word phrase of the vocabulary is not split
    expect(hear([['where is my tv remote', 1]])).toMatchObject({ kind: 'answer', label: 'remote' });
    // recogniser pieces resolved by their last word are not answered: "paint purse" -> ask
    expect(hear([["where's my paint purse then", 1]]).kind).not.toBe('answer');
  });
  it('an item the recogniser could not place ([unk]) -> which, never an item', () => {
    const h = hear([['where is my', 0.7], ['where is my cup', 0.3]]);
    expect(h.kind === 'answer').toBe(false);
    expect(hear([['i lost my', 1]])).toMatchObject({ kind: 'which', unknown: true });
  });
  it('things the detector cannot see are said so', () => {
    expect(hear([['where are my keys', 0.9], ['where are my keys and', 0.1]])).toMatchObject({ kind: 'answer', label: null });
  });
  it('non-requests stay non-requests even when a lesser alternative looks like a find', () => {
    expect(hear([['call mum', 0.8], ['where is my mug', 0.2]]).kind).toBe('not_request');
  });
  it('typed questions (no isPhrase: one certain hypothesis) answer modifiers as written', () => {
    const h = decideHearing([{ text: 'where is my red cup', confidence: 1 }], resolve);
    expect(h).toMatchObject({ kind: 'answer', label: 'cup' });
  });
});

describe('the answer to a clarifying question (readFollowUp)', () => {
  const table: Array<[string, string, string?]> = [
    ['yes', 'yes'], ['yeah', 'yes'], ['yes please', 'yes'], ["that's right", 'yes'], ['yep', 'yes'],
    ['no', 'no'], ['nope', 'no'], ['never mind', 'no'], ['no thanks', 'no'],
    ['the cup', 'item', 'cup'], ['my keys', 'item', 'keys'], ['no my phone', 'item', 'phone'], ['i meant the laptop', 'item', 'laptop'],
    ['where is my umbrella', 'item', 'umbrella'], ['', 'other'],
  ];
  it.each(table)('"%s" -> %s %s', (t, kind, item) => {
    const r = readFollowUp(t);
    expect(r.kind).toBe(kind);
    if (item) expect((r as { item: string }).item).toBe(item);
  });
});

describe('libvosk results -> N-best list (parseVoskResult)', () => {
  const nbest = JSON.stringify({
    alternatives: [
      { confidence: 185.4, text: 'when did you see my cot', result: [{ word: 'when', start: 0, end: 0.5 }, { word: 'my', start: 1.6, end: 1.9 }, { word: 'cot', start: 1.9, end: 2.3 }] },
      { confidence: 185.4, text: 'when did you see my cup', result: [{ word: 'when', start: 0, end: 0.5 }, { word: 'my', start: 1.6, end: 1.9 }, { word: 'cup', start: 1.9, end: 2.3 }] },
      { confidence: 183.1, text: 'when did you see my [unk]', result: [{ word: 'when', start: 0, end: 0.5 }, { word: 'my', start: 1.6, end: 1.9 }, { word: '[unk]', start: 1.9, end: 2.3 }] },
    ],
  });
  it('turns scores into shares of mass and words into N-best posteriors', () => {
    const p = parseVoskResult(nbest, 0.4);
    expect(p.text).toBe('when did you see my cot');
    expect(p.alternatives.map((a) => a.text)).toEqual(['when did you see my cot', 'when did you see my cup', 'when did you see my']);
    const sum = p.alternatives.reduce((s, a) => s + a.confidence, 0);
    expect(sum).toBeCloseTo(1, 2);
    expect(p.alternatives[0].confidence).toBeCloseTo(p.alternatives[1].confidence, 3);
    expect(p.alternatives[2].confidence).toBeLessThan(0.1);
    const conf = Object.fromEntries(p.words.map((w) => [w.word, w.conf]));
    expect(conf.when).toBeCloseTo(1, 2);
    expect(conf.cot).toBeLessThan(0.5);
  });
  it('the one-hypothesis shape keeps libvosk word confidences and drops unsure words from the text', () => {
    const p = parseVoskResult(JSON.stringify({ text: 'where is my cup', result: [{ word: 'where', conf: 1, start: 0, end: 1 }, { word: 'is', conf: 1, start: 1, end: 2 }, { word: 'my', conf: 1, start: 2, end: 3 }, { word: 'cup', conf: 0.2, start: 3, end: 4 }] }), 0.4);
    expect(p.text).toBe('where is my');
    expect(p.alternatives).toEqual([{ text: 'where is my cup', raw: 'where is my cup', confidence: 1 }]);
  });
  it('empty and broken results give nothing', () => {
    expect(parseVoskResult('{"text":""}', 0.4).alternatives).toEqual([]);
    expect(parseVoskResult('not json', 0.4).text).toBe('');
    expect(parseVoskResult('{"alternatives":[{"confidence":12,"text":""}]}', 0.4).text).toBe('');
  });
  it('joins endpointed segments: earlier segments prefix every alternative of the last', () => {
    const a = parseVoskResult(JSON.stringify({ alternatives: [{ confidence: 5, text: 'hey', result: [] }] }), 0.4);
    const b = parseVoskResult(nbest, 0.4);
    const j = joinSegments([a, b, parseVoskResult('{"text":""}', 0.4)]);
    expect(j.text).toBe('hey when did you see my cot');
    expect(j.alternatives[1].text).toBe('hey when did you see my cup');
  });
});
