/**
 * Loads the srt_native addon (native/, built by node-gyp at install) and types its exports.
 * This module and its siblings in src/srt/ are the only TypeScript that touches the addon; the
 * contract (threads, memory ownership) is documented once, at the top of native/srt_native.h.
 * Callers above src/srt/ use SrtSocket/SrtListener, which validate arguments first: the native
 * side trusts what it is given.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export { EV_ERR, EV_IN, EV_OUT, EV_SIGNAL, MODE_PLAY, MODE_PUBLISH, MODE_UNKNOWN } from './constants.js';
export { SLOT_HEADER_BYTES } from '../ring/slot-layout.js';

export type NativeOptionType = 'int' | 'int64' | 'bool' | 'string' | 'linger';
export type AcceptResult = [sock: number, host: string, port: number, streamid: string, mode: number, resource: string, inferred: boolean, held: boolean];

export interface SrtNativeAddon {
  version(): string;
  now(): number;
  stampSlots(slots: Uint8Array, slotSize: number, slotCount: number, first: number, count: number): void;
  init(onEvents: (count: number) => void, events: Int32Array): void;
  keepAlive(on: boolean): void;
  optionNames(): Array<[string, NativeOptionType]>;
  socket(): number;
  setOption(sock: number, name: string, value: number | boolean | string): void;
  getOption(sock: number, name: string): number | boolean | string;
  /** With reusePort or guard: [inode, effective SO_RCVBUF bytes] of the UDP socket it created; else null. */
  bind(sock: number, host: string, port: number, reusePort: boolean, guard?: boolean): [number, number] | null;
  /** Binds a plain UDP socket (no SO_REUSEADDR/SO_REUSEPORT) and closes it: 0 when free, else the errno. */
  probePort(host: string, port: number): number;
  listen(sock: number, backlog: number): void;
  accept(sock: number): AcceptResult | null;
  connect(sock: number, host: string, port: number): void;
  rendezvous(sock: number, localHost: string, localPort: number, host: string, port: number): void;
  close(sock: number): void;
  adopt(sock: number): void;
  disown(sock: number): void;
  state(sock: number): number;
  rejectReason(sock: number): number;
  rejectReasonText(code: number): string;
  localAddress(sock: number): [string, number];
  peerAddress(sock: number): [string, number];
  statFields(): string[];
  stats(sock: number, clear: boolean, out: Float64Array): boolean;
  watch(sock: number, flags: number, token: number): void;
  setReactorQuantum(us: number): void;
  /** malloc_trim(0): gives heap pages libsrt freed back to the OS; true if any were released. */
  trimMemory(): boolean;
  mallocStats(): [arena: number, inUse: number, free: number, mmapped: number];
  unwatch(sock: number): void;
  channelSubscribe(channel: number, token: number): void;
  channelUnsubscribe(channel: number): void;
  signal(channel: number): void;
  recv(sock: number, buf: Uint8Array): number;
  send(sock: number, buf: Uint8Array, length: number): number;
  recvSlots(sock: number, slots: Uint8Array, slotSize: number, slotCount: number, first: number, max: number): number;
  sendSlots(
    sock: number,
    slots: Uint8Array,
    slotSize: number,
    slotCount: number,
    first: number,
    count: number,
    srcTime: boolean,
  ): number;
  fanout(
    slots: Uint8Array,
    slotSize: number,
    slotCount: number,
    head: number,
    oldest: number,
    socks: Int32Array,
    cursors: Uint32Array,
    n: number,
    srcTime: boolean,
    results: Int32Array,
    delays?: Float64Array,
  ): number;
  gateCreate(acceptCapacity?: number, acceptTtlMs?: number): number;
  gateDestroy(gate: number): void;
  gateAttach(
    gate: number,
    listener: number,
    direction: number,
    fixedResource: string,
    sidPolicy?: number,
    domains?: Array<[name: string, mode: number]>,
    idlessDefault?: string,
    idlessByAddress?: Array<[host: string, bits: number, stream: string]>,
    idlessMode?: number,
  ): void;
  gateDefaults(gate: number, publishCode: number, publishPass: string, playCode: number, playPass: string): void;
  gateSet(
    gate: number,
    resource: string,
    publishCode: number,
    publishPass: string,
    playCode: number,
    playPass: string,
    live: boolean,
    publishLatencyMs?: number,
    playLatencyMs?: number,
  ): void;
  gateDelete(gate: number, resource: string): void;
  /** Without a gate: every gate's (drains all). stage 0 gate, 1 refused by libsrt after the gate, 2 never srt_accept'ed. */
  gateRejections(): Array<[gate: number, streamid: string, host: string, port: number, code: number]>;
  gateRejections(gate: number): Array<[gate: number, streamid: string, host: string, port: number, code: number, stage: number, localPort: number]>;
  /** [refusedByGate, refusedAfterGate, forgotten, accepting] */
  gateStats(gate: number): [number, number, number, number];
  classifyStreamId(streamid: string, domains?: Array<[name: string, mode: number]>): [mode: number, resource: string];
  gateAuthEnable(gate: number, enabled: boolean, pendingCode: number, channel: number): void;
  gateAuthSet(gate: number, streamid: string, host: string, code: number, passphrase: string, rename: string, ttlMs: number): void;
  gateHoldRoom(gate: number, room: number): void;
  gateRefuseFor(gate: number, streamid: string, host: string, code: number, ttlMs: number): void;
  gatePending(gate: number): Array<[streamid: string, host: string, port: number, mode: number, resource: string]>;
  gateLimits(
    gate: number,
    handshakesPerSecond: number,
    burst: number,
    sessionsPerHost: number,
    code: number,
    exemptHosts: string[],
    allPerSecond?: number,
    allBurst?: number,
  ): void;
  gateHostSessions(gate: number): Array<[host: string, count: number]>;
}

function findAddon(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'build', 'Release', 'srt_native.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(
    'srt_native.node not found: build the addon with `npm run build:native` ' +
      '(needs libsrt-openssl-dev and pkg-config; `bash scripts/setup.sh` installs them)',
  );
}

const require = createRequire(import.meta.url);

/** The loaded addon, one instance per thread (per Node environment). */
export const native: SrtNativeAddon = require(findAddon()) as SrtNativeAddon;

// SRT_RELAY_REACTOR_QUANTUM_US tunes the reactor's dispatch quantum (see native/reactor.cc).
const quantum = process.env['SRT_RELAY_REACTOR_QUANTUM_US'];
if (quantum !== undefined && /^[0-9]{1,6}$/.test(quantum)) native.setReactorQuantum(Number(quantum));
