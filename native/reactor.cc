// The process-wide reactor: one native thread waits on every watched SRT socket and wakes the
// owning JS environment through its thread-safe function, many events per call. Also the
// cross-environment doorbell (channels), used by a ring writer to wake its readers' workers.
#include "srt_native.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace srtnative {

void Deliver(Napi::Env env, Napi::Function cb, EnvState* st, void*);
using WakeFn = Napi::TypedThreadSafeFunction<EnvState, void, Deliver>;

struct EnvState {
  uint32_t id = 0;
  WakeFn tsfn;
  Napi::Reference<Napi::Int32Array> events;  // JS-owned event buffer
  std::mutex mu;                             // guards queue, signals, pending
  std::vector<int32_t> queue;                // (token, flags) pairs
  std::vector<int32_t> scratch;              // swapped with queue on delivery (no allocation)
  std::unordered_set<int32_t> signals;       // pending channel tokens (deduplicated)
  bool pending = false;                      // a tsfn call is in flight
  bool ready = false;                        // init() was called
  bool keptAlive = false;
};

namespace {

void Dispatch(const SRT_EPOLL_EVENT* evs, int n);

struct Watch {
  uint32_t env;
  int32_t token;
  int32_t wanted;  // the flags JS asked for; libsrt is always asked for IN|OUT|ERR (see ReactorWatch)
};

struct Subscriber {
  uint32_t env;
  int32_t token;
};

// Global registry. g_mu guards everything below; the reactor holds it only while dispatching.
std::mutex g_mu;
std::unordered_map<uint32_t, EnvState*> g_envs;
std::unordered_map<SRTSOCKET, Watch> g_watches;
std::unordered_map<uint32_t, std::vector<Subscriber>> g_channels;
uint32_t g_nextEnv = 1;
int g_eid = -1;
std::thread g_thread;
std::atomic<bool> g_stop{false};

// Called with g_mu held and st->mu NOT held.
void Post(EnvState* st, int32_t token, int32_t flags) {
  bool call = false;
  {
    std::lock_guard<std::mutex> lk(st->mu);
    if (flags == kEvSignal) {
      if (!st->signals.insert(token).second) return;
    } else {
      st->queue.push_back(token);
      st->queue.push_back(flags);
    }
    if (st->ready && !st->pending) {
      st->pending = true;
      call = true;
    }
  }
  if (call) st->tsfn.NonBlockingCall();
}

// Dispatch quantum: after handing out a batch of events the reactor waits out the rest of this
// many microseconds before looking again, so events that arrive meanwhile go out together. At
// 1000 packets/s a 2 ms quantum halves the wake-ups of every thread in the chain (reactor →
// publisher's worker → viewers' workers → libsrt send threads), which on loopback is where the
// CPU goes; it adds at most the quantum to the relay's latency. 0 = dispatch at once.
std::atomic<int64_t> g_quantumUs{2000};

void ReactorLoop() {
  SRT_EPOLL_EVENT evs[512];
  while (!g_stop.load(std::memory_order_acquire)) {
    int n = srt_epoll_uwait(g_eid, evs, 512, 100);
    if (n <= 0) continue;
    const auto started = std::chrono::steady_clock::now();
    Dispatch(evs, n);
    const int64_t q = g_quantumUs.load(std::memory_order_relaxed);
    if (q > 0) std::this_thread::sleep_until(started + std::chrono::microseconds(q));
  }
}

void Dispatch(const SRT_EPOLL_EVENT* evs, int n) {
    std::lock_guard<std::mutex> lk(g_mu);
    for (int i = 0; i < n; i++) {
      auto w = g_watches.find(evs[i].fd);
      if (w == g_watches.end()) continue;
      auto e = g_envs.find(w->second.env);
      if (e == g_envs.end()) continue;
      int32_t flags = evs[i].events & w->second.wanted;
      if (flags != 0) Post(e->second, w->second.token, flags);
    }
}

}  // namespace

// JS thread of the environment: move queued events into the JS buffer and call back.
void Deliver(Napi::Env env, Napi::Function cb, EnvState* st, void*) {
  if (env == nullptr || st == nullptr) return;
  // Raw N-API calls: while a worker is being terminated JS cannot run, and node-addon-api's
  // wrappers would turn that failure into a fatal napi_throw.
  napi_value bufv;
  if (napi_get_reference_value(env, st->events.operator napi_ref(), &bufv) != napi_ok || bufv == nullptr) return;
  void* data = nullptr;
  size_t length = 0;
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, bufv, &type, &length, &data, nullptr, nullptr) != napi_ok) return;
  int32_t* out = static_cast<int32_t*>(data);
  size_t cap = length / 2;
  // One buffer-full per call: if more is queued, post again instead of looping, so a busy
  // thread still gets back to libuv (timers, MessagePort messages) between batches.
  {
    size_t count = 0;
    bool more = false;
    {
      std::lock_guard<std::mutex> lk(st->mu);
      st->scratch.clear();
      size_t pairs = st->queue.size() / 2;
      size_t take = pairs < cap ? pairs : cap;
      for (size_t i = 0; i < take * 2; i++) out[i] = st->queue[i];
      count = take;
      if (take < pairs) {
        st->scratch.assign(st->queue.begin() + take * 2, st->queue.end());
      }
      st->queue.swap(st->scratch);
      for (auto it = st->signals.begin(); it != st->signals.end() && count < cap;) {
        out[count * 2] = *it;
        out[count * 2 + 1] = kEvSignal;
        count++;
        it = st->signals.erase(it);
      }
      more = !st->queue.empty() || !st->signals.empty();
      if (!more) st->pending = false;  // else stays pending: re-posted below
    }
    if (count > 0) {
      napi_value argv[1], undef, result;
      if (napi_create_double(env, static_cast<double>(count), &argv[0]) != napi_ok) return;
      napi_get_undefined(env, &undef);
      napi_status status = napi_call_function(env, undef, cb, 1, argv, &result);
      if (status != napi_ok) {
        // A JS exception stays pending and Node reports it as uncaught; during teardown
        // nothing can run any more. Either way stop delivering this round.
        std::lock_guard<std::mutex> lk(st->mu);
        st->pending = false;
        return;
      }
    }
    if (more) st->tsfn.NonBlockingCall();
  }
}

namespace {

// At process exit (process.exit() does not run environment clean-up hooks) the reactor thread
// must be joined before static destructors run, or std::thread's destructor aborts.
void StopAtExit() {
  g_stop.store(true, std::memory_order_release);
  if (g_thread.joinable()) g_thread.join();
}

void StartReactorLocked() {
  static bool atexitRegistered = false;
  if (!atexitRegistered) {
    atexitRegistered = true;
    std::atexit(StopAtExit);
  }
  if (g_eid >= 0) return;
  g_eid = srt_epoll_create();
  srt_epoll_set(g_eid, SRT_EPOLL_ENABLE_EMPTY);
  g_stop.store(false);
  g_thread = std::thread(ReactorLoop);
}

}  // namespace

EnvState* EnvCreate(Napi::Env env) {
  auto* st = new EnvState();
  std::lock_guard<std::mutex> lk(g_mu);
  if (g_envs.empty()) srt_startup();
  st->id = g_nextEnv++;
  g_envs[st->id] = st;
  (void)env;
  return st;
}

void EnvInitEvents(EnvState* st, Napi::Env env, Napi::Function cb, Napi::Int32Array events) {
  {
    std::lock_guard<std::mutex> lk(st->mu);
    if (st->ready) {
      st->tsfn.Abort();
      st->events.Reset();
    }
  }
  st->events = Napi::Persistent(events);
  st->tsfn = WakeFn::New(env, cb, "srt-reactor", 0, 1, st);
  st->tsfn.Unref(env);
  st->keptAlive = false;
  bool call = false;
  {
    std::lock_guard<std::mutex> lk(st->mu);
    st->ready = true;
    st->pending = false;
    if (!st->queue.empty() || !st->signals.empty()) {
      st->pending = true;
      call = true;
    }
  }
  if (call) st->tsfn.NonBlockingCall();
  std::lock_guard<std::mutex> lk(g_mu);
  StartReactorLocked();
}

void EnvKeepAlive(EnvState* st, Napi::Env env, bool on) {
  if (!st->ready || on == st->keptAlive) return;
  st->keptAlive = on;
  if (on) {
    st->tsfn.Ref(env);
  } else {
    st->tsfn.Unref(env);
  }
}

// Called from the environment's clean-up hook (its JS thread) or module unload.
void EnvDestroy(EnvState* st) {
  bool last = false;
  {
    std::lock_guard<std::mutex> lk(g_mu);
    g_envs.erase(st->id);
    for (auto it = g_watches.begin(); it != g_watches.end();) {
      if (it->second.env == st->id) {
        if (g_eid >= 0) srt_epoll_remove_usock(g_eid, it->first);
        it = g_watches.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& ch : g_channels) {
      auto& v = ch.second;
      for (size_t i = 0; i < v.size();) {
        if (v[i].env == st->id) {
          v[i] = v.back();
          v.pop_back();
        } else {
          i++;
        }
      }
    }
    last = g_envs.empty();
  }
  if (st->ready) st->tsfn.Abort();
  st->events.Reset();
  if (last) {
    std::thread t;
    int eid;
    {
      std::lock_guard<std::mutex> lk(g_mu);
      g_stop.store(true, std::memory_order_release);
      t = std::move(g_thread);
      eid = g_eid;
      g_eid = -1;
    }
    if (t.joinable()) t.join();
    if (eid >= 0) srt_epoll_release(eid);
    std::lock_guard<std::mutex> lk(g_mu);
    if (g_envs.empty()) srt_cleanup();
  }
  delete st;
}

// libsrt 1.5.1 keeps reporting OUT on a broken socket, edge-triggered or not, when OUT is not
// in the subscription: the reactor would spin. So every socket is subscribed for IN|OUT|ERR
// (edge-triggered: each reported once per change) and the reactor passes on only what JS wants.
void ReactorWatch(EnvState* st, SRTSOCKET s, int flags, int32_t token) {
  std::lock_guard<std::mutex> lk(g_mu);
  StartReactorLocked();
  int ev = kEvIn | kEvOut | kEvErr | SRT_EPOLL_ET;
  Watch w{st->id, token, (flags & (kEvIn | kEvOut | kEvErr)) | kEvErr};
  auto it = g_watches.find(s);
  if (it == g_watches.end()) {
    g_watches[s] = w;
    srt_epoll_add_usock(g_eid, s, &ev);
    // A socket that broke while no thread watched it (e.g. the peer closed it between the
    // supervisor's detach and the worker's adopt) may never be reported by libsrt's epoll:
    // report it now, or its session would wait forever.
    SRT_SOCKSTATUS state = srt_getsockstate(s);
    if (state == SRTS_BROKEN || state == SRTS_CLOSING || state == SRTS_CLOSED || state == SRTS_NONEXIST) Post(st, token, kEvErr);
  } else {
    bool wider = (w.wanted & ~it->second.wanted) != 0;
    it->second = w;
    // Re-arming reports the current state again, so a newly wanted flag that is already true
    // (e.g. OUT on a connected socket) is not missed.
    if (wider) srt_epoll_update_usock(g_eid, s, &ev);
  }
}

void ReactorSetQuantum(int64_t us) { g_quantumUs.store(us < 0 ? 0 : us, std::memory_order_relaxed); }

void ReactorUnwatch(SRTSOCKET s) {
  std::lock_guard<std::mutex> lk(g_mu);
  auto it = g_watches.find(s);
  if (it == g_watches.end()) return;
  Watch w = it->second;
  g_watches.erase(it);
  if (g_eid >= 0) srt_epoll_remove_usock(g_eid, s);
  // Drop events already queued for this socket: its token may be reused by the next socket.
  auto e = g_envs.find(w.env);
  if (e == g_envs.end()) return;
  EnvState* st = e->second;
  std::lock_guard<std::mutex> qlk(st->mu);
  auto& q = st->queue;
  size_t out = 0;
  for (size_t i = 0; i + 1 < q.size(); i += 2) {
    if (q[i] == w.token) continue;
    q[out++] = q[i];
    q[out++] = q[i + 1];
  }
  q.resize(out);
}

void ChannelSubscribe(EnvState* st, uint32_t channel, int32_t token) {
  std::lock_guard<std::mutex> lk(g_mu);
  auto& v = g_channels[channel];
  for (auto& s : v) {
    if (s.env == st->id) {
      s.token = token;
      return;
    }
  }
  v.push_back(Subscriber{st->id, token});
}

void ChannelUnsubscribe(EnvState* st, uint32_t channel) {
  std::lock_guard<std::mutex> lk(g_mu);
  auto it = g_channels.find(channel);
  if (it == g_channels.end()) return;
  auto& v = it->second;
  for (size_t i = 0; i < v.size(); i++) {
    if (v[i].env == st->id) {
      v[i] = v.back();
      v.pop_back();
      break;
    }
  }
  if (v.empty()) g_channels.erase(it);
}

void ChannelSignal(uint32_t channel) {
  std::lock_guard<std::mutex> lk(g_mu);
  auto it = g_channels.find(channel);
  if (it == g_channels.end()) return;
  for (const Subscriber& s : it->second) {
    auto e = g_envs.find(s.env);
    if (e != g_envs.end()) Post(e->second, s.token, kEvSignal);
  }
}

}  // namespace srtnative
