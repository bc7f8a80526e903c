/**
 * Per-thread dispatch of the native reactor's events. The native reactor thread wakes this
 * thread with batches of (token, flags); each token names one handler. Handlers run
 * synchronously on this thread, in arrival order, with no allocation per event.
 */
import { native } from './native.js';

export type EventHandler = (flags: number) => void;

const EVENT_CAPACITY = 4096;
const events = new Int32Array(EVENT_CAPACITY * 2);
const handlers: Array<EventHandler | undefined> = [];
const freeTokens: number[] = [];
let live = 0;
let started = false;

/** Tokens freed during a batch; reusable only after it, so a stale event in the batch cannot reach a new owner. */
const freedInBatch: number[] = [];
let inBatch = false;

function onEvents(count: number): void {
  inBatch = true;
  try {
    for (let i = 0; i < count; i++) {
      const handler = handlers[events[2 * i]!];
      if (handler !== undefined) handler(events[2 * i + 1]!);
    }
  } finally {
    inBatch = false;
    while (freedInBatch.length > 0) freeTokens.push(freedInBatch.pop()!);
  }
}

function start(): void {
  if (started) return;
  started = true;
  native.init(onEvents, events);
}

/** Registers a handler and returns its token. While any token is registered, the thread's event loop stays alive. */
export function registerHandler(handler: EventHandler): number {
  start();
  const token = freeTokens.pop() ?? handlers.length;
  handlers[token] = handler;
  if (live++ === 0) native.keepAlive(true);
  return token;
}

export function unregisterHandler(token: number): void {
  if (handlers[token] === undefined) return;
  handlers[token] = undefined;
  (inBatch ? freedInBatch : freeTokens).push(token);
  if (--live === 0) native.keepAlive(false);
}

let nextChannel = 1;

/**
 * A channel number unique in this process. Only the main thread allocates channels (rings and
 * gates are created by the supervisor), so a plain counter suffices.
 */
export function allocateChannel(): number {
  return nextChannel++;
}

/** Wakes every thread subscribed to `channel` (see subscribeChannel); callable from any thread. */
export function signalChannel(channel: number): void {
  native.signal(channel);
}

const channelHandlers = new Map<number, { token: number; handlers: Set<EventHandler> }>();

/** Calls `handler` on this thread whenever any thread signals `channel`. Returns an unsubscribe function. */
export function subscribeChannel(channel: number, handler: EventHandler): () => void {
  let entry = channelHandlers.get(channel);
  if (entry === undefined) {
    const handlers = new Set<EventHandler>();
    const token = registerHandler((flags) => {
      for (const h of handlers) h(flags);
    });
    entry = { token, handlers };
    channelHandlers.set(channel, entry);
    native.channelSubscribe(channel, token);
  }
  entry.handlers.add(handler);
  const current = entry;
  return () => {
    if (!current.handlers.delete(handler) || current.handlers.size > 0) return;
    native.channelUnsubscribe(channel);
    unregisterHandler(current.token);
    channelHandlers.delete(channel);
  };
}
