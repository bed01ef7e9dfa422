/**
 * Places, not items. Furniture, fixtures, vehicles and people are what things are on, in or next to ("on the
 * dining table", "next to someone"), not things one loses: by default they are not listed as items or
 * suggested as examples. They stay in the vocabulary, so "where is the couch?" is still answered, and each user
 * may choose their own set (`GET/PUT /v1/settings/labels`).
 *
 * Also here: matching a spoken place ("the kitchen counter", "my desk") against the names of a user's zones and
 * rooms. Pure; no I/O. Nothing assumes COCO: labels are matched by name, and a custom model's "desk" or
 * "kitchen shelf" is a place by its last word.
 */
import { normalizeLabel } from './vocabulary.js';
import { singular } from './inflect.js';

/** labels that name a place or context (normalised names) */
const PLACE_NAMES = new Set([
  'person', 'people', 'man', 'woman', 'child', 'human',
  'bench', 'chair', 'couch', 'sofa', 'bed', 'dining table', 'diningtable', 'table', 'desk', 'toilet', 'tv',
  'tvmonitor', 'tv monitor', 'refrigerator', 'fridge', 'oven', 'sink', 'microwave', 'toaster', 'potted plant',
  'pottedplant', 'shelf', 'bookshelf', 'cabinet', 'cupboard', 'counter', 'worktop', 'wardrobe', 'dresser',
  'car', 'bus', 'train', 'truck', 'boat', 'airplane', 'aeroplane', 'traffic light', 'fire hydrant', 'stop sign',
  'parking meter',
]);
/** a custom label ending in one of these is a place too ("kitchen shelf", "office desk") */
const PLACE_HEADS = new Set(['table', 'desk', 'shelf', 'shelves', 'counter', 'worktop', 'cabinet', 'cupboard', 'sofa', 'couch', 'bench', 'bed', 'chair']);

/** true when a label is a place/context label by default */
export function isDefaultPlaceLabel(label: string): boolean {
  const n = normalizeLabel(label);
  if (PLACE_NAMES.has(n)) return true;
  const head = n.slice(n.lastIndexOf(' ') + 1);
  return PLACE_HEADS.has(head);
}

/** the default place labels among a model's labels */
export function defaultPlaceLabels(labels: readonly string[]): string[] {
  return labels.filter(isDefaultPlaceLabel);
}

const ARTICLES = new Set(['the', 'my', 'our', 'a', 'an', 'your', 'his', 'her', 'their', 'this', 'that']);

/** "The Kitchen-Counter" -> "kitchen counter", "my desk" -> "desk", "shoe racks" -> "shoe rack" */
export function placeKey(name: string): string {
  const words = normalizeLabel(name)
    .replace(/'s\b/g, 's')
    .replace(/'/g, '')
    .split(' ')
    .filter((w) => w.length > 0);
  while (words.length > 1 && ARTICLES.has(words[0])) words.shift();
  if (words.length > 0) words[words.length - 1] = singular(words[words.length - 1]);
  return words.join(' ');
}

export interface NamedPlace<T> {
  name: string;
  value: T;
}

/**
 * The places whose name matches what was said: an exact match of the keys first; else places whose key ends
 * with what was said ("counter" -> "kitchen counter") or that end what was said ("the kitchen area" ->
 * "kitchen" is not taken: only whole-key matches and key endings).
 */
export function matchPlaces<T>(said: string, places: readonly NamedPlace<T>[]): NamedPlace<T>[] {
  const k = placeKey(said);
  if (!k) return [];
  const exact = places.filter((p) => placeKey(p.name) === k);
  if (exact.length) return exact;
  return places.filter((p) => {
    const pk = placeKey(p.name);
    return pk.endsWith(` ${k}`);
  });
}
