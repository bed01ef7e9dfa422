/**
 * What one conversation remembers between turns, as plain JSON-serialisable data.
 *
 * The voice socket keeps one per connection; text clients get it back with each answer and may send it
 * with the next question (`POST /v1/query` `context`). It only steers how the next text is understood
 * ("and my phone?", "yes" to "did you mean your cup?"); every lookup is still scoped to the asking user.
 */

export type PendingQuestion =
  /** the assistant asked "did you mean your <item>?" */
  | { kind: 'confirm'; item: string; label: string }
  /** the assistant asked "which thing are you looking for?" */
  | { kind: 'which' };

export interface DialogContext {
  /** the item words and label the last answer was about */
  lastItem: string | null;
  lastLabel: string | null;
  /** a question the assistant asked and now waits an answer for */
  pending: PendingQuestion | null;
  /** the kind of the last question ("and my phone?" asks it again about the phone) */
  lastIntent?: 'find_item' | 'last_seen' | 'item_history' | 'show_item' | 'place_items' | null;
  /** the place the last "what's on the desk?" was about */
  lastPlace?: string | null;
  /** when this context was last updated (epoch ms) */
  at: number;
}

/** a context older than this no longer steers the next question */
export const DIALOG_TTL_MS = 2 * 60_000;

export const emptyDialog = (now: number): DialogContext => ({ lastItem: null, lastLabel: null, pending: null, at: now });

/** the context if it is still fresh at `now`, else null */
export function liveDialog(ctx: DialogContext | null | undefined, now: number): DialogContext | null {
  if (!ctx) return null;
  return now - ctx.at <= DIALOG_TTL_MS ? ctx : null;
}
