/*
 * srt_native: the thin N-API boundary between srt-relay (TypeScript) and the system libsrt.
 * ======================================================================================
 *
 * Everything above this boundary (validation, URL parsing, sessions, rings) is TypeScript in
 * src/srt/ (the only TS that loads this addon). This side trusts its arguments: src/srt/native.ts
 * checks types and ranges first (the better-sqlite3 split).
 *
 * THREADS
 *   JS thread    : the thread of the Node environment (main thread or a worker thread) that calls
 *                  a function. Every exported function below runs on the calling JS thread, never
 *                  blocks (all SRT sockets are non-blocking: SRTO_RCVSYN = SRTO_SNDSYN = false) and
 *                  never touches the libuv thread pool.
 *   reactor      : ONE native thread per process (reactor.cc) waiting in srt_epoll_uwait on every
 *                  watched socket of every environment, edge-triggered. It never calls JS: it
 *                  appends (token, flags) pairs to the owning environment's queue and wakes that
 *                  environment with a thread-safe function (at most one pending call per env, so
 *                  a burst of readiness costs one JS callback). One waiting thread per process,
 *                  because libsrt wakes epoll waiters through one global condition variable and
 *                  several waiting threads wake late (see shared/notes/libsrt-facts.md).
 *   libsrt RcvQ  : runs the listen callback (gate.cc) during a handshake. It reads the gate's
 *                  decision table (native memory, updated by JS) under a mutex held for a few
 *                  microseconds; it never waits for JavaScript.
 *
 * ERRORS DURING TEARDOWN
 *   Built with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS (binding.gyp): an error the addon raises
 *   while its environment is being torn down (a worker thread terminated mid-fanout) cannot be
 *   thrown any more; node-addon-api then drops it instead of aborting the whole process with
 *   "FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw" (seen once in a CI run).
 *
 * MEMORY
 *   - Packet memory belongs to JS: recvSlots/sendSlots/fanout take a Uint8Array (normally over a
 *     SharedArrayBuffer ring) and use its pointer only for the duration of the call. libsrt copies
 *     into/out of it (the one copy libsrt forces); nothing else is copied or allocated per packet.
 *   - The event buffer is an Int32Array given to init(); the addon keeps a reference to it and
 *     writes (token, flags) pairs into it right before calling the JS callback.
 *   - Sockets belong to the environment that created or accepted them. When a worker is
 *     terminated, its clean-up hook closes its sockets and unregisters it from the reactor, so
 *     no native thread touches a dead environment. srt_startup/srt_cleanup are reference-counted
 *     across environments.
 *   - The gate tables are process-global (the listen callback has no environment); gates are
 *     created and destroyed explicitly by JS (gateCreate/gateDestroy).
 *   - Loading the addon sets glibc's M_MMAP_THRESHOLD to 64 KiB for the whole process (once),
 *     unless the environment sets glibc.malloc.mmap_threshold (GLIBC_TUNABLES or
 *     MALLOC_MMAP_THRESHOLD_): libsrt's per-connection loss lists and receive buffer (400 + 192 +
 *     128 KiB at the defaults, allocated even for a handshake it then refuses for its passphrase)
 *     get their own mappings, returned to the system when freed instead of staying in an arena
 *     until malloc_trim. About three mappings per open connection; if the kernel's
 *     vm.max_map_count is reached, glibc falls back to its arenas.
 *
 * EXPORTS (JS thread unless said otherwise; errors throw Error with .code = 'ERR_SRT_NATIVE',
 *          .srtErrno = libsrt errno)
 *   version() -> string                               libsrt version, e.g. "1.5.1"
 *   init(onEvents(count), events: Int32Array)         per environment; required before watch()
 *   keepAlive(bool)                                   ref/unref the env's wake handle (JS keeps
 *                                                     the loop alive while it has live sockets)
 *   optionNames() -> [name, type][]                   options the addon can set/get by name
 *   socket() -> sock                                  srt_create_socket, non-blocking
 *   setOption(sock, name, value) / getOption(sock, name) -> value
 *   bind(sock, host, port, reusePort, guard) -> null | [inode, rcvbuf]
 *                                                     numeric host only; reusePort or guard:
 *                                                     bind our own UDP socket (SO_REUSEPORT if
 *                                                     reusePort) and hand it to srt_bind_acquire
 *                                                     (own multiplexer; libsrt owns and closes
 *                                                     it); guard: attach the handshake guard,
 *                                                     a kernel BPF filter dropping handshakes
 *                                                     libsrt 1.5.1 crashes on (guard.cc);
 *                                                     returns the own UDP socket's inode (its
 *                                                     line in /proc/net/udp{,6}) and effective
 *                                                     SO_RCVBUF; null when libsrt bound
 *   probePort(host, port) -> errno                   binds a plain UDP socket (no SO_REUSEADDR,
 *                                                     no SO_REUSEPORT) and closes it: 0 when no
 *                                                     socket of any process holds the address,
 *                                                     else bind()'s errno (98: EADDRINUSE)
 *   listen(sock, backlog)
 *   accept(sock) -> null | [sock, host, port, streamid, mode, resource, inferred, held]
 *                                                     mode/resource: the gate's decision for
 *                                                     that handshake (0 if no gate); inferred:
 *                                                     the streamid named no direction and a
 *                                                     "both" port guessed it; held: accepted
 *                                                     before the auth webhook decided (see
 *                                                     gateHoldRoom)
 *   connect(sock, host, port)                         non-blocking: completion is an OUT event,
 *                                                     failure an ERR event (+ rejectReason())
 *   rendezvous(sock, localHost, localPort, host, port)
 *   close(sock)                                       unwatch + srt_close
 *   disown(sock) / adopt(sock)                        hand a socket to another environment
 *                                                     (e.g. accepted on the main thread, served
 *                                                     by a worker): the old owner disowns (also
 *                                                     unwatches), the new owner adopts
 *   state(sock) -> SRT_SOCKSTATUS; rejectReason(sock) -> int; rejectReasonText(code) -> string
 *   localAddress(sock) / peerAddress(sock) -> [host, port]
 *   statFields() -> string[]; stats(sock, clear, out: Float64Array) -> bool   (srt_bistats,
 *                                                     instantaneous, in statFields() order)
 *   trimMemory() -> bool                              malloc_trim(0): return heap pages freed by
 *                                                     libsrt to the OS (glibc; a few ms, any thread)
 *   mallocStats() -> [arena, inUse, free, mmapped]    glibc mallinfo2() over all arenas, bytes:
 *                                                     heap got from the system, in use, free in
 *                                                     the arenas (counted even once trimmed),
 *                                                     chunks mmapped on their own
 *   setReactorQuantum(us)                             dispatch quantum of the reactor (default
 *                                                     2000 µs; 0 = at once): events arriving
 *                                                     within it go out in one wake-up per thread
 *   watch(sock, flags, token) / unwatch(sock)         flags: IN=1 OUT=4 ERR=8, edge-triggered:
 *                                                     after IN, read until recv returns 0
 *   recv(sock, u8) -> n | 0 (nothing) | -1 (broken)   one message
 *   send(sock, u8, length) -> n | 0 (buffer full) | -1 (broken)
 *   recvSlots(sock, slots, slotSize, slotCount, first, max) -> r
 *                                                     receives up to max messages into
 *                                                     consecutive ring slots (index first..,
 *                                                     wrapping); slot = [i32 len][i32 flags=0]
 *                                                     [i64 srctime µs][payload]. r >= 0: count
 *                                                     and nothing more to read now; r < 0: the
 *                                                     socket broke after (-r - 1) messages.
 *   sendSlots(sock, slots, slotSize, slotCount, first, count, srcTime) -> r   same coding; stops
 *                                                     at a full send buffer. srcTime: pass the
 *                                                     slot's srctime, clamped to >= the
 *                                                     connection's start (libsrt requires it)
 *   now() -> µs                                       srt_time_now(): libsrt's clock, the one
 *                                                     slot srctimes are in
 *   stampSlots(slots, slotSize, slotCount, first, count)   srctime = now() for slots that did
 *                                                     not come from an SRT socket
 *   fanout(slots, slotSize, slotCount, head, oldest, socks: Int32Array, cursors: Uint32Array,
 *          n, srcTime, results: Int32Array[, delays: Float64Array]) -> total sent
 *                                                     for each i < n with socks[i] >= 0: send
 *                                                     ring sequences cursors[i]..head-1 (u32,
 *                                                     slot = seq & (slotCount-1)); a cursor
 *                                                     older than `oldest` skips to it first.
 *                                                     Empty slots (len 0) are passed, not sent.
 *                                                     results[2i] = messages sent or -1 (broken),
 *                                                     results[2i+1] = skipped (lagged) count.
 *                                                     delays[i] > 0 (µs): viewer i is time-
 *                                                     shifted; a slot goes out once its
 *                                                     srctime + delay <= now (paced DVR).
 *   channelSubscribe(channel, token) / channelUnsubscribe(channel)
 *   signal(channel)                                   any JS thread: queue a (token, SIGNAL)
 *                                                     event in every subscribed environment
 *                                                     (deduplicated until delivered)
 *   gateCreate() -> id; gateDestroy(id)
 *   gateAttach(gate, listenerSock, direction, fixedResource, sidPolicy[, domains, idlessDefault,
 *              idlessByAddress, idlessMode])          installs the listen
 *                                                     callback; direction 0 both, 1 incoming,
 *                                                     2 outgoing; with a fixedResource the
 *                                                     streamid is ignored (sidPolicy 0), makes
 *                                                     "fixed+sid" (1, wildcard) or, when not
 *                                                     empty, is refused with 1403 (2);
 *                                                     domains: [name, mode][] (stream-id
 *                                                     dialects, see ClassifyStreamId);
 *                                                     idlessByAddress: [numericHost, prefixBits,
 *                                                     stream][] for callers with no streamid,
 *                                                     first match wins, else idlessDefault;
 *                                                     idlessMode: their mode (0: the port's rule)
 *   gateDefaults(gate, publishCode, publishPass, playCode, playPass)
 *   gateSet(gate, resource, publishCode, publishPass, playCode, playPass, live,
 *           [publishLatencyMs, playLatencyMs])
 *                              latency ms > 0: set as SRTO_RCVLATENCY and SRTO_PEERLATENCY on
 *                              the accepted caller's socket in the listen callback (the relay's
 *                              side of the negotiation; libsrt takes the larger of both sides)
 *   gateDelete(gate, resource)
 *   gateRejections([gate]) -> [gate, streamid, host, port, code, stage, localPort][]
 *                                                     recent refusals (bounded); localPort: the
 *                                                     listening port that refused (0 unknown)
 *   gateAuthEnable(gate, enabled, pendingCode, channel)   webhook auth: a caller whose
 *                                                     (streamid, host) has no cached decision is
 *                                                     refused with pendingCode, queued, and the
 *                                                     channel signalled; its retry is decided from
 *                                                     the cache (the RcvQ thread never waits)
 *   gateAuthSet(gate, streamid, host, code, passphrase, rename, ttlMs)   cache a decision
 *   gateRefuseFor(gate, streamid, host, code, ttlMs)   that caller's handshakes are refused
 *                              with `code` for ttlMs (checked after the limits, before the
 *                              webhook; at most 4096 at once)
 *   gatePending(gate) -> [streamid, host, port, mode, resource][]   callers waiting for one
 *   gateHoldRoom(gate, room)   held admission: while room > 0, a caller without a cached
 *                              decision is queued as above but accepted (room - 1) instead of
 *                              refused, with `held` set in accept(); every other rule of the
 *                              gate still applies first-hand, only the webhook's verdict comes
 *                              later (JS keeps the socket off the stream until then). 0 = off
 *   gateLimits(gate, handshakesPerSecond, burst, sessionsPerHost, code, exemptHosts[],
 *              allPerSecond, allBurst)
 *                              per remote host (0 = off): a token bucket of handshakes and a cap
 *                              of accepted, not yet closed connections; beyond either the caller
 *                              is refused with `code` (1429) before any other check. Hosts in
 *                              exemptHosts (a load balancer's address) are not limited per host;
 *                              the node-wide bucket (allPerSecond, 0 = off) applies to every host.
 *   gateHostSessions(gate) -> [host, count][]   connections counted per host (accept to close)
 *   classifyStreamId(streamid[, domains]) -> [mode, resource]    the same rules the callback uses
 *                                                     (mode 0 unknown, 1 publish, 2 play)
 *   Codes: 0 accept, >= 1000 reject with that code (SRT_REJC_PREDEFINED + HTTP status).
 *   An accepted explicit publish (publish:, m=publish, an incoming port) marks its stream live
 *   and playable in the table at once; JS then overwrites the entry with its own view.
 */
#pragma once

#include <napi.h>
#include <srt/srt.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace srtnative {

// Event flags delivered to JS (SRT_EPOLL_IN/OUT/ERR plus our own).
constexpr int32_t kEvIn = SRT_EPOLL_IN;
constexpr int32_t kEvOut = SRT_EPOLL_OUT;
constexpr int32_t kEvErr = SRT_EPOLL_ERR;
constexpr int32_t kEvSignal = 0x100;

// Stream-id classification (gate.cc), mirrored by src/srt/streamid.ts.
enum StreamMode : int32_t { kModeUnknown = 0, kModePublish = 1, kModePlay = 2 };
// A port's domains: (lower-case name, mode it says: kModeUnknown = either direction).
using SidDomains = std::vector<std::pair<std::string, int32_t>>;
void ClassifyStreamId(const std::string& sid, int32_t* mode, std::string* resource);
void ClassifyStreamId(const std::string& sid, const SidDomains& domains, int32_t* mode, std::string* resource);

// Environment registry (reactor.cc).
struct EnvState;
EnvState* EnvCreate(Napi::Env env);
void EnvInitEvents(EnvState* st, Napi::Env env, Napi::Function cb, Napi::Int32Array events);
void EnvKeepAlive(EnvState* st, Napi::Env env, bool on);
void EnvDestroy(EnvState* st);
void ReactorWatch(EnvState* st, SRTSOCKET s, int flags, int32_t token);
void ReactorUnwatch(SRTSOCKET s);
void ReactorSetQuantum(int64_t us);
void ChannelSubscribe(EnvState* st, uint32_t channel, int32_t token);
void ChannelUnsubscribe(EnvState* st, uint32_t channel);
void ChannelSignal(uint32_t channel);

// Gate (gate.cc): handshake-time decisions.
void GateRegister(Napi::Env env, Napi::Object exports);
// Mode/resource the gate decided for an accepted socket (consumed once).
bool GateTakeAcceptInfo(SRTSOCKET s, int32_t* mode, std::string* resource, bool* inferred, bool* held);
void GateForgetListener(SRTSOCKET lsn);
// An accepted socket is closed: it no longer counts against its host's session limit.
void GateSocketClosed(SRTSOCKET s);

// Guard (guard.cc): attach the handshake guard BPF program to a UDP socket. False: errno set.
bool AttachHandshakeGuard(int fd);

// Options (options.cc).
enum OptType { kOptInt, kOptInt64, kOptBool, kOptString, kOptLinger };
struct OptDesc {
  const char* name;
  SRT_SOCKOPT id;
  OptType type;
};
const OptDesc* FindOption(const std::string& name);
const OptDesc* OptionTable(size_t* count);

// Errors.
Napi::Value ThrowSrt(Napi::Env env, const char* what);
Napi::Value ThrowMsg(Napi::Env env, const std::string& msg);
Napi::Value ThrowErrno(Napi::Env env, const std::string& what, int err);
// A wrong argument type: Error with .code = 'ERR_SRT_INVALID_ARG', naming fn and argument.
Napi::Value ThrowInvalidArg(Napi::Env env, const char* fn, const char* arg, const char* want);

}  // namespace srtnative
