/**
 * Where the words a stream heard appeared (assistant/asr/heard.ts): the unknown-tail rule asks whether speech
 * came after that point, so words the recogniser takes back must not move it.
 */
import { describe, expect, it } from 'vitest';
import { HeardWords } from '../assistant/asr/heard.js';

describe('the words heard so far and where they appeared', () => {
  it('new words move the point; the same words do not', () => {
    const h = new HeardWords();
    h.set('where did i', 900);
    h.set('where did i', 1000);
    expect([h.text, h.atMs]).toEqual(['where did i', 900]);
    h.set('where did i put the', 1840);
    expect(h.atMs).toBe(1840);
  });

  it('words taken back keep the point where the words left first appeared', () => {
    const h = new HeardWords();
    h.set('where did i put the', 1840);
    h.set('where did i put the coffee', 2080);
    h.set('where did i put the car keys', 2320);
    // the recogniser drops its guess for the thing after speech has ended: "the" was heard at 1840
    h.set('where did i put the', 2560);
    expect([h.text, h.atMs]).toEqual(['where did i put the', 1840]);
    // everything taken back: where nothing was heard
    h.set('', 2600);
    expect(h.atMs).toBe(2600);
    // words that were never heard before, even if shorter: a change now
    const g = new HeardWords();
    g.set('where is my cup', 1500);
    g.set('where is', 1700);
    expect(g.atMs).toBe(1700);
  });

  it('a different guess of the same length is a change; only the last `max` word sets are remembered', () => {
    const h = new HeardWords(2);
    h.set('where is my', 500);
    h.set('where is my cup', 900);
    h.set('where is my car', 1000);
    expect(h.atMs).toBe(1000);
    // "where is my" fell out of the two remembered: taking back to it counts as new
    h.set('where is my', 1200);
    expect(h.atMs).toBe(1200);
  });
});
