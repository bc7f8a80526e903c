/**
 * Numbers shared with the addon that callers above src/srt/ may need, in a module that does not
 * load the addon (importing src/srt/native.ts would).
 */

/** Event flags delivered by the reactor (SRT_EPOLL_* plus the channel signal). */
export const EV_IN = 0x1;
export const EV_OUT = 0x4;
export const EV_ERR = 0x8;
export const EV_SIGNAL = 0x100;

/** Stream modes decided by the gate (mirrors native ClassifyStreamId). */
export const MODE_UNKNOWN = 0;
export const MODE_PUBLISH = 1;
export const MODE_PLAY = 2;
