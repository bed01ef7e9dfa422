/**
 * Household words for detector labels. Each entry is a label and the words people use for it; a word is only
 * used when its label is in the active model's label set, and when two labels claim the same word ("bag"), the
 * first entry whose label exists wins (so "bag" is a handbag with COCO, and a backpack for a model without
 * handbags). Nothing here assumes COCO: entries for labels the model lacks are simply ignored.
 */
export const DEFAULT_SYNONYMS: ReadonlyArray<readonly [label: string, words: readonly string[]]> = [
  ['cell phone', ['phone', 'mobile', 'mobile phone', 'cellphone', 'cell', 'smartphone', 'smart phone', 'iphone', 'android',
    'android phone', 'telephone', 'handset', 'mobile telephone']],
  ['cup', ['mug', 'coffee cup', 'coffee mug', 'teacup', 'tea cup', 'tea mug', 'beaker', 'tumbler']],
  ['wine glass', ['glass', 'wineglass', 'drinking glass', 'champagne glass', 'water glass']],
  // when a model has cups but no wine glasses, a drinking glass is the nearest thing
  ['cup', ['glass', 'drinking glass']],
  ['tv', ['telly', 'television', 'tv set', 'television set', 'telly box', 'tele', 'monitor', 'computer monitor', 'tvmonitor',
    'tv monitor', 't v']],
  ['couch', ['sofa', 'settee', 'sofa bed', 'loveseat', 'love seat', 'chesterfield']],
  ['sofa', ['couch', 'settee', 'loveseat', 'love seat']],
  ['handbag', ['purse', 'bag', 'hand bag', 'shoulder bag', 'tote', 'tote bag', 'clutch bag']],
  ['backpack', ['rucksack', 'bag', 'schoolbag', 'school bag', 'knapsack', 'back pack', 'book bag', 'bookbag', 'daypack']],
  ['laptop', ['notebook', 'computer', 'laptop computer', 'notebook computer', 'macbook', 'chromebook', 'pc']],
  ['remote', ['remote control', 'clicker', 'tv remote', 'telly remote', 'zapper', 'remote controller', 'controller',
    'television remote']],
  ['dining table', ['table', 'kitchen table', 'dinner table', 'dining room table', 'coffee table', 'diningtable']],
  ['potted plant', ['plant', 'houseplant', 'house plant', 'pot plant', 'plant pot', 'flowerpot', 'flower pot',
    'pottedplant']],
  ['cat', ['kitty', 'kitten', 'kitty cat', 'moggy', 'moggie', 'pussycat']],
  ['dog', ['puppy', 'doggy', 'doggie', 'pup', 'pooch', 'hound']],
  ['bicycle', ['bike', 'push bike', 'pushbike', 'cycle', 'push bicycle']],
  ['motorcycle', ['motorbike', 'motor bike', 'motor cycle']],
  ['sports ball', ['ball', 'football', 'soccer ball', 'basketball', 'tennis ball', 'rugby ball', 'volleyball',
    'beach ball', 'netball']],
  ['umbrella', ['brolly', 'parasol']],
  // not "thermos": a thermos is its own thing, and people asking for one must not be answered about a bottle
  ['bottle', ['water bottle', 'flask', 'drink bottle', 'drinks bottle']],
  ['book', ['novel', 'paperback', 'hardback', 'textbook', 'storybook', 'story book', 'cookbook', 'recipe book']],
  ['hair drier', ['hair dryer', 'hairdryer', 'hairdrier', 'blow dryer', 'blow drier', 'blowdryer']],
  ['hair dryer', ['hair drier', 'hairdryer', 'hairdrier', 'blow dryer', 'blow drier', 'blowdryer']],
  ['toothbrush', ['tooth brush', 'electric toothbrush']],
  ['teddy bear', ['teddy', 'teddybear', 'soft toy', 'stuffed animal', 'stuffed toy', 'cuddly toy', 'plushie', 'plush toy']],
  ['keyboard', ['keypad', 'computer keyboard']],
  ['mouse', ['computer mouse', 'trackball']],
  ['refrigerator', ['fridge', 'fridge freezer', 'icebox']],
  ['microwave', ['microwave oven']],
  ['oven', ['cooker', 'stove']],
  ['sink', ['basin', 'washbasin', 'wash basin', 'kitchen sink']],
  ['toilet', ['loo', 'lavatory', 'wc']],
  ['car', ['automobile', 'motor car', 'motorcar']],
  ['truck', ['lorry', 'pickup', 'pickup truck', 'van']],
  ['airplane', ['aeroplane', 'plane', 'aircraft']],
  ['aeroplane', ['airplane', 'plane', 'aircraft']],
  ['tie', ['necktie', 'bow tie', 'bowtie']],
  ['suitcase', ['luggage', 'travel bag', 'trolley case', 'carry on']],
  ['frisbee', ['flying disc']],
  ['tennis racket', ['racket', 'racquet', 'tennis racquet']],
  ['baseball glove', ['mitt', 'baseball mitt']],
  ['baseball bat', ['bat', 'cricket bat']],
  ['skateboard', ['skate board']],
  ['surfboard', ['surf board']],
  ['spoon', ['teaspoon', 'tablespoon', 'dessert spoon']],
  ['bowl', ['cereal bowl', 'dish']],
  ['sandwich', ['sarnie', 'butty']],
  ['hot dog', ['hotdog']],
  ['donut', ['doughnut']],
  ['doughnut', ['donut']],
  ['chair', ['armchair', 'arm chair', 'office chair', 'desk chair']],
  ['bed', ['cot', 'crib']],
  ['clock', ['alarm clock', 'wall clock']],
  ['vase', ['flower vase']],
  ['person', ['human']],
  // for models that do know spectacles
  ['glasses', ['spectacles', 'specs', 'eyeglasses', 'reading glasses', 'sunglasses', 'sunnies', 'shades']],
  ['spectacles', ['glasses', 'specs', 'eyeglasses', 'reading glasses']],
  ['keys', ['key', 'car keys', 'house keys', 'door keys', 'keyring', 'key ring', 'bunch of keys', 'set of keys']],
  ['key', ['keys', 'car key', 'house key', 'door key', 'keyring', 'key ring']],
  ['wallet', ['purse', 'billfold', 'card holder']],
];

/**
 * Spoken words that name something a detector label could be mistaken for but is not: "glasses" (spectacles)
 * must not turn into "wine glass". These are not_detectable unless the model itself has a label (or the caller a
 * synonym) for them.
 */
export const NOT_DETECTABLE_WORDS: readonly string[] = [
  'glasses', 'spectacles', 'specs', 'sunglasses', 'sunnies', 'shades', 'eyeglasses', 'reading glasses',
  'glasses case', 'phone case', 'baby monitor', 'tea bag', 'teabag', 'bin bag',
];

/** words that sound like a quantity or container before "of": "pair of scissors" names the scissors */
export const QUANTITY_WORDS: ReadonlySet<string> = new Set([
  'pair', 'set', 'bunch', 'couple', 'pile', 'stack', 'load', 'lot', 'lots', 'bit', 'piece', 'kind', 'sort', 'type',
]);
