/** Text normalisation shared by the vocabulary and the speech recognisers' output; loads nothing. */

/** lower case, letters/digits/apostrophes only, single spaces ("Cell_Phone" -> "cell phone") */
export function normalizeLabel(s: string): string {
  return s
    .toLowerCase()
    .replace(/[\u2018\u2019`\u00b4]/g, "'")
    .replace(/[_\-./]+/g, ' ')
    .replace(/[^a-z0-9' ]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
