// Module entry, per-environment state and the socket/IO functions. See srt_native.h for the
// contract (threads, memory, every export).
#include "srt_native.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_set>

namespace srtnative {

namespace {

constexpr size_t kSlotHeader = 16;  // [i32 len][i32 flags][i64 srctime]

struct Addon {
  EnvState* st = nullptr;
  std::unordered_set<SRTSOCKET> sockets;  // owned by this environment
  bool detached = false;
  bool detachHooked = false;
};

Addon* Get(const Napi::CallbackInfo& info) { return info.Env().GetInstanceData<Addon>(); }

inline SRTSOCKET Sock(const Napi::CallbackInfo& info, size_t i) {
  return static_cast<SRTSOCKET>(info[i].As<Napi::Number>().Int32Value());
}
inline int32_t I32(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }
inline uint32_t U32(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Uint32Value(); }

bool ParseAddr(const std::string& host, int port, sockaddr_storage* ss, int* len) {
  std::memset(ss, 0, sizeof *ss);
  std::string h = host.empty() ? "0.0.0.0" : host;
  auto* in4 = reinterpret_cast<sockaddr_in*>(ss);
  if (inet_pton(AF_INET, h.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in);
    return true;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (inet_pton(AF_INET6, h.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

Napi::Value AddrPair(Napi::Env env, const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {0};
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    port = ntohs(in->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    port = ntohs(in6->sin6_port);
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::String::New(env, buf));
  out.Set(1u, Napi::Number::New(env, port));
  return out;
}

bool SetNonBlocking(SRTSOCKET s) {
  bool no = false;
  return srt_setsockflag(s, SRTO_RCVSYN, &no, sizeof no) == 0 && srt_setsockflag(s, SRTO_SNDSYN, &no, sizeof no) == 0;
}

// ---- lifecycle ----------------------------------------------------------------------------

// Runs first at environment teardown (registered after the wake tsfn exists): stop the reactor
// and channels from posting to this environment before Node finalizes the tsfn.
void DetachHook(void* arg) {
  auto* a = static_cast<Addon*>(arg);
  if (a->detached) return;
  a->detached = true;
  EnvDestroy(a->st);  // unregisters, aborts the tsfn, may stop the reactor
  a->st = nullptr;
}

// Runs last at environment teardown: close every socket this environment still owns.
void CloseHook(void* arg) {
  auto* a = static_cast<Addon*>(arg);
  for (SRTSOCKET s : a->sockets) {
    ReactorUnwatch(s);
    GateForgetListener(s);
    GateSocketClosed(s);
    srt_close(s);
  }
  a->sockets.clear();
  if (!a->detached) {
    a->detached = true;
    EnvDestroy(a->st);
    a->st = nullptr;
  }
  delete a;
}

void NoFinalize(Napi::Env, Addon*) {}

Napi::Value Init(const Napi::CallbackInfo& info) {
  Addon* a = Get(info);
  if (a->detached) return ThrowMsg(info.Env(), "environment is shutting down");
  EnvInitEvents(a->st, info.Env(), info[0].As<Napi::Function>(), info[1].As<Napi::Int32Array>());
  if (!a->detachHooked) {
    // Registered after the tsfn exists, so it runs before Node finalizes the tsfn.
    a->detachHooked = true;
    napi_add_env_cleanup_hook(info.Env(), DetachHook, a);
  }
  return info.Env().Undefined();
}

Napi::Value KeepAlive(const Napi::CallbackInfo& info) {
  EnvKeepAlive(Get(info)->st, info.Env(), info[0].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}

Napi::Value Now(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(srt_time_now()));
}

// Writes srt_time_now() into the srctime field of slots first..first+count-1 (sources that are
// not SRT sockets, e.g. files, so that time-based joins work on every stream).
Napi::Value StampSlots(const Napi::CallbackInfo& info);

Napi::Value Version(const Napi::CallbackInfo& info) {
  uint32_t v = srt_getversion();
  std::string s = std::to_string((v >> 16) & 0xff) + "." + std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff);
  return Napi::String::New(info.Env(), s);
}

Napi::Value OptionNames(const Napi::CallbackInfo& info) {
  size_t n;
  const OptDesc* t = OptionTable(&n);
  static const char* kTypes[] = {"int", "int64", "bool", "string", "linger"};
  Napi::Array out = Napi::Array::New(info.Env(), n);
  for (size_t i = 0; i < n; i++) {
    Napi::Array row = Napi::Array::New(info.Env(), 2);
    row.Set(0u, Napi::String::New(info.Env(), t[i].name));
    row.Set(1u, Napi::String::New(info.Env(), kTypes[t[i].type]));
    out.Set(static_cast<uint32_t>(i), row);
  }
  return out;
}

// ---- sockets ------------------------------------------------------------------------------

Napi::Value Socket(const Napi::CallbackInfo& info) {
  SRTSOCKET s = srt_create_socket();
  if (s == SRT_INVALID_SOCK) return ThrowSrt(info.Env(), "srt_create_socket");
  if (!SetNonBlocking(s)) {
    srt_close(s);
    return ThrowSrt(info.Env(), "set non-blocking");
  }
  Get(info)->sockets.insert(s);
  return Napi::Number::New(info.Env(), s);
}

Napi::Value SetOption(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SRTSOCKET s = Sock(info, 0);
  std::string name = info[1].As<Napi::String>().Utf8Value();
  const OptDesc* d = FindOption(name);
  if (!d) return ThrowMsg(env, "unknown SRT option: " + name);
  int rc;
  switch (d->type) {
    case kOptInt: {
      int v = info[2].IsBoolean() ? (info[2].As<Napi::Boolean>().Value() ? 1 : 0) : info[2].As<Napi::Number>().Int32Value();
      rc = srt_setsockflag(s, d->id, &v, sizeof v);
      break;
    }
    case kOptInt64: {
      int64_t v = info[2].As<Napi::Number>().Int64Value();
      rc = srt_setsockflag(s, d->id, &v, sizeof v);
      break;
    }
    case kOptBool: {
      bool v = info[2].IsBoolean() ? info[2].As<Napi::Boolean>().Value() : info[2].As<Napi::Number>().Int32Value() != 0;
      rc = srt_setsockflag(s, d->id, &v, sizeof v);
      break;
    }
    case kOptString: {
      std::string v = info[2].As<Napi::String>().Utf8Value();
      rc = srt_setsockflag(s, d->id, v.data(), static_cast<int>(v.size()));
      break;
    }
    case kOptLinger: {
      linger l;
      int secs = info[2].As<Napi::Number>().Int32Value();
      l.l_onoff = secs > 0 ? 1 : 0;
      l.l_linger = secs > 0 ? secs : 0;
      rc = srt_setsockflag(s, d->id, &l, sizeof l);
      break;
    }
    default:
      rc = -1;
  }
  if (rc != 0) return ThrowSrt(env, ("set " + name).c_str());
  return env.Undefined();
}

Napi::Value GetOption(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SRTSOCKET s = Sock(info, 0);
  std::string name = info[1].As<Napi::String>().Utf8Value();
  const OptDesc* d = FindOption(name);
  if (!d) return ThrowMsg(env, "unknown SRT option: " + name);
  switch (d->type) {
    case kOptInt: {
      int v = 0;
      int len = sizeof v;
      if (srt_getsockflag(s, d->id, &v, &len) != 0) return ThrowSrt(env, ("get " + name).c_str());
      return Napi::Number::New(env, v);
    }
    case kOptInt64: {
      int64_t v = 0;
      int len = sizeof v;
      if (srt_getsockflag(s, d->id, &v, &len) != 0) return ThrowSrt(env, ("get " + name).c_str());
      return Napi::Number::New(env, static_cast<double>(v));
    }
    case kOptBool: {
      int32_t v = 0;  // libsrt writes a bool or an int depending on the option
      int len = sizeof v;
      if (srt_getsockflag(s, d->id, &v, &len) != 0) return ThrowSrt(env, ("get " + name).c_str());
      bool b = len == 1 ? (*reinterpret_cast<uint8_t*>(&v) != 0) : v != 0;
      return Napi::Boolean::New(env, b);
    }
    case kOptString: {
      char buf[1024] = {0};
      int len = sizeof buf;
      if (srt_getsockflag(s, d->id, buf, &len) != 0) return ThrowSrt(env, ("get " + name).c_str());
      return Napi::String::New(env, buf, static_cast<size_t>(len));
    }
    case kOptLinger: {
      linger l{};
      int len = sizeof l;
      if (srt_getsockflag(s, d->id, &l, &len) != 0) return ThrowSrt(env, ("get " + name).c_str());
      return Napi::Number::New(env, l.l_onoff ? l.l_linger : 0);
    }
  }
  return env.Undefined();
}

// Binds a plain UDP socket (no SO_REUSEADDR, no SO_REUSEPORT) to host:port and closes it: the
// kernel refuses it (EADDRINUSE) while any socket, of any process, holds an overlapping address.
// Returns 0 when the port is free, else the errno of bind().
Napi::Value ProbePort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString()) return ThrowInvalidArg(env, "probePort", "host", "a string");
  if (!info[1].IsNumber()) return ThrowInvalidArg(env, "probePort", "port", "a number");
  std::string host = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  sockaddr_storage ss;
  int len;
  if (!ParseAddr(host, port, &ss, &len)) return ThrowMsg(env, "not a numeric IP address: " + host);
  int fd = ::socket(ss.ss_family, SOCK_DGRAM, 0);
  if (fd < 0) return ThrowErrno(env, "socket() for " + host + ":" + std::to_string(port), errno);
  int err = ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 ? 0 : errno;
  ::close(fd);
  return Napi::Number::New(env, err);
}

Napi::Value Bind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SRTSOCKET s = Sock(info, 0);
  std::string host = info[1].As<Napi::String>().Utf8Value();
  int port = I32(info, 2);
  bool reuse = info[3].As<Napi::Boolean>().Value();
  bool guard = info.Length() > 4 && info[4].As<Napi::Boolean>().Value();
  sockaddr_storage ss;
  int len;
  if (!ParseAddr(host, port, &ss, &len)) return ThrowMsg(env, "not a numeric IP address: " + host);
  if (!reuse && !guard) {
    if (srt_bind(s, reinterpret_cast<sockaddr*>(&ss), len) != 0) return ThrowSrt(env, "srt_bind");
    return env.Null();
  }
  int fd = ::socket(ss.ss_family, SOCK_DGRAM, 0);
  if (fd < 0) return ThrowErrno(env, "socket() for " + host + ":" + std::to_string(port), errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if ((reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int err = errno;
    ::close(fd);
    return ThrowErrno(env, std::string("bind") + (reuse ? " with SO_REUSEPORT" : "") + " on " + host + ":" + std::to_string(port), err);
  }
  if (guard && !AttachHandshakeGuard(fd)) {
    int err = errno;
    ::close(fd);
    return ThrowErrno(env, "attaching the handshake guard (SO_ATTACH_FILTER) on " + host + ":" + std::to_string(port), err);
  }
  // The socket's inode names it in /proc/net/udp{,6}, where the kernel counts its receive drops.
  struct stat st {};
  double inode = fstat(fd, &st) == 0 ? static_cast<double>(st.st_ino) : 0;
  if (srt_bind_acquire(s, fd) != 0) {
    ::close(fd);
    return ThrowSrt(env, "srt_bind_acquire");
  }
  // libsrt has applied udp_rcvbuf by now; the kernel caps it at net.core.rmem_max (and doubles it).
  int rcvbuf = 0;
  socklen_t optlen = sizeof rcvbuf;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &optlen) != 0) rcvbuf = 0;
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, inode));
  out.Set(1u, Napi::Number::New(env, rcvbuf));
  return out;
}

Napi::Value Listen(const Napi::CallbackInfo& info) {
  if (srt_listen(Sock(info, 0), I32(info, 1)) != 0) return ThrowSrt(info.Env(), "srt_listen");
  return info.Env().Undefined();
}

Napi::Value Accept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_storage ss;
  int len = sizeof ss;
  SRTSOCKET ns = srt_accept(Sock(info, 0), reinterpret_cast<sockaddr*>(&ss), &len);
  if (ns == SRT_INVALID_SOCK) {
    if (srt_getlasterror(nullptr) == SRT_EASYNCRCV) return env.Null();
    return ThrowSrt(env, "srt_accept");
  }
  SetNonBlocking(ns);
  Get(info)->sockets.insert(ns);
  char sid[600] = {0};
  int sidlen = sizeof sid;
  if (srt_getsockflag(ns, SRTO_STREAMID, sid, &sidlen) != 0) sidlen = 0;
  int32_t mode = 0;
  std::string resource;
  bool inferred = false;
  bool held = false;
  GateTakeAcceptInfo(ns, &mode, &resource, &inferred, &held);
  Napi::Value addr = AddrPair(env, ss);
  Napi::Array out = Napi::Array::New(env, 8);
  out.Set(0u, Napi::Number::New(env, ns));
  out.Set(1u, addr.As<Napi::Array>().Get(0u));
  out.Set(2u, addr.As<Napi::Array>().Get(1u));
  out.Set(3u, Napi::String::New(env, sid, static_cast<size_t>(sidlen)));
  out.Set(4u, Napi::Number::New(env, mode));
  out.Set(5u, Napi::String::New(env, resource));
  out.Set(6u, Napi::Boolean::New(env, inferred));
  out.Set(7u, Napi::Boolean::New(env, held));
  return out;
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_storage ss;
  int len;
  std::string host = info[1].As<Napi::String>().Utf8Value();
  if (!ParseAddr(host, I32(info, 2), &ss, &len)) return ThrowMsg(env, "not a numeric IP address: " + host);
  if (srt_connect(Sock(info, 0), reinterpret_cast<sockaddr*>(&ss), len) == SRT_ERROR) return ThrowSrt(env, "srt_connect");
  return env.Undefined();
}

Napi::Value Rendezvous(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_storage local, remote;
  int llen, rlen;
  std::string lh = info[1].As<Napi::String>().Utf8Value();
  std::string rh = info[3].As<Napi::String>().Utf8Value();
  if (!ParseAddr(lh, I32(info, 2), &local, &llen)) return ThrowMsg(env, "not a numeric IP address: " + lh);
  if (!ParseAddr(rh, I32(info, 4), &remote, &rlen)) return ThrowMsg(env, "not a numeric IP address: " + rh);
  if (srt_rendezvous(Sock(info, 0), reinterpret_cast<sockaddr*>(&local), llen, reinterpret_cast<sockaddr*>(&remote), rlen) ==
      SRT_ERROR)
    return ThrowSrt(env, "srt_rendezvous");
  return env.Undefined();
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  SRTSOCKET s = Sock(info, 0);
  ReactorUnwatch(s);
  GateForgetListener(s);
  int32_t m;
  std::string r;
  bool inf;
  bool held;
  GateTakeAcceptInfo(s, &m, &r, &inf, &held);
  GateSocketClosed(s);
  Get(info)->sockets.erase(s);
  srt_close(s);
  return info.Env().Undefined();
}

// Moves ownership of a socket between environments: the sending thread calls disown(), the
// receiving thread adopt(). Ownership only decides which environment closes it at teardown.
Napi::Value Adopt(const Napi::CallbackInfo& info) {
  Get(info)->sockets.insert(Sock(info, 0));
  return info.Env().Undefined();
}

Napi::Value Disown(const Napi::CallbackInfo& info) {
  SRTSOCKET s = Sock(info, 0);
  ReactorUnwatch(s);
  Get(info)->sockets.erase(s);
  return info.Env().Undefined();
}

Napi::Value State(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), srt_getsockstate(Sock(info, 0)));
}

Napi::Value RejectReason(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), srt_getrejectreason(Sock(info, 0)));
}

Napi::Value RejectReasonText(const Napi::CallbackInfo& info) {
  int code = I32(info, 0);
  if (code >= SRT_REJC_PREDEFINED) {
    return Napi::String::New(info.Env(), "rejected by the server with code " + std::to_string(code));
  }
  return Napi::String::New(info.Env(), srt_rejectreason_str(code));
}

Napi::Value LocalAddress(const Napi::CallbackInfo& info) {
  sockaddr_storage ss;
  int len = sizeof ss;
  if (srt_getsockname(Sock(info, 0), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return ThrowSrt(info.Env(), "srt_getsockname");
  return AddrPair(info.Env(), ss);
}

Napi::Value PeerAddress(const Napi::CallbackInfo& info) {
  sockaddr_storage ss;
  int len = sizeof ss;
  if (srt_getpeername(Sock(info, 0), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return ThrowSrt(info.Env(), "srt_getpeername");
  return AddrPair(info.Env(), ss);
}

// ---- statistics ---------------------------------------------------------------------------

#define STAT_FIELDS(X)                                                                          \
  X(msTimeStamp) X(msRTT) X(mbpsBandwidth) X(mbpsSendRate) X(mbpsRecvRate) X(mbpsMaxBW)         \
  X(pktSentTotal) X(pktRecvTotal) X(byteSentTotal) X(byteRecvTotal) X(pktSndLossTotal)          \
  X(pktRcvLossTotal) X(pktRetransTotal) X(pktRcvRetrans) X(pktSndDropTotal)                \
  X(pktRcvDropTotal) X(pktRcvUndecryptTotal) X(pktRcvBelated) X(pktSentACKTotal)                \
  X(pktRecvACKTotal) X(pktSentNAKTotal) X(pktRecvNAKTotal) X(pktSndBuf) X(byteSndBuf)           \
  X(msSndBuf) X(pktRcvBuf) X(byteRcvBuf) X(msRcvBuf) X(msSndTsbPdDelay) X(msRcvTsbPdDelay)      \
  X(pktFlightSize) X(pktFlowWindow) X(pktCongestionWindow) X(byteAvailSndBuf)                  \
  X(byteAvailRcvBuf) X(pktSndFilterExtraTotal) X(pktRcvFilterExtraTotal)                        \
  X(pktRcvFilterSupplyTotal) X(pktRcvFilterLossTotal) X(pktReorderTolerance)                    \
  X(pktSentUniqueTotal) X(pktRecvUniqueTotal) X(byteSentUniqueTotal) X(byteRecvUniqueTotal)     \
  X(byteRcvDropTotal) X(byteSndDropTotal) X(byteRetransTotal) X(pktSndLoss) X(pktRcvLoss)       \
  X(pktRetrans) X(pktSent) X(pktRecv)

Napi::Value StatFields(const Napi::CallbackInfo& info) {
  static const char* kNames[] = {
#define NAME(f) #f,
      STAT_FIELDS(NAME)
#undef NAME
  };
  size_t n = sizeof kNames / sizeof kNames[0];
  Napi::Array out = Napi::Array::New(info.Env(), n);
  for (size_t i = 0; i < n; i++) out.Set(static_cast<uint32_t>(i), Napi::String::New(info.Env(), kNames[i]));
  return out;
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  SRT_TRACEBSTATS p;
  if (srt_bistats(Sock(info, 0), &p, info[1].As<Napi::Boolean>().Value() ? 1 : 0, 1) != 0) {
    return Napi::Boolean::New(info.Env(), false);
  }
  Napi::Float64Array out = info[2].As<Napi::Float64Array>();
  double* d = out.Data();
  size_t cap = out.ElementLength();
  size_t i = 0;
#define PUT(f) \
  if (i < cap) d[i] = static_cast<double>(p.f); \
  i++;
  STAT_FIELDS(PUT)
#undef PUT
  return Napi::Boolean::New(info.Env(), true);
}

// ---- readiness ----------------------------------------------------------------------------

Napi::Value Watch(const Napi::CallbackInfo& info) {
  ReactorWatch(Get(info)->st, Sock(info, 0), I32(info, 1), I32(info, 2));
  return info.Env().Undefined();
}

Napi::Value SetReactorQuantum(const Napi::CallbackInfo& info) {
  ReactorSetQuantum(info[0].As<Napi::Number>().Int64Value());
  return info.Env().Undefined();
}

Napi::Value Unwatch(const Napi::CallbackInfo& info) {
  ReactorUnwatch(Sock(info, 0));
  return info.Env().Undefined();
}

Napi::Value Subscribe(const Napi::CallbackInfo& info) {
  ChannelSubscribe(Get(info)->st, U32(info, 0), I32(info, 1));
  return info.Env().Undefined();
}

Napi::Value Unsubscribe(const Napi::CallbackInfo& info) {
  ChannelUnsubscribe(Get(info)->st, U32(info, 0));
  return info.Env().Undefined();
}

Napi::Value Signal(const Napi::CallbackInfo& info) {
  ChannelSignal(U32(info, 0));
  return info.Env().Undefined();
}

// ---- data ---------------------------------------------------------------------------------

inline bool WouldBlock(int err) { return err == SRT_EASYNCRCV || err == SRT_EASYNCSND || err == SRT_ETIMEOUT; }

Napi::Value Recv(const Napi::CallbackInfo& info) {
  Napi::Uint8Array buf = info[1].As<Napi::Uint8Array>();
  int n = srt_recvmsg(Sock(info, 0), reinterpret_cast<char*>(buf.Data()), static_cast<int>(buf.ByteLength()));
  if (n < 0) return Napi::Number::New(info.Env(), WouldBlock(srt_getlasterror(nullptr)) ? 0 : -1);
  return Napi::Number::New(info.Env(), n);
}

Napi::Value Send(const Napi::CallbackInfo& info) {
  Napi::Uint8Array buf = info[1].As<Napi::Uint8Array>();
  int len = I32(info, 2);
  if (len < 0 || static_cast<size_t>(len) > buf.ByteLength()) return ThrowMsg(info.Env(), "send: length out of range");
  int n = srt_sendmsg(Sock(info, 0), reinterpret_cast<const char*>(buf.Data()), len, -1, 0);
  if (n < 0) return Napi::Number::New(info.Env(), WouldBlock(srt_getlasterror(nullptr)) ? 0 : -1);
  return Napi::Number::New(info.Env(), n);
}

struct Ring {
  uint8_t* base;
  uint32_t slotSize;
  uint32_t slotCount;
};

bool ReadRing(const Napi::CallbackInfo& info, size_t at, Ring* r) {
  Napi::Uint8Array slots = info[at].As<Napi::Uint8Array>();
  r->base = slots.Data();
  r->slotSize = U32(info, at + 1);
  r->slotCount = U32(info, at + 2);
  if (r->slotSize <= kSlotHeader || r->slotCount == 0 ||
      static_cast<uint64_t>(r->slotSize) * r->slotCount > slots.ByteLength()) {
    ThrowMsg(info.Env(), "ring view smaller than slotSize * slotCount");
    return false;
  }
  return true;
}

Napi::Value RecvSlots(const Napi::CallbackInfo& info) {
  Ring r;
  if (!ReadRing(info, 1, &r)) return info.Env().Undefined();
  SRTSOCKET s = Sock(info, 0);
  uint32_t first = U32(info, 4);
  int32_t max = I32(info, 5);
  SRT_MSGCTRL mc = srt_msgctrl_default;
  int32_t i = 0;
  for (; i < max; i++) {
    uint8_t* slot = r.base + static_cast<size_t>((first + i) % r.slotCount) * r.slotSize;
    int n = srt_recvmsg2(s, reinterpret_cast<char*>(slot + kSlotHeader), static_cast<int>(r.slotSize - kSlotHeader), &mc);
    if (n < 0) {
      if (WouldBlock(srt_getlasterror(nullptr))) break;
      return Napi::Number::New(info.Env(), -i - 1);
    }
    int32_t len = n, flags = 0;
    int64_t t = mc.srctime;
    std::memcpy(slot, &len, 4);
    std::memcpy(slot + 4, &flags, 4);
    std::memcpy(slot + 8, &t, 8);
  }
  return Napi::Number::New(info.Env(), i);
}

// Sends ring slots [seq, end) to one socket. Returns how far it got (slots done, empty ones
// included); *messages (if given) counts the messages really sent; *broken on a hard error.
// limitTime: only slots whose srctime <= limitTime are sent (paced time-shifted viewers);
// INT64_MAX sends everything.
inline uint32_t SendRange(SRTSOCKET s, const Ring& r, uint32_t seq, uint32_t end, bool srcTime, bool* broken,
                          int64_t limitTime = INT64_MAX, uint32_t* messages = nullptr) {
  SRT_MSGCTRL mc = srt_msgctrl_default;
  int64_t connTime = srcTime ? srt_connection_time(s) : 0;
  uint32_t sent = 0;
  const uint32_t mask = r.slotCount - 1;
  const bool pow2 = (r.slotCount & mask) == 0;
  for (; seq != end; seq++, sent++) {
    uint32_t idx = pow2 ? (seq & mask) : (seq % r.slotCount);
    const uint8_t* slot = r.base + static_cast<size_t>(idx) * r.slotSize;
    int32_t len;
    std::memcpy(&len, slot, 4);
    if (len <= 0 || static_cast<uint32_t>(len) > r.slotSize - kSlotHeader) continue;  // empty slot
    if (srcTime || limitTime != INT64_MAX) {
      int64_t t;
      std::memcpy(&t, slot + 8, 8);
      if (t > limitTime) break;
      if (srcTime) mc.srctime = t < connTime ? connTime : t;
    }
    int n = srt_sendmsg2(s, reinterpret_cast<const char*>(slot + kSlotHeader), len, &mc);
    if (n < 0) {
      if (!WouldBlock(srt_getlasterror(nullptr))) *broken = true;
      break;
    }
    if (messages != nullptr) (*messages)++;
  }
  return sent;
}

Napi::Value SendSlots(const Napi::CallbackInfo& info) {
  Ring r;
  if (!ReadRing(info, 1, &r)) return info.Env().Undefined();
  uint32_t first = U32(info, 4);
  uint32_t count = U32(info, 5);
  bool srcTime = info[6].ToBoolean().Value();
  bool broken = false;
  uint32_t sent = SendRange(Sock(info, 0), r, first, first + count, srcTime, &broken);
  return Napi::Number::New(info.Env(), broken ? -static_cast<double>(sent) - 1 : sent);
}

Napi::Value StampSlots(const Napi::CallbackInfo& info) {
  Ring r;
  if (!ReadRing(info, 0, &r)) return info.Env().Undefined();
  uint32_t first = U32(info, 3);
  uint32_t count = U32(info, 4);
  int64_t now = srt_time_now();
  for (uint32_t i = 0; i < count; i++) {
    uint8_t* slot = r.base + static_cast<size_t>((first + i) % r.slotCount) * r.slotSize;
    std::memcpy(slot + 8, &now, 8);
  }
  return info.Env().Undefined();
}

// glibc keeps memory freed by libsrt (connection buffers) in its arenas; after a burst of
// sessions (a handshake flood, many viewers leaving) malloc_trim hands the free pages back.
Napi::Value TrimMemory(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
}

// mallinfo2() summed over every arena: [from the system in arenas (arena), in use (uordblks),
// free in arenas (fordblks), mmapped chunks (hblkhd)], bytes. Free bytes stay counted after
// malloc_trim madvises their pages away, so "free" is an upper bound of what RSS can hold.
Napi::Value MallocStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct mallinfo2 m = mallinfo2();
  Napi::Array out = Napi::Array::New(env, 4);
  out.Set(0u, Napi::Number::New(env, static_cast<double>(m.arena)));
  out.Set(1u, Napi::Number::New(env, static_cast<double>(m.uordblks)));
  out.Set(2u, Napi::Number::New(env, static_cast<double>(m.fordblks)));
  out.Set(3u, Napi::Number::New(env, static_cast<double>(m.hblkhd)));
  return out;
}

Napi::Value Fanout(const Napi::CallbackInfo& info) {
  Ring r;
  if (!ReadRing(info, 0, &r)) return info.Env().Undefined();
  uint32_t head = U32(info, 3);
  uint32_t oldest = U32(info, 4);
  Napi::Int32Array socks = info[5].As<Napi::Int32Array>();
  Napi::Uint32Array cursors = info[6].As<Napi::Uint32Array>();
  uint32_t n = U32(info, 7);
  bool srcTime = info[8].ToBoolean().Value();
  Napi::Int32Array results = info[9].As<Napi::Int32Array>();
  // Optional per-viewer delay (µs) for time-shifted viewers: send a slot once
  // srctime + delay <= now. 0 = no pacing.
  const double* delays = nullptr;
  if (info.Length() > 10 && info[10].IsTypedArray()) {
    Napi::Float64Array d = info[10].As<Napi::Float64Array>();
    if (d.ElementLength() >= n) delays = d.Data();
  }
  const int64_t now = delays != nullptr ? srt_time_now() : 0;
  if (n > socks.ElementLength() || n > cursors.ElementLength() || n * 2 > results.ElementLength()) {
    return ThrowMsg(info.Env(), "fanout: arrays shorter than n");
  }
  int32_t* sk = socks.Data();
  uint32_t* cur = cursors.Data();
  int32_t* res = results.Data();
  double total = 0;
  for (uint32_t i = 0; i < n; i++) {
    res[2 * i] = 0;
    res[2 * i + 1] = 0;
    if (sk[i] < 0) continue;
    uint32_t c = cur[i];
    if (static_cast<int32_t>(c - oldest) < 0) {
      res[2 * i + 1] = static_cast<int32_t>(oldest - c);
      c = oldest;
    }
    if (c == head) {
      cur[i] = c;
      continue;
    }
    bool broken = false;
    int64_t limit = (delays != nullptr && delays[i] > 0) ? now - static_cast<int64_t>(delays[i]) : INT64_MAX;
    uint32_t messages = 0;
    uint32_t done = SendRange(sk[i], r, c, head, srcTime, &broken, limit, &messages);
    cur[i] = c + done;
    // Messages sent, not slots passed: slots a switch emptied are not counted as sent.
    res[2 * i] = broken ? -1 : static_cast<int32_t>(messages);
    total += messages;
  }
  return Napi::Number::New(info.Env(), total);
}

}  // namespace

Napi::Value ThrowSrt(Napi::Env env, const char* what) {
  int sys = 0;
  int code = srt_getlasterror(&sys);
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + srt_getlasterror_str());
  e.Set("code", Napi::String::New(env, "ERR_SRT_NATIVE"));
  e.Set("srtErrno", Napi::Number::New(env, code));
  e.Set("sysErrno", Napi::Number::New(env, sys));
  srt_clearlasterror();
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// A failed system call: `what: strerror`, with sysErrno set (e.g. EADDRINUSE → HTTP 409 in the API).
Napi::Value ThrowErrno(Napi::Env env, const std::string& what, int err) {
  Napi::Error e = Napi::Error::New(env, what + ": " + strerror(err));
  e.Set("code", Napi::String::New(env, "ERR_SRT_NATIVE"));
  e.Set("srtErrno", Napi::Number::New(env, -1));
  e.Set("sysErrno", Napi::Number::New(env, err));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowInvalidArg(Napi::Env env, const char* fn, const char* arg, const char* want) {
  Napi::TypeError e = Napi::TypeError::New(env, std::string(fn) + ": argument '" + arg + "' must be " + want);
  e.Set("code", Napi::String::New(env, "ERR_SRT_INVALID_ARG"));
  e.Set("argument", Napi::String::New(env, arg));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowMsg(Napi::Env env, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, "ERR_SRT_NATIVE"));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// Every accepted handshake, even one libsrt then refuses for its passphrase, gets a CUDT whose
// connection objects are allocated before the crypto check: in 1.5.1 at the default options a
// CRcvLossList of 400 KiB, a CSndLossList of 192 KiB, a CRcvBufferNew of 128 KiB and a
// CSndBuffer block of about 46 KB (heaptrack over a flood of 300 refused publishes). glibc's dynamic mmap threshold
// climbs past those sizes after the first free, so they then come from the arenas, where what
// they free stays resident until a malloc_trim. A fixed threshold below them (which also stops
// the climb) gives each its own mapping, returned to the system the moment libsrt frees it. A
// few mmap/munmap per connection, none per packet. Once per process (mallopt is global); an
// operator's own glibc.malloc.mmap_threshold (GLIBC_TUNABLES or MALLOC_MMAP_THRESHOLD_) wins.
constexpr int kMmapThresholdBytes = 64 * 1024;

void TuneMalloc() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr || (tunables != nullptr && std::strstr(tunables, "mmap_threshold") != nullptr)) return;
  mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  static std::once_flag mallocTuned;
  std::call_once(mallocTuned, TuneMalloc);
  auto* a = new Addon();
  a->st = EnvCreate(env);
  env.SetInstanceData<Addon, NoFinalize>(a);  // freed by CloseHook, the last hook to run
  napi_add_env_cleanup_hook(env, CloseHook, a);
  srt_setloglevel(2);  // LOG_CRIT: libsrt logs nothing routine to stderr; state comes via stats

  struct Fn {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  static const Fn kFns[] = {
      {"version", Version},       {"init", Init},
      {"now", Now},               {"stampSlots", StampSlots},
      {"keepAlive", KeepAlive},   {"optionNames", OptionNames},
      {"socket", Socket},         {"setOption", SetOption},
      {"getOption", GetOption},   {"bind", Bind},
      {"probePort", ProbePort},
      {"listen", Listen},         {"accept", Accept},
      {"connect", Connect},       {"rendezvous", Rendezvous},
      {"close", Close},           {"state", State},
      {"adopt", Adopt},           {"disown", Disown},
      {"rejectReason", RejectReason}, {"rejectReasonText", RejectReasonText},
      {"localAddress", LocalAddress}, {"peerAddress", PeerAddress},
      {"statFields", StatFields}, {"stats", Stats},
      {"watch", Watch},           {"unwatch", Unwatch},
      {"setReactorQuantum", SetReactorQuantum},
      {"channelSubscribe", Subscribe}, {"channelUnsubscribe", Unsubscribe},
      {"signal", Signal},         {"recv", Recv},
      {"send", Send},             {"recvSlots", RecvSlots},
      {"sendSlots", SendSlots},   {"fanout", Fanout},
      {"trimMemory", TrimMemory}, {"mallocStats", MallocStats},
  };
  for (const Fn& f : kFns) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
  GateRegister(env, exports);
  return exports;
}

}  // namespace srtnative

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) { return srtnative::InitModule(env, exports); }
NODE_API_MODULE(srt_native, InitAll)
