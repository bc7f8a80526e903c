/**
 * The ring slot layout shared by TypeScript and the addon (native/srt_native.h), in a module that
 * does not load the addon: slot = [i32 length][i32 flags][i64 srctime µs][payload].
 */

/** Bytes before the payload in a ring slot. */
export const SLOT_HEADER_BYTES = 16;
