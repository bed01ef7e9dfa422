// parseRequest + buildVocabulary together, the way assistant/answer.ts uses them: text -> intent -> label.
import { describe, expect, it } from 'vitest';
import { parseRequest, warmUp } from '../dist/nlp/parse.js';
import { buildVocabulary } from '../dist/nlp/vocabulary.js';
import { COCO_LABELS } from '../dist/nlp/coco-labels.js';

const coco = buildVocabulary(COCO_LABELS);
const ND = 'not_detectable';

type Row = [text: string, intent: 'find_item' | 'last_seen' | 'not_a_request', item: string | null, label: string | null];

// label: the COCO label the item resolves to, ND for not_detectable, null when there is no item
const ROWS: Row[] = [
  // plain "where is / are / was"
  ['where is my cup', 'find_item', 'cup', 'cup'],
  ['Where is my cup?', 'find_item', 'cup', 'cup'],
  ['WHERE IS MY CUP', 'find_item', 'cup', 'cup'],
  ['where are my keys', 'find_item', 'keys', ND],
  ["where's the tv remote", 'find_item', 'tv remote', 'remote'],
  ['wheres the remote', 'find_item', 'remote', 'remote'],
  ['where’s my phone?', 'find_item', 'phone', 'cell phone'],
  ['where was my bottle', 'find_item', 'bottle', 'bottle'],
  // a speech recogniser's slips around the request words
  ['where alarm my scissors', 'find_item', 'scissors', 'scissors'],
  ['where my phone', 'find_item', 'phone', 'cell phone'],
  ['where the heck my laptop', 'find_item', 'laptop', 'laptop'],
  ['where were my scissors', 'find_item', 'scissors', 'scissors'],
  ['where is our cat', 'find_item', 'cat', 'cat'],
  ['where is a book', 'find_item', 'book', 'book'],
  ['where are the knives', 'find_item', 'knives', 'knife'],
  ['where are my coffee mugs', 'find_item', 'coffee mugs', 'cup'],
  ['where is my cell phone', 'find_item', 'cell phone', 'cell phone'],
  ['where is my mobile', 'find_item', 'mobile', 'cell phone'],
  ['where is my mobile phone', 'find_item', 'mobile phone', 'cell phone'],
  ['where is my iphone', 'find_item', 'iphone', 'cell phone'],
  ['where is the telly', 'find_item', 'telly', 'tv'],
  ['where is the television', 'find_item', 'television', 'tv'],
  ['where is my laptop', 'find_item', 'laptop', 'laptop'],
  ['where is my notebook', 'find_item', 'notebook', 'laptop'],
  ['where is my handbag', 'find_item', 'handbag', 'handbag'],
  ['where is my purse', 'find_item', 'purse', 'handbag'],
  ['where is my rucksack', 'find_item', 'rucksack', 'backpack'],
  ['where is my blue backpack', 'find_item', 'blue backpack', 'backpack'],
  ['where is my brolly', 'find_item', 'brolly', 'umbrella'],
  ['where is my red umbrella', 'find_item', 'red umbrella', 'umbrella'],
  ['where is my red and white umbrella', 'find_item', 'red and white umbrella', 'umbrella'],
  ['where is the kitten', 'find_item', 'kitten', 'cat'],
  ['where is the puppy', 'find_item', 'puppy', 'dog'],
  ['where is my bike', 'find_item', 'bike', 'bicycle'],
  ['where is the football', 'find_item', 'football', 'sports ball'],
  ['where is the sofa', 'find_item', 'sofa', 'couch'],
  ['where is my wine glass', 'find_item', 'wine glass', 'wine glass'],
  ['where is my glass', 'find_item', 'glass', 'wine glass'],
  ['where is the hair dryer', 'find_item', 'hair dryer', 'hair drier'],
  ['where is the potted plant', 'find_item', 'potted plant', 'potted plant'],
  ['where is my teddy', 'find_item', 'teddy', 'teddy bear'],
  ["where is my son's teddy bear", 'find_item', 'teddy bear', 'teddy bear'],
  ["where is the kids' backpack", 'find_item', 'backpack', 'backpack'],
  ['where is my coffee mug in the kitchen', 'find_item', 'coffee mug', 'cup'],
  ['where is my cup of tea', 'find_item', 'cup of tea', 'cup'],
  ['where are my glasses', 'find_item', 'glasses', ND],
  ['where are my sunglasses', 'find_item', 'sunglasses', ND],
  ['where are my specs', 'find_item', 'specs', ND],
  ['where is my wallet', 'find_item', 'wallet', ND],
  ['where is my passport', 'find_item', 'passport', ND],
  ['where is my ring', 'find_item', 'ring', ND],
  ['where are my car keys', 'find_item', 'car keys', ND],
  ['where is my phone charger', 'find_item', 'phone charger', ND],
  ['whereabouts is my phone', 'find_item', 'phone', 'cell phone'],
  ['what are the whereabouts of my laptop', 'find_item', 'laptop', 'laptop'],
  // where did I leave / put
  ['where did I leave my keys', 'find_item', 'keys', ND],
  ['where did i put my phone', 'find_item', 'phone', 'cell phone'],
  ['Where did I put the remote control?', 'find_item', 'remote control', 'remote'],
  ["where'd I leave my book", 'find_item', 'book', 'book'],
  ['where did you see my backpack', 'find_item', 'backpack', 'backpack'],
  ['where did my phone go', 'find_item', 'phone', 'cell phone'],
  ['where has my cup got to', 'find_item', 'cup', 'cup'],
  ['where could my keys be', 'find_item', 'keys', ND],
  ['where did i put the book i was reading', 'find_item', 'book', 'book'],
  // have you seen / can you find
  ['have you seen my phone', 'find_item', 'phone', 'cell phone'],
  ['have you seen my phone anywhere?', 'find_item', 'phone', 'cell phone'],
  ['Have you seen the cat?', 'find_item', 'cat', 'cat'],
  ['did you see my umbrella today', 'find_item', 'umbrella', 'umbrella'],
  ['has anyone seen my bag', 'find_item', 'bag', 'handbag'],
  ['can you find my laptop', 'find_item', 'laptop', 'laptop'],
  ['could you find my bottle please', 'find_item', 'bottle', 'bottle'],
  ['can you help me find my wallet', 'find_item', 'wallet', ND],
  ['could you please help me find my handbag', 'find_item', 'handbag', 'handbag'],
  ['find my keys', 'find_item', 'keys', ND],
  ['find my red umbrella', 'find_item', 'red umbrella', 'umbrella'],
  ['help me find my schoolbag', 'find_item', 'schoolbag', 'backpack'],
  ['locate the clicker', 'find_item', 'clicker', 'remote'],
  ['can you see my mug', 'find_item', 'mug', 'cup'],
  // do you know where / tell me where
  ['do you know where my phone is', 'find_item', 'phone', 'cell phone'],
  ['Do you know where my keys are?', 'find_item', 'keys', ND],
  ['could you tell me where the remote is', 'find_item', 'remote', 'remote'],
  ['can you tell me where my laptop is please', 'find_item', 'laptop', 'laptop'],
  ['tell me where my backpack is', 'find_item', 'backpack', 'backpack'],
  ['any idea where my phone went', 'find_item', 'phone', 'cell phone'],
  ['i wonder if you know where my mug is', 'find_item', 'mug', 'cup'],
  ['which room is my laptop in', 'find_item', 'laptop', 'laptop'],
  ['is my phone around', 'find_item', 'phone', 'cell phone'],
  ['what happened to my umbrella', 'find_item', 'umbrella', 'umbrella'],
  ['my phone is missing', 'find_item', 'phone', 'cell phone'],
  // lost / can't find / looking for
  ['I lost my umbrella', 'find_item', 'umbrella', 'umbrella'],
  ["I've lost my phone", 'find_item', 'phone', 'cell phone'],
  ['i have misplaced my glasses', 'find_item', 'glasses', ND],
  ["I can't find my glasses", 'find_item', 'glasses', ND],
  ['I cannot find my cell phone', 'find_item', 'cell phone', 'cell phone'],
  ['i cant find my tv remote', 'find_item', 'tv remote', 'remote'],
  ["we can't find the dog", 'find_item', 'dog', 'dog'],
  ["I'm looking for my book", 'find_item', 'book', 'book'],
  ['i need to find my laptop', 'find_item', 'laptop', 'laptop'],
  // last seen
  ['when did you last see my cup', 'last_seen', 'cup', 'cup'],
  ['When did you last see my keys?', 'last_seen', 'keys', ND],
  ['when did you see my phone last', 'last_seen', 'phone', 'cell phone'],
  ['when was my laptop last seen', 'last_seen', 'laptop', 'laptop'],
  ['when is the last time you saw my backpack', 'last_seen', 'backpack', 'backpack'],
  ['what time did you last see the cat', 'last_seen', 'cat', 'cat'],
  // fillers, wake word, politeness
  ['um where is my cup', 'find_item', 'cup', 'cup'],
  ['uh where are my keys please', 'find_item', 'keys', ND],
  ['hey whereabouts where is my phone', 'find_item', 'phone', 'cell phone'],
  ['Hey Whereabouts, where did I leave my son’s teddy bear?', 'find_item', 'teddy bear', 'teddy bear'],
  ['ok whereabouts have you seen my mug', 'find_item', 'mug', 'cup'],
  ['okay whereabouts um could you tell me where my bottle is', 'find_item', 'bottle', 'bottle'],
  ['hello where is my laptop', 'find_item', 'laptop', 'laptop'],
  ['so um where did i put the uh scissors', 'find_item', 'scissors', 'scissors'],
  ['where is the cup please thank you', 'find_item', 'cup', 'cup'],
  ['where on earth is my phone', 'find_item', 'phone', 'cell phone'],
  ['the cup where is it', 'find_item', 'cup', 'cup'],
  ['is the remote in the kitchen', 'find_item', 'remote', 'remote'],
  // speech recogniser output: no punctuation, [unk], stray "the"
  ['where is the the cup', 'find_item', 'cup', 'cup'],
  ['the where is my cup the', 'find_item', 'cup', 'cup'],
  ['where is my [unk] phone', 'find_item', 'phone', 'cell phone'],
  ['[unk] where is my book', 'find_item', 'book', 'book'],
  ['where are my kids school bags', 'find_item', 'kids school bags', 'backpack'],
  // a find request without an item
  ['where is my', 'find_item', null, null],
  ['where is my [unk]', 'find_item', null, null],
  ['where is it', 'find_item', null, null],
  ['where are they', 'find_item', null, null],
  ['have you seen it', 'find_item', null, null],
  ['when did you last see it', 'last_seen', null, null],
  ['find', 'find_item', null, null],
  // not requests
  ["what's the weather", 'not_a_request', null, null],
  ['what is the weather like today', 'not_a_request', null, null],
  ['hello', 'not_a_request', null, null],
  ['where do my kids go to school', 'not_a_request', null, null],
  ['', 'not_a_request', null, null],
  ['   ', 'not_a_request', null, null],
  ['[unk]', 'not_a_request', null, null],
  ['?!', 'not_a_request', null, null],
  ['play some music', 'not_a_request', null, null],
  ['where am I', 'not_a_request', null, null],
  ['where are you', 'not_a_request', null, null],
  ['where are we going', 'not_a_request', null, null],
  ['turn off the lights', 'not_a_request', null, null],
  ['set a timer for ten minutes', 'not_a_request', null, null],
  ['find out what the weather is', 'not_a_request', null, null],
  ['thank you', 'not_a_request', null, null],
  ['hey whereabouts', 'not_a_request', null, null],
  ['what time is it', 'not_a_request', null, null],
  ['do you know what time it is', 'not_a_request', null, null],
  ['when is my appointment', 'not_a_request', null, null],
  ['where do you live', 'not_a_request', null, null],
  ['where is everybody', 'not_a_request', null, null],
  ['tell me a joke', 'not_a_request', null, null],
];

describe('parseRequest + vocabulary (COCO-80)', () => {
  it('finds every label of the model by its own name, in three phrasings', () => {
    const missed: string[] = [];
    for (const label of COCO_LABELS) {
      for (const text of [`where is my ${label}`, `have you seen my ${label}`, `when did you last see the ${label}`]) {
        const p = parseRequest(text);
        const r = p.item ? coco.resolve(p.item) : null;
        if (p.intent === 'not_a_request' || !r || r.kind !== 'label' || r.label !== label) missed.push(`${text} -> ${JSON.stringify(p)} ${JSON.stringify(r)}`);
      }
    }
    expect(COCO_LABELS.length).toBe(80);
    expect(missed).toEqual([]);
  });

  it.each(ROWS)('%j', (text, intent, item, label) => {
    const parsed = parseRequest(text);
    expect(parsed).toEqual({ intent, item });
    if (item === null) return;
    const match = coco.resolve(item);
    expect(match).toEqual(label === ND ? { kind: ND } : { kind: 'label', label });
  });
});

describe('parseRequest', () => {
  it('returns a fresh object each time (the cache is not shared with callers)', () => {
    const a = parseRequest('where is my cup');
    (a as { item: string | null }).item = 'changed';
    expect(parseRequest('where is my cup').item).toBe('cup');
  });

  it('copes with odd input', () => {
    expect(parseRequest(undefined as unknown as string)).toEqual({ intent: 'not_a_request', item: null });
    expect(parseRequest('where is my ' + 'very '.repeat(500) + 'long cup').intent).toBe('find_item');
    expect(parseRequest('WHERE IS MY CUP!!!').item).toBe('cup');
    expect(parseRequest('where-is-my-cup').item).toBe('cup');
  });

  it('cuts a trailing clause off a long item with compromise', () => {
    expect(parseRequest('where is my phone my mum gave me')).toEqual({ intent: 'find_item', item: 'phone' });
  });

  it('is fast once warm (well under a millisecond per call)', () => {
    warmUp();
    const texts: string[] = [];
    for (const f of ['where is my X', 'have you seen the X', 'um can you find my X please', 'when did you last see my X'])
      for (const i of ['cup', 'phone', 'tv remote', 'coffee mug', 'teddy bear', 'keys'])
        for (const p of ['', 'hey whereabouts ', 'ok ', 'uh '])
          for (const s of ['', '?', ' now']) texts.push(p + f.replace('X', i) + s);
    const t0 = performance.now();
    for (const t of texts) parseRequest(t);
    const perCall = (performance.now() - t0) / texts.length;
    expect(perCall).toBeLessThan(1);
  });
});
