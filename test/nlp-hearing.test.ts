/**
 * Don't guess (nlp/hearing.ts), tolerant parsing of recogniser output (nlp/parse.ts parseHeard), reading the
 * answer to a clarifying question, and the N-best parsing of libvosk results (assistant/asr/nbest.ts).
 * Table-driven; no model needed.
 */
import { describe, expect, it } from 'vitest';
import { decideHearing, readFollowUp, reviseHearing, DEFAULT_THRESHOLDS } from '../dist/nlp/hearing.js';
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
    ['where did i books my glasses', 'glasses'],
    ['where is my cell phone been', 'cell phone'],
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
  it('a request read only by guessing its verb counts half: asked about, not answered', () => {
    expect(hear([['where did i books my cup', 1]])).toMatchObject({ kind: 'confirm', label: 'cup' });
    expect(hear([['where did i put my cup', 0.6], ['where did i books my cup', 0.4]])).toMatchObject({ kind: 'answer', label: 'cup' });
    expect(hear([['where did i leave my ball', 0.3], ['where did i need my ball', 0.7]])).toMatchObject({ kind: 'confirm', label: 'sports ball' });
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

describe('the second look (reviseHearing): an unsure decision against a recogniser without the grammar', () => {
  const look = (text: string, conf = 0.95) => ({ text, words: text.split(' ').map((word) => ({ word, conf })) });
  const alts = (list: Array<[string, number]>) => list.map(([text, confidence]) => ({ text, confidence }));
  const truck = alts([
    ['where is my state lorries', 0.5],
    ['where is my cup', 0.3],
    ['where is my stay alarm', 0.2],
  ]);

  it('a sure thing the vocabulary does not know -> which (unknown item), never "did you mean ...?"', () => {
    const h = decideHearing(truck, resolve, DEFAULT_THRESHOLDS, isPhrase);
    expect(h.kind).toBe('confirm');
    const r = reviseHearing(h, truck, look('hey look you tell me where my stapler is please'), resolve, isPhrase);
    expect(r.verdict).toBe('unknown_item');
    expect(r.hearing).toMatchObject({ kind: 'which', unknown: true, intent: { item: null } });
    // garbled request words: the word after the last "my"/"the"
    expect(reviseHearing(h, truck, look('way up my calculator'), resolve, isPhrase).verdict).toBe('unknown_item');
    // at the threshold chosen on the tune split (0.55), and just under it
    expect(reviseHearing(h, truck, look('where is my stapler', 0.56), resolve, isPhrase).verdict).toBe('unknown_item');
    expect(reviseHearing(h, truck, look('where is my stapler', 0.54), resolve, isPhrase).verdict).toBe('no_evidence');
  });

  it('an unsure free word, or one that is not a thing, changes nothing', () => {
    const h = decideHearing(truck, resolve, DEFAULT_THRESHOLDS, isPhrase);
    expect(reviseHearing(h, truck, look('where is my stapler', 0.5), resolve, isPhrase)).toEqual({ hearing: h, verdict: 'no_evidence' });
    expect(reviseHearing(h, truck, look('where is my though his'), resolve, isPhrase).verdict).toBe('no_evidence');
    expect(reviseHearing(h, truck, look('where is my own'), resolve, isPhrase).verdict).toBe('no_evidence');
    expect(reviseHearing(h, truck, look(''), resolve, isPhrase).verdict).toBe('no_evidence');
  });

  it('"did you mean your X?" is answered when both recognisers name X; a label the list also read is answered too', () => {
    const list = alts([
      ['where is my toothbrushes please', 0.6],
      ['where is my truck please', 0.4],
    ]);
    const h = decideHearing(list, resolve, { answerAt: 0.7, confirmAt: 0.2 }, isPhrase);
    expect(h).toMatchObject({ kind: 'confirm', label: 'toothbrush' });
    expect(reviseHearing(h, list, look('could you tell me where my toothbrushes please', 0.5), resolve, isPhrase)).toMatchObject({ verdict: 'agree', hearing: { kind: 'answer', label: 'toothbrush' } });
    // below agreeAt (0.4): still asked
    expect(reviseHearing(h, list, look('could you tell me where my toothbrushes please', 0.3), resolve, isPhrase).verdict).toBe('no_evidence');
    // the second list reading, heard by the other recogniser: that one
    expect(reviseHearing(h, list, look('where is my truck', 0.5), resolve, isPhrase)).toMatchObject({ verdict: 'other_item', hearing: { kind: 'answer', label: 'truck', intent: { intent: 'find_item', item: 'truck' } } });
  });

  it('a label the list never read is answered only when named surely and as said ("bottle" for "balls"), never from a piece', () => {
    const balls = alts([
      ['could you tell me where my balls please', 0.45],
      ['could you tell me where my bowls please', 0.35],
      ['they could you tell me where my balls please', 0.2],
    ]);
    const h = decideHearing(balls, resolve, DEFAULT_THRESHOLDS, isPhrase);
    expect(h).toMatchObject({ kind: 'confirm', label: 'sports ball' });
    expect(reviseHearing(h, balls, look('hey could you tell me where my bottle is please', 0.95), resolve, isPhrase)).toMatchObject({ verdict: 'other_item', hearing: { kind: 'answer', label: 'bottle' } });
    expect(reviseHearing(h, balls, look('hey could you tell me where my bottle is please', 0.7), resolve, isPhrase).verdict).toBe('no_evidence');
    // "cup bag": its ending "bag" names a label, but only a piece of what was heard: still asked
    const bag = alts([['where is my cup bag', 1]]);
    const hb = decideHearing(bag, resolve, DEFAULT_THRESHOLDS, isPhrase);
    expect(hb.kind).toBe('confirm');
    expect(reviseHearing(hb, bag, look('where is my cup bag'), resolve, isPhrase).verdict).toBe('no_evidence');
    // an ending that names what the list read confirms it ("dumb knife" -> knife)
    const knife = alts([
      ['where has my young knife', 0.6],
      ['where has my young life', 0.4],
    ]);
    const hk = decideHearing(knife, resolve, DEFAULT_THRESHOLDS, isPhrase);
    expect(hk).toMatchObject({ kind: 'confirm', label: 'knife' });
    expect(reviseHearing(hk, knife, look('where is my dumb knife', 0.84), resolve, isPhrase)).toMatchObject({ verdict: 'agree', hearing: { kind: 'answer', label: 'knife' } });
  });

  it("the other recogniser's spelling of a word the list read ('cart' for 'cat'): that item, unless it could be two", () => {
    const cat = alts([
      ["where's my cat", 0.6],
      ["where's my kite", 0.25],
      ["where's my carrot", 0.15],
    ]);
    const h = decideHearing(cat, resolve, DEFAULT_THRESHOLDS, isPhrase);
    expect(h).toMatchObject({ kind: 'confirm', label: 'cat' });
    expect(reviseHearing(h, cat, look('we are my cart', 0.6), resolve, isPhrase)).toMatchObject({ verdict: 'agree', hearing: { kind: 'answer', label: 'cat' } });
    // "cart" is one letter from "cat" and from "car": no evidence for either
    const two = alts([
      ["where's my cat", 0.6],
      ["where's my car", 0.4],
    ]);
    const h2 = decideHearing(two, resolve, DEFAULT_THRESHOLDS, isPhrase);
    expect(reviseHearing(h2, two, look('we are my cart', 0.9), resolve, isPhrase).verdict).toBe('no_evidence');
  });

  it('a thing the detector cannot see, read by both, is named ("wallet"), not asked about', () => {
    const wallet = alts([
      ['where did i put let wallet', 0.5],
      ['where did i put my wallet', 0.3],
      ['where did i put a wallet', 0.2],
    ]);
    const h = decideHearing(wallet, resolve, DEFAULT_THRESHOLDS, isPhrase);
    expect(h.kind).toBe('which');
    expect(reviseHearing(h, wallet, look('where did i put to mum wallet', 0.73), resolve, isPhrase)).toMatchObject({ verdict: 'other_item', hearing: { kind: 'answer', label: null, intent: { item: 'wallet' } } });
  });

  it('a sure decision is left alone (no second look is taken for it)', () => {
    const sure = alts([['where is my cup', 1]]);
    const h = decideHearing(sure, resolve, DEFAULT_THRESHOLDS, isPhrase);
    expect(h.kind).toBe('answer');
    expect(reviseHearing(h, sure, look('where is my stapler'), resolve, isPhrase)).toEqual({ hearing: h, verdict: 'no_evidence' });
  });
});
