import { describe, expect, it } from 'vitest';
import { buildVocabulary } from '../dist/nlp/vocabulary.js';
import { COCO_LABELS } from '../dist/nlp/coco-labels.js';

const ND = { kind: 'not_detectable' };
const L = (label: string) => ({ kind: 'label', label });

describe('buildVocabulary with COCO-80', () => {
  const v = buildVocabulary(COCO_LABELS);

  it('keeps the labels as given', () => {
    expect(v.labels).toEqual(COCO_LABELS);
    expect(v.labels.length).toBe(80);
  });

  it.each([
    // exact labels, every one of them
    ...COCO_LABELS.map((l) => [l, l] as const),
    // plurals, regular and irregular
    ['cups', 'cup'], ['knives', 'knife'], ['mice', 'mouse'], ['wine glasses', 'wine glass'], ['buses', 'bus'],
    ['benches', 'bench'], ['couches', 'couch'], ['sandwiches', 'sandwich'], ['toothbrushes', 'toothbrush'],
    ['people', 'person'], ['ski', 'skis'], ['tvs', 'tv'], ['teddy bears', 'teddy bear'], ['hot dogs', 'hot dog'],
    ['phones', 'cell phone'], ['mugs', 'cup'], ['remotes', 'remote'], ['sheep', 'sheep'],
    // multi-word labels and their spellings
    ['cellphone', 'cell phone'], ['hair dryer', 'hair drier'], ['hairdryer', 'hair drier'], ['teddybear', 'teddy bear'],
    ['hotdog', 'hot dog'], ['doughnut', 'donut'], ['Cell-Phone', 'cell phone'],
    // household synonyms
    ['phone', 'cell phone'], ['mobile', 'cell phone'], ['mobile phone', 'cell phone'], ['smartphone', 'cell phone'],
    ['iphone', 'cell phone'], ['mug', 'cup'], ['coffee cup', 'cup'], ['teacup', 'cup'], ['telly', 'tv'],
    ['television', 'tv'], ['tv set', 'tv'], ['sofa', 'couch'], ['settee', 'couch'], ['purse', 'handbag'],
    ['bag', 'handbag'], ['glass', 'wine glass'], ['notebook', 'laptop'], ['computer', 'laptop'],
    ['remote control', 'remote'], ['clicker', 'remote'], ['tv remote', 'remote'], ['table', 'dining table'],
    ['kitchen table', 'dining table'], ['plant', 'potted plant'], ['houseplant', 'potted plant'], ['kitty', 'cat'],
    ['kitten', 'cat'], ['puppy', 'dog'], ['doggy', 'dog'], ['bike', 'bicycle'], ['ball', 'sports ball'],
    ['football', 'sports ball'], ['rucksack', 'backpack'], ['schoolbag', 'backpack'], ['brolly', 'umbrella'],
    ['fridge', 'refrigerator'], ['microwave oven', 'microwave'], ['motorbike', 'motorcycle'], ['teddy', 'teddy bear'],
    // modifiers in front of the head noun fall away
    ['coffee mug', 'cup'], ['red umbrella', 'umbrella'], ['my blue backpack', 'backpack'], ['kindle book', 'book'],
    ['big red coffee mugs', 'cup'], ['old leather handbag', 'handbag'], ['kids school bags', 'backpack'],
    ['electric toothbrush', 'toothbrush'], ['dining room table', 'dining table'],
    // determiners, possessors, qualifiers
    ['the cup', 'cup'], ["my son's teddy bear", 'teddy bear'], ["the kids' backpack", 'backpack'],
    ['cup of tea', 'cup'], ['pair of scissors', 'scissors'], ['remote for the tv', 'remote'],
    ['bottle of wine', 'bottle'], ['  CUP  ', 'cup'], ['cup and saucer', 'cup'],
  ] as const)('%j -> %s', (item, label) => {
    expect(v.resolve(item)).toEqual(L(label));
  });

  it.each([
    'keys', 'key', 'car keys', 'wallet', 'glasses', 'reading glasses', 'sunglasses', 'specs', 'spectacles',
    'pair of glasses', 'passport', 'ring', 'phone charger', 'shoes', 'headphones', 'watch', 'hat', '', 'the',
    '[unk]', 'glasses case',
  ])('%j is not detectable', (item) => {
    expect(v.resolve(item)).toEqual(ND);
  });

  it('phrases() names every label, with plurals and synonyms, and nothing not detectable', () => {
    const p = v.phrases();
    for (const l of COCO_LABELS) expect(p).toContain(l);
    for (const w of ['cups', 'phone', 'phones', 'mug', 'telly', 'sofa', 'wine glasses', 'mice', 'knives', 'teddy'])
      expect(p).toContain(w);
    for (const w of ['glasses', 'keys', 'wallet', 'specs']) expect(p).not.toContain(w);
    expect(new Set(p).size).toBe(p.length);
    for (const w of p) expect(w).toMatch(/^[a-z0-9' ]+$/);
    // every phrase resolves back to a label
    for (const w of p) expect(v.resolve(w).kind).toBe('label');
  });

  it('examples() prefers household things', () => {
    expect(v.examples(3)).toEqual(['cup', 'cell phone', 'laptop']);
    expect(v.examples(0)).toEqual([]);
    expect(v.examples(200)).toHaveLength(80);
  });
});

describe('buildVocabulary with a custom label set', () => {
  const v = buildVocabulary(['keys', 'wallet', 'glasses']);

  it.each([
    ['keys', 'keys'], ['key', 'keys'], ['car keys', 'keys'], ['my keys', 'keys'],
    ['wallet', 'wallet'], ['wallets', 'wallet'], ['brown wallet', 'wallet'], ['glasses', 'glasses'],
    ['reading glasses', 'glasses'], ['sunglasses', 'glasses'], ['specs', 'glasses'], ['spectacles', 'glasses'],
  ] as const)('%j', (item, label) => {
    expect(v.resolve(item)).toEqual(L(label));
  });

  it.each(['cup', 'phone', 'mug', 'laptop', 'dining table', 'bag'])('%j is not detectable here', (item) => {
    expect(v.resolve(item)).toEqual(ND);
  });

  it('phrases and examples come from this model only', () => {
    const p = v.phrases();
    expect(p).toEqual(expect.arrayContaining(['keys', 'key', 'wallet', 'wallets', 'glasses', 'spectacles']));
    expect(p).not.toContain('cup');
    expect(p).not.toContain('phone');
    expect(v.examples(5)).toEqual(['keys', 'wallet', 'glasses']);
  });
});

describe('buildVocabulary options and edge cases', () => {
  it('takes caller synonyms in either direction, before the built-in ones', () => {
    const v = buildVocabulary(['cup', 'wine glass', 'handbag', 'backpack'], {
      synonyms: { backpack: ['bag', 'satchel'], beaker: ['cup'] },
    });
    expect(v.resolve('bag')).toEqual(L('backpack'));
    expect(v.resolve('satchels')).toEqual(L('backpack'));
    expect(v.resolve('beaker')).toEqual(L('cup'));
    expect(v.resolve('purse')).toEqual(L('handbag'));
  });

  it('picks the next label for a shared word when the first is missing', () => {
    const v = buildVocabulary(['backpack', 'cup']);
    expect(v.resolve('bag')).toEqual(L('backpack'));
    expect(v.resolve('glass')).toEqual(L('cup'));
    expect(v.resolve('glasses')).toEqual(ND);
  });

  it('returns labels spelled as the model spells them', () => {
    const v = buildVocabulary(['Cell_Phone', 'TV', 'dining-table']);
    expect(v.resolve('phone')).toEqual(L('Cell_Phone'));
    expect(v.resolve('cell phones')).toEqual(L('Cell_Phone'));
    expect(v.resolve('telly')).toEqual(L('TV'));
    expect(v.resolve('kitchen table')).toEqual(L('dining-table'));
  });

  it('handles an empty label set', () => {
    const v = buildVocabulary([]);
    expect(v.resolve('cup')).toEqual(ND);
    expect(v.phrases()).toEqual([]);
    expect(v.examples(3)).toEqual([]);
  });

  it('a label that contains "of" is matched whole', () => {
    const v = buildVocabulary(['cup of tea', 'cup']);
    expect(v.resolve('cup of tea')).toEqual(L('cup of tea'));
    expect(v.resolve('cup of coffee')).toEqual(L('cup'));
  });
});
