/**
 * The stream naming rule, the same everywhere a name comes in (config file, API, webhook answer;
 * the native gate applies it to stream ids in native/gate.cc): 1 to 200 characters of
 * `A-Z a-z 0-9 . _ ~ + -`, `/` only between non-empty parts, and no part that is `.` or `..`
 * (names appear in paths and URLs).
 */
const PART = String.raw`(?!\.\.?(?:/|$))[A-Za-z0-9._~+-]+`;
export const STREAM_NAME_PATTERN = new RegExp(`^${PART}(?:/${PART})*$`);
export const STREAM_NAME_MAX = 200;
export const STREAM_NAME_RULE = "1 to 200 characters of A-Z a-z 0-9 . _ ~ + -, with '/' only between parts, no part '.' or '..'";

export function isValidStreamName(name: string): boolean {
  return name.length >= 1 && name.length <= STREAM_NAME_MAX && STREAM_NAME_PATTERN.test(name);
}
