/**
 * `npm run bench -- recording [harness flags]`: what recording costs. The harness's fanout
 * scenario (bench/harness.ts) with 4 streams × 10 Mbit/s and 20 viewers, run against srt-relay
 * and, in the same run, against srt-relay recording every stream (target `record`,
 * bench/lib/targets.ts: an auto file:// push per stream, 10 s segments, in a temporary
 * recordingsRoot). The table compares viewer loss and relay CPU (the relay process, its
 * recorder threads included). Flags after the name override these (e.g. --duration 30s).
 */
import { main } from './harness.js';

await main(['fanout', '--streams', '4', '--viewers', '20', '--bitrate', '10M', '--baseline', 'record', ...process.argv.slice(2)]);
