/** Stream defaults shared by the config loader and the relay (no imports: safe anywhere). */

/** A stream's takeoverAfterMs when its settings name none: a publisher quiet this long may be taken over. */
export const DEFAULT_TAKEOVER_AFTER_MS = 1500;
