/**
 * Per-thread dispatch of the native reactor's events. The native reactor thread wakes this
 * thread with batches of (token, flags); each token names one handler. Handlers run
 * synchronously on this thread, in arrival order, with no allocation per event.
 */
import { native } from './native.js';

export type EventHandler = (flags: number) => void;

/** What a handler is for, given with its registration: reported with any exception it throws. */
export interface HandlerErrorContext {
  socket?: number;
  listener?: number;
  session?: number;
  [key: string]: unknown;
}

/** Receives an exception a handler threw (the handler's context, token and event flags with it). */
export type HandlerErrorReporter = (err: unknown, context: HandlerErrorContext) => void;

function defaultReporter(err: unknown, context: HandlerErrorContext): void {
  const e = err instanceof Error ? { message: err.message, stack: err.stack } : { message: String(err) };
  process.stderr.write(`${JSON.stringify({ level: 50, msg: 'reactor handler threw; the other sockets go on', ...context, err: e })}\n`);
}

let reporter: HandlerErrorReporter = defaultReporter;

/**
 * Sets who hears of exceptions thrown by handlers on this thread (the supervisor logs them with
 * pino; a worker reports them to the supervisor). Returns a function that restores the previous one.
 */
export function setHandlerErrorReporter(r: HandlerErrorReporter): () => void {
  const previous = reporter;
  reporter = r;
  return () => {
    reporter = previous;
  };
}

/** Reports an exception caught on the reactor's path (the handler itself, or code it called). */
export function reportHandlerError(err: unknown, context: HandlerErrorContext): void {
  try {
    reporter(err, context);
  } catch {
    // A reporter that throws must not take the batch down either.
  }
}

const EVENT_CAPACITY = 4096;
const events = new Int32Array(EVENT_CAPACITY * 2);
const handlers: Array<EventHandler | undefined> = [];
const contexts: Array<(() => HandlerErrorContext) | undefined> = [];
const freeTokens: number[] = [];
let live = 0;
let started = false;

/** Tokens freed during a batch; reusable only after it, so a stale event in the batch cannot reach a new owner. */
const freedInBatch: number[] = [];
let inBatch = false;

/**
 * One batch from the native reactor. Node 20 swallows an exception thrown out of an N-API
 * callback (a DEP0168 warning only), which would drop the rest of the batch: with edge-triggered
 * epoll those sockets might never wake again. So each handler's exception is caught and reported
 * with its context, and the batch goes on.
 */
function onEvents(count: number): void {
  inBatch = true;
  try {
    for (let i = 0; i < count; i++) {
      const token = events[2 * i]!;
      const handler = handlers[token];
      if (handler === undefined) continue;
      const flags = events[2 * i + 1]!;
      try {
        handler(flags);
      } catch (err) {
        let context: HandlerErrorContext = {};
        try {
          context = contexts[token]?.() ?? {};
        } catch {
          // keep the empty context
        }
        reportHandlerError(err, { ...context, token, flags });
      }
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

/**
 * Registers a handler and returns its token. While any token is registered, the thread's event
 * loop stays alive. `context` describes it (socket, session) when it throws.
 */
export function registerHandler(handler: EventHandler, context?: () => HandlerErrorContext): number {
  start();
  const token = freeTokens.pop() ?? handlers.length;
  handlers[token] = handler;
  contexts[token] = context;
  if (live++ === 0) native.keepAlive(true);
  return token;
}

export function unregisterHandler(token: number): void {
  if (handlers[token] === undefined) return;
  handlers[token] = undefined;
  contexts[token] = undefined;
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
    // Each subscriber's exception is its own: the others still run.
    const token = registerHandler((flags) => {
      for (const h of handlers) {
        try {
          h(flags);
        } catch (err) {
          reportHandlerError(err, { channel });
        }
      }
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
