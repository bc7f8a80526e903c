// The gate: handshake-time accept/reject decisions for listeners, answered on libsrt's RcvQ
// thread from a table in native memory that JS keeps current. Never waits for JavaScript.
#include "srt_native.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <cctype>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace srtnative {

namespace {

struct Action {
  int32_t code = 0;        // 0 accept, >= 1000 reject
  std::string passphrase;  // per-connection passphrase ("" = listener's own setting)
  int32_t latencyMs = 0;   // the relay's side of the latency negotiation (0 = listener's own setting)
};

struct Entry {
  Action publish;
  Action play;
  bool live = false;  // a plain streamid on a "both" port plays a live stream
  // Written by JS (gateSet) or made by a provisional live mark: a new value per write, so a
  // provisional mark is rolled back only while JS has not written the entry since.
  uint64_t gen = 0;
  // Provisional live mark of an accepted explicit publish (see Decide): held by the handshakes
  // and accepted sockets that made or shared it; when the last hold goes and JS never wrote
  // the entry, the previous state comes back (or the entry goes, if it did not exist).
  int32_t provHolds = 0;
  bool provExisted = false;
  int32_t provPrevPlay = 0;
};

// A decision from the auth webhook for one (streamid, peer host), cached until `expires`.
struct AuthDecision {
  int32_t code = 0;
  std::string passphrase;
  std::string rename;
  std::chrono::steady_clock::time_point expires;
};

struct PendingAuth {
  std::string streamid;
  std::string host;
  int32_t port;
  int32_t mode;
  std::string resource;
};

// Handshakes allowed per remote host: a token bucket refilled at `rate` per second up to `burst`.
struct Bucket {
  double tokens;
  std::chrono::steady_clock::time_point at;
};

// stage: 0 refused by the gate; 1 accepted by the gate, then refused by libsrt (its reason:
// 10 bad secret, 11 no secret, 0 not known) or broken before srt_accept; 2 accepted by the gate
// and libsrt but not taken by srt_accept within the gate's accept TTL (or evicted when the
// table was full): forgotten, so JS closes it as a connection without a gate decision.
struct Rejection {
  int32_t gate;
  std::string streamid;
  std::string host;
  int32_t port;
  int32_t code;
  int32_t stage = 0;
  int32_t localPort = 0;  // the listening port that refused it (0 unknown)
};

struct Gate {
  // Per remote host limits (0 = off); hosts in `exempt` (a load balancer) are never limited.
  double hsRate = 0;
  double hsBurst = 0;
  int32_t perHost = 0;
  int32_t limitCode = SRT_REJC_PREDEFINED + 429;
  // Node-wide bucket: applies to every host, exempt ones included (0 = off).
  double allRate = 0;
  double allBurst = 0;
  Bucket all{0, std::chrono::steady_clock::time_point{}};
  std::unordered_map<std::string, Bucket> buckets;
  std::unordered_map<std::string, int32_t> hostSessions;  // accepted and not yet closed
  std::unordered_set<std::string> exempt;
  Action defPublish;
  Action defPlay;
  std::unordered_map<std::string, Entry> entries;
  // Webhook auth: when enabled, a caller without a cached decision is refused with pendingCode
  // (so it retries), JS is woken on `channel` to ask the webhook, and the retry is decided
  // from the cache.
  bool authEnabled = false;
  int32_t pendingCode = SRT_REJC_PREDEFINED + 503;
  uint32_t channel = 0;
  std::unordered_map<std::string, AuthDecision> auth;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> asked;
  std::deque<PendingAuth> pending;
  // Held admission: while holdRoom > 0, a caller without a cached decision is accepted instead
  // of refused (one unit of room each; JS sets the room from the holds it has: gateHoldRoom)
  // and marked held: JS keeps it off the stream until the webhook has answered.
  int32_t holdRoom = 0;
  // (streamid, host) refused for a while after JS closed an accepted caller (its negotiated
  // latency was over the stream's max): its retry gets `code` in the handshake.
  struct Refusal {
    int32_t code;
    std::chrono::steady_clock::time_point expires;
  };
  std::unordered_map<std::string, Refusal> refusals;
  // Handshakes the gate accepted that have not reached srt_accept yet, oldest first
  // (seq -> socket; the info itself is in g_accepted). Bounded by acceptCapacity; an entry
  // leaves when its socket is accepted, is seen refused/broken, is older than acceptTtl, or
  // is the oldest when the table is full (a new caller is never refused for room).
  std::map<uint64_t, SRTSOCKET> accepting;
  size_t acceptCapacity = 65536;
  std::chrono::milliseconds acceptTtl{5000};
  std::deque<Rejection> rejections;  // this gate's recent refusals (bounded)
  double refusedByGate = 0;
  double refusedAfterGate = 0;  // stage 1
  double forgotten = 0;         // stage 2
};

struct ListenerCfg {
  int32_t gate;
  int32_t localPort = 0;  // its bound UDP port (read once at gateAttach)
  int32_t direction;  // 0 both, 1 incoming (publish), 2 outgoing (play)
  std::string fixedResource;
  // How a fixed-resource listener treats the caller's streamid:
  // 0 ignore it (the resource is fixedResource), 1 wildcard (resource fixedResource+"+"+sid,
  // decided by fixedResource's entry), 2 refuse a non-empty streamid with 1403.
  int32_t sidPolicy;
  // Stream-id dialects of this port: a first name part equal to one of these domains is
  // dropped and gives the direction (SRT Live Server's publisher/player domains, OME's vhost).
  SidDomains domains;
  // Callers that send no streamid: the stream of the first matching address prefix, else
  // idlessDefault ("" = none: the empty name is refused with 1400 as before).
  struct Prefix {
    int family;
    unsigned char addr[16];
    int32_t bits;
    std::string stream;
  };
  std::vector<Prefix> idlessByAddress;
  std::string idlessDefault;
  int32_t idlessMode = kModeUnknown;  // the direction of such a caller (unknown: the port's rule)
};

// True when `peer` is inside the prefix.
bool InPrefix(const ListenerCfg::Prefix& p, const sockaddr* peer) {
  const unsigned char* a;
  if (peer == nullptr) return false;
  if (peer->sa_family == AF_INET && p.family == AF_INET) {
    a = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(peer)->sin_addr);
  } else if (peer->sa_family == AF_INET6 && p.family == AF_INET6) {
    a = reinterpret_cast<const sockaddr_in6*>(peer)->sin6_addr.s6_addr;
  } else if (peer->sa_family == AF_INET6 && p.family == AF_INET) {
    // An IPv4 caller on a dual-stack listener: ::ffff:a.b.c.d
    const unsigned char* b = reinterpret_cast<const sockaddr_in6*>(peer)->sin6_addr.s6_addr;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(b, mapped, 12) != 0) return false;
    a = b + 12;
  } else {
    return false;
  }
  int32_t bits = p.bits;
  for (int i = 0; bits > 0; i++, bits -= 8) {
    unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((a[i] & mask) != (p.addr[i] & mask)) return false;
  }
  return true;
}

struct AcceptInfo {
  int32_t mode;
  std::string resource;
  bool inferred;  // the streamid did not say; a "both" port guessed from the stream's state
  int32_t gate;
  std::string host;
  int32_t port = 0;
  int32_t localPort = 0;  // the listening port
  std::string streamid;
  uint64_t seq = 0;  // its key in the gate's `accepting` (oldest first)
  std::chrono::steady_clock::time_point at;
  std::string provKey;  // non-empty: holds the provisional live mark of this entry...
  uint64_t provGen = 0; // ...written at this generation
  bool held = false;    // accepted before the webhook decided: JS holds it until it has
};

// An accepted socket counted in its gate's hostSessions until it is closed.
struct Counted {
  int32_t gate;
  std::string host;
  std::string provKey;
  uint64_t provGen = 0;
};


std::mutex g_mu;
std::unordered_map<int32_t, Gate> g_gates;
std::unordered_map<SRTSOCKET, ListenerCfg> g_listeners;
std::unordered_map<SRTSOCKET, AcceptInfo> g_accepted;
std::unordered_map<SRTSOCKET, Counted> g_counted;
int32_t g_nextGate = 1;
uint64_t g_nextSeq = 1;
uint64_t g_nextGen = 1;
constexpr size_t kMaxRejections = 256;

void AddrToString(const sockaddr* sa, std::string* host, int32_t* port) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    *port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    *port = ntohs(in6->sin6_port);
  } else {
    *port = 0;
  }
  *host = buf;
}

int Refuse(const ListenerCfg& cfg, SRTSOCKET ns, const sockaddr* peer, const std::string& sid, int32_t code) {
  const int32_t gate = cfg.gate;
  srt_setrejectreason(ns, code);
  Rejection r;
  r.gate = gate;
  r.localPort = cfg.localPort;
  r.streamid = sid;
  AddrToString(peer, &r.host, &r.port);
  r.code = code;
  auto g = g_gates.find(gate);
  if (g != g_gates.end()) {
    g->second.refusedByGate++;
    if (g->second.rejections.size() >= kMaxRejections) g->second.rejections.pop_front();
    g->second.rejections.push_back(std::move(r));
  }
  return -1;
}

// Drops one hold on a provisional live mark; the last one rolls it back unless JS wrote the
// entry since (its generation moved on). g_mu held.
void ReleaseProvisional(int32_t gateId, const std::string& key, uint64_t gen) {
  if (key.empty()) return;
  auto g = g_gates.find(gateId);
  if (g == g_gates.end()) return;
  auto e = g->second.entries.find(key);
  if (e == g->second.entries.end() || e->second.gen != gen) return;
  if (--e->second.provHolds > 0) return;
  if (!e->second.provExisted) {
    g->second.entries.erase(e);
  } else {
    e->second.live = false;
    e->second.play.code = e->second.provPrevPlay;
    e->second.provHolds = 0;
  }
}

// A handshake the gate accepted that will not be handed to srt_accept with its decision:
// count it, list it, release what it held. g_mu held.
void ForgetAccepting(Gate& gate, std::unordered_map<SRTSOCKET, AcceptInfo>::iterator it, int32_t stage, int32_t code) {
  AcceptInfo& a = it->second;
  Rejection r;
  r.gate = a.gate;
  r.streamid = std::move(a.streamid);
  r.host = std::move(a.host);
  r.port = a.port;
  r.localPort = a.localPort;
  r.code = code;
  r.stage = stage;
  if (stage == 1) gate.refusedAfterGate++;
  else gate.forgotten++;
  if (gate.rejections.size() >= kMaxRejections) gate.rejections.pop_front();
  gate.rejections.push_back(std::move(r));
  std::string key = std::move(a.provKey);
  uint64_t gen = a.provGen;
  int32_t gateId = a.gate;
  g_accepted.erase(it);
  ReleaseProvisional(gateId, key, gen);
}

// Walks the gate's accepting handshakes from the oldest: forgets those whose socket libsrt
// refused or broke (state past CONNECTED: the socket will never reach srt_accept) and those
// older than the TTL; stops at the first one still on its way. With `room`, also evicts the
// oldest until one more fits. g_mu held; srt_getsockstate/srt_getrejectreason only take
// libsrt's global socket lock, as srt_setsockflag in Decide already does.
void SweepAccepting(Gate& gate, bool room) {
  auto now = std::chrono::steady_clock::now();
  while (!gate.accepting.empty()) {
    auto front = gate.accepting.begin();
    auto it = g_accepted.find(front->second);
    if (it == g_accepted.end() || it->second.seq != front->first) {
      gate.accepting.erase(front);  // taken by srt_accept already
      continue;
    }
    SRT_SOCKSTATUS st = srt_getsockstate(front->second);
    bool dead = st == SRTS_BROKEN || st == SRTS_CLOSING || st == SRTS_CLOSED || st == SRTS_NONEXIST;
    bool old = now - it->second.at > gate.acceptTtl;
    bool full = room && gate.accepting.size() >= gate.acceptCapacity;
    if (!dead && !old && !full) break;
    int32_t code = 0;
    if (dead) {
      int reason = srt_getrejectreason(front->second);
      code = reason > 0 ? reason : 0;
    }
    gate.accepting.erase(front);
    ForgetAccepting(gate, it, dead ? 1 : 2, code);
  }
}

constexpr auto kAskAgainAfter = std::chrono::seconds(10);

// The stream naming rule of the config and the API (src/streams/stream-name.ts): 1 to 200
// characters of [A-Za-z0-9._~+-], '/' only between parts. A caller asking for any other name
// (spaces, control characters, invalid UTF-8, percent escapes, an empty name) gets 1400.
// No part may be "." or ".." (names end up in paths and URLs). Mirrors src/streams/stream-name.ts.
bool ValidStreamName(const std::string& s) {
  if (s.empty() || s.size() > 200 || s.front() == '/' || s.back() == '/') return false;
  size_t partStart = 0;
  for (size_t i = 0; i <= s.size(); i++) {
    if (i == s.size() || s[i] == '/') {
      size_t len = i - partStart;
      if (len == 0) return false;  // "//"
      if ((len == 1 && s[partStart] == '.') || (len == 2 && s[partStart] == '.' && s[partStart + 1] == '.')) return false;
      partStart = i + 1;
      continue;
    }
    char c = s[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '~' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}
constexpr size_t kMaxBuckets = 65536;

// Rate and per-host session limits. False: refuse with gate.limitCode.
// Takes one token from `b` (refilled at `rate`/s up to `burst`); false when there is none.
bool TakeToken(Bucket& b, double rate, double burst, std::chrono::steady_clock::time_point now) {
  double secs = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(burst, b.tokens + secs * rate);
  b.at = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

bool WithinLimits(Gate& gate, const std::string& host) {
  if (gate.allRate > 0 && !TakeToken(gate.all, gate.allRate, gate.allBurst, std::chrono::steady_clock::now())) return false;
  if ((gate.hsRate <= 0 && gate.perHost <= 0) || gate.exempt.count(host) != 0) return true;
  if (gate.perHost > 0) {
    auto it = gate.hostSessions.find(host);
    if (it != gate.hostSessions.end() && it->second >= gate.perHost) return false;
  }
  if (gate.hsRate > 0) {
    auto now = std::chrono::steady_clock::now();
    if (gate.buckets.size() >= kMaxBuckets) {
      // Forget hosts whose bucket has refilled (they are as new); bounds memory under a flood
      // from many addresses.
      for (auto it = gate.buckets.begin(); it != gate.buckets.end();) {
        double secs = std::chrono::duration<double>(now - it->second.at).count();
        if (it->second.tokens + secs * gate.hsRate >= gate.hsBurst) it = gate.buckets.erase(it);
        else ++it;
      }
      if (gate.buckets.size() >= kMaxBuckets) return false;
    }
    auto ins = gate.buckets.emplace(host, Bucket{gate.hsBurst, now});
    if (!TakeToken(ins.first->second, gate.hsRate, gate.hsBurst, now)) return false;
  }
  return true;
}

// libsrt RcvQ thread, holding the listener's lock and g_mu.
int Decide(const ListenerCfg& cfg, SRTSOCKET ns, const sockaddr* peer, const char* streamid) {
  std::string sid = streamid ? streamid : "";
  int32_t mode = kModeUnknown;
  std::string resource;
  ClassifyStreamId(sid, cfg.domains, &mode, &resource);
  if (sid.empty() && cfg.fixedResource.empty()) {
    // A device that sends no streamid: the port's map, then its default.
    resource = cfg.idlessDefault;
    for (const auto& p : cfg.idlessByAddress) {
      if (InPrefix(p, peer)) {
        resource = p.stream;
        break;
      }
    }
    mode = cfg.idlessMode;
  }
  std::string key;  // the table entry that decides
  if (!cfg.fixedResource.empty()) {
    if (cfg.sidPolicy == 2 && !sid.empty()) return Refuse(cfg, ns, peer, sid, SRT_REJC_PREDEFINED + 403);
    key = cfg.fixedResource;
    if (cfg.sidPolicy == 1 && !sid.empty()) {
      resource = cfg.fixedResource + "+" + (resource.empty() ? sid : resource);
    } else {
      resource = cfg.fixedResource;
    }
  } else {
    key = resource;
  }
  if (cfg.direction == 1) {
    if (mode == kModeUnknown) mode = kModePublish;
  } else if (cfg.direction == 2) {
    if (mode == kModeUnknown) mode = kModePlay;
  }

  auto g = g_gates.find(cfg.gate);
  if (g == g_gates.end()) return Refuse(cfg, ns, peer, sid, SRT_REJC_PREDEFINED + 503);  // gate gone: shutting down
  Gate& gate = g->second;
  // Forget handshakes libsrt refused after an earlier "yes" first: their provisional live
  // marks must not decide this caller.
  SweepAccepting(gate, false);
  std::string peerHost;
  int32_t peerPort = 0;
  AddrToString(peer, &peerHost, &peerPort);
  if (!WithinLimits(gate, peerHost)) return Refuse(cfg, ns, peer, sid, gate.limitCode);
  if (!gate.refusals.empty()) {
    auto r = gate.refusals.find(sid + "\n" + peerHost);
    if (r != gate.refusals.end()) {
      if (r->second.expires > std::chrono::steady_clock::now()) return Refuse(cfg, ns, peer, sid, r->second.code);
      gate.refusals.erase(r);
    }
  }
  // Before the webhook is asked: a malformed name never reaches it (checked again after a rename).
  if (!ValidStreamName(resource)) return Refuse(cfg, ns, peer, sid, SRT_REJC_PREDEFINED + 400);
  auto e = gate.entries.find(key);
  const bool inferred = mode == kModeUnknown;
  if (mode == kModeUnknown) mode = (e != gate.entries.end() && e->second.live) ? kModePlay : kModePublish;

  std::string authPass;
  bool held = false;
  if (gate.authEnabled) {
    const std::string& host = peerHost;
    const int32_t port = peerPort;
    std::string akey = sid + "\n" + host;
    auto now = std::chrono::steady_clock::now();
    auto a = gate.auth.find(akey);
    if (a == gate.auth.end() || a->second.expires < now) {
      auto asked = gate.asked.find(akey);
      if (asked == gate.asked.end() || asked->second + kAskAgainAfter < now) {
        gate.asked[akey] = now;
        if (gate.pending.size() < 1024) gate.pending.push_back(PendingAuth{sid, host, port, mode, resource});
        if (gate.channel != 0) ChannelSignal(gate.channel);
      }
      if (gate.holdRoom <= 0) return Refuse(cfg, ns, peer, sid, gate.pendingCode);
      gate.holdRoom--;
      held = true;  // the rules below still apply; the webhook's verdict comes after the accept
    } else {
      if (a->second.code != 0) return Refuse(cfg, ns, peer, sid, a->second.code);
      if (!a->second.rename.empty() && cfg.fixedResource.empty()) {
        resource = a->second.rename;
        key = resource;
        e = gate.entries.find(key);
      }
      authPass = a->second.passphrase;
    }
  }

  if (!ValidStreamName(resource)) return Refuse(cfg, ns, peer, sid, SRT_REJC_PREDEFINED + 400);

  const Action* act;
  Action derived;
  if (cfg.sidPolicy == 1 && resource != key) {
    // Wildcard input "base+id": the derived stream's own entry decides once it exists;
    // before that, the base stream's publish settings apply, but not its "already live".
    auto d = gate.entries.find(resource);
    if (d != gate.entries.end()) {
      e = d;
    } else if (e != gate.entries.end()) {
      derived = e->second.publish;
      if (derived.code == SRT_REJC_PREDEFINED + 409) derived.code = 0;
      e = gate.entries.end();
    }
  }
  if (e != gate.entries.end()) {
    act = mode == kModePublish ? &e->second.publish : &e->second.play;
  } else if (cfg.sidPolicy == 1 && resource != key) {
    act = &derived;
  } else {
    act = mode == kModePublish ? &gate.defPublish : &gate.defPlay;
  }
  int32_t code = act->code;
  // A port restricted to one direction refuses the other one.
  if (code == 0 && ((cfg.direction == 1 && mode == kModePlay) || (cfg.direction == 2 && mode == kModePublish))) {
    code = SRT_REJC_PREDEFINED + 405;
  }
  if (code != 0) return Refuse(cfg, ns, peer, sid, code);
  const std::string& pass = authPass.empty() ? act->passphrase : authPass;
  if (!pass.empty()) {
    // Enforced whatever the port's params say: with enforcedencryption=0 on both sides libsrt
    // connects a caller without the passphrase, and its plaintext would be relayed as the
    // stream (a publisher) or it would get the stream's ciphertext (a viewer).
    const int enforced = 1;
    if (srt_setsockflag(ns, SRTO_PASSPHRASE, pass.data(), static_cast<int>(pass.size())) != 0 ||
        srt_setsockflag(ns, SRTO_ENFORCEDENCRYPTION, &enforced, sizeof enforced) != 0) {
      srt_setrejectreason(ns, SRT_REJC_PREDEFINED + 500);
      return -1;
    }
  }
  if (act->latencyMs > 0) {
    // The stream's latency policy: the relay's side of the negotiation (libsrt takes the larger
    // of both sides, so this is the floor the caller gets). RCVLATENCY rules what a publisher
    // gets, PEERLATENCY what a player gets; both are pre-connection options, settable here.
    const int ms = act->latencyMs;
    if (srt_setsockflag(ns, SRTO_RCVLATENCY, &ms, sizeof ms) != 0 || srt_setsockflag(ns, SRTO_PEERLATENCY, &ms, sizeof ms) != 0) {
      srt_setrejectreason(ns, SRT_REJC_PREDEFINED + 500);
      return -1;
    }
  }
  // A publisher whose streamid said so is live from this moment: a player that connects right
  // after it must not get 1404 while the supervisor has yet to see the accept (it syncs the
  // entry with its own view moments later; an undecided plain-name caller is left alone).
  // Provisional: libsrt may still refuse this caller (bad or missing secret) after we return;
  // the mark is held by this handshake (then by its accepted socket) and rolled back when the
  // last holder goes, unless JS wrote the entry meanwhile (SweepAccepting, GateSocketClosed).
  std::string provKey;
  uint64_t provGen = 0;
  if (mode == kModePublish && !inferred && cfg.sidPolicy != 1 && !held) {
    auto found = gate.entries.find(key);
    if (found == gate.entries.end() || !found->second.live) {
      Entry& live = gate.entries[key];
      live.provExisted = found != gate.entries.end();
      live.provPrevPlay = live.play.code;
      live.provHolds = 1;
      live.gen = g_nextGen++;
      live.live = true;
      live.play.code = 0;
      provKey = key;
      provGen = live.gen;
    } else if (found->second.provHolds > 0) {
      found->second.provHolds++;  // shares a mark not yet confirmed
      provKey = key;
      provGen = found->second.gen;
    }
  }
  SweepAccepting(gate, true);
  AcceptInfo info;
  info.mode = mode;
  info.resource = std::move(resource);
  info.inferred = inferred;
  info.gate = cfg.gate;
  info.host = peerHost;
  info.port = peerPort;
  info.localPort = cfg.localPort;
  info.streamid = sid;
  info.seq = g_nextSeq++;
  info.at = std::chrono::steady_clock::now();
  info.provKey = std::move(provKey);
  info.provGen = provGen;
  info.held = held;
  auto old = g_accepted.find(ns);
  if (old != g_accepted.end()) {  // a socket id libsrt reused: the old handshake is gone
    auto og = g_gates.find(old->second.gate);
    if (og != g_gates.end()) {
      og->second.accepting.erase(old->second.seq);
      ForgetAccepting(og->second, old, 1, 0);
    } else {
      g_accepted.erase(old);
    }
  }
  gate.accepting.emplace(info.seq, ns);
  g_accepted[ns] = std::move(info);
  return 0;
}

// libsrt RcvQ thread. opaque carries the listener socket id.
int Hook(void* opaque, SRTSOCKET ns, int, const sockaddr* peer, const char* streamid) {
  auto lsn = static_cast<SRTSOCKET>(reinterpret_cast<intptr_t>(opaque));
  std::lock_guard<std::mutex> lk(g_mu);
  auto l = g_listeners.find(lsn);
  if (l == g_listeners.end()) {
    srt_setrejectreason(ns, SRT_REJC_PREDEFINED + 503);
    return -1;
  }
  return Decide(l->second, ns, peer, streamid);
}

Action ReadAction(const Napi::CallbackInfo& info, size_t codeAt) {
  Action a;
  a.code = info[codeAt].As<Napi::Number>().Int32Value();
  a.passphrase = info[codeAt + 1].As<Napi::String>().Utf8Value();
  return a;
}

// gateCreate([acceptCapacity[, acceptTtlMs]])
Napi::Value GateCreate(const Napi::CallbackInfo& info) {
  Gate gate;
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsNumber() || info[0].As<Napi::Number>().DoubleValue() < 1)
      return ThrowInvalidArg(info.Env(), "gateCreate", "acceptCapacity", "a number >= 1");
    gate.acceptCapacity = static_cast<size_t>(info[0].As<Napi::Number>().DoubleValue());
  }
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsNumber() || info[1].As<Napi::Number>().DoubleValue() < 1)
      return ThrowInvalidArg(info.Env(), "gateCreate", "acceptTtlMs", "a number >= 1");
    gate.acceptTtl = std::chrono::milliseconds(info[1].As<Napi::Number>().Int64Value());
  }
  std::lock_guard<std::mutex> lk(g_mu);
  int32_t id = g_nextGate++;
  g_gates[id] = std::move(gate);
  return Napi::Number::New(info.Env(), id);
}

Napi::Value GateDestroy(const Napi::CallbackInfo& info) {
  int32_t id = info[0].As<Napi::Number>().Int32Value();
  std::lock_guard<std::mutex> lk(g_mu);
  auto g = g_gates.find(id);
  if (g != g_gates.end()) {
    for (auto& [seq, s] : g->second.accepting) {
      auto it = g_accepted.find(s);
      if (it != g_accepted.end() && it->second.seq == seq) g_accepted.erase(it);
    }
    g_gates.erase(g);
  }
  return info.Env().Undefined();
}

// [name, mode][] -> SidDomains (names lower-cased).
SidDomains ReadDomains(const Napi::Value& v) {
  SidDomains out;
  if (!v.IsArray()) return out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Array row = a.Get(i).As<Napi::Array>();
    std::string name = row.Get(0u).As<Napi::String>().Utf8Value();
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.emplace_back(std::move(name), row.Get(1u).As<Napi::Number>().Int32Value());
  }
  return out;
}

Napi::Value GateAttach(const Napi::CallbackInfo& info) {
  int32_t gate = info[0].As<Napi::Number>().Int32Value();
  SRTSOCKET lsn = info[1].As<Napi::Number>().Int32Value();
  ListenerCfg cfg;
  cfg.gate = gate;
  cfg.direction = info[2].As<Napi::Number>().Int32Value();
  cfg.fixedResource = info[3].As<Napi::String>().Utf8Value();
  cfg.sidPolicy = info.Length() > 4 ? info[4].As<Napi::Number>().Int32Value() : 0;
  if (info.Length() > 5) cfg.domains = ReadDomains(info[5]);
  if (info.Length() > 6 && info[6].IsString()) cfg.idlessDefault = info[6].As<Napi::String>().Utf8Value();
  if (info.Length() > 7 && info[7].IsArray()) {
    Napi::Array a = info[7].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Array row = a.Get(i).As<Napi::Array>();
      ListenerCfg::Prefix p{};
      std::string host = row.Get(0u).As<Napi::String>().Utf8Value();
      p.bits = row.Get(1u).As<Napi::Number>().Int32Value();
      p.stream = row.Get(2u).As<Napi::String>().Utf8Value();
      if (inet_pton(AF_INET, host.c_str(), p.addr) == 1) p.family = AF_INET;
      else if (inet_pton(AF_INET6, host.c_str(), p.addr) == 1) p.family = AF_INET6;
      else return ThrowInvalidArg(info.Env(), "gateAttach", "idlessByAddress", "numeric addresses");
      p.bits = std::max(0, std::min(p.bits, p.family == AF_INET ? 32 : 128));
      cfg.idlessByAddress.push_back(std::move(p));
    }
  }
  if (info.Length() > 8 && info[8].IsNumber()) cfg.idlessMode = info[8].As<Napi::Number>().Int32Value();
  {
    sockaddr_storage self{};
    int len = sizeof self;
    if (srt_getsockname(lsn, reinterpret_cast<sockaddr*>(&self), &len) == 0) {
      std::string ignored;
      AddrToString(reinterpret_cast<const sockaddr*>(&self), &ignored, &cfg.localPort);
    }
  }
  {
    std::lock_guard<std::mutex> lk(g_mu);
    g_listeners[lsn] = cfg;
  }
  if (srt_listen_callback(lsn, Hook, reinterpret_cast<void*>(static_cast<intptr_t>(lsn))) != 0) {
    std::lock_guard<std::mutex> lk(g_mu);
    g_listeners.erase(lsn);
    return ThrowSrt(info.Env(), "srt_listen_callback");
  }
  return info.Env().Undefined();
}

Napi::Value GateDefaults(const Napi::CallbackInfo& info) {
  int32_t id = info[0].As<Napi::Number>().Int32Value();
  Action pub = ReadAction(info, 1);
  Action play = ReadAction(info, 3);
  std::lock_guard<std::mutex> lk(g_mu);
  auto g = g_gates.find(id);
  if (g != g_gates.end()) {
    g->second.defPublish = pub;
    g->second.defPlay = play;
  }
  return info.Env().Undefined();
}

Napi::Value GateSet(const Napi::CallbackInfo& info) {
  int32_t id = info[0].As<Napi::Number>().Int32Value();
  Entry e;
  std::string resource = info[1].As<Napi::String>().Utf8Value();
  e.publish = ReadAction(info, 2);
  e.play = ReadAction(info, 4);
  e.live = info[6].As<Napi::Boolean>().Value();
  if (info.Length() > 8) {
    e.publish.latencyMs = info[7].As<Napi::Number>().Int32Value();
    e.play.latencyMs = info[8].As<Napi::Number>().Int32Value();
  }
  std::lock_guard<std::mutex> lk(g_mu);
  e.gen = g_nextGen++;
  auto g = g_gates.find(id);
  if (g != g_gates.end()) g->second.entries[resource] = std::move(e);
  return info.Env().Undefined();
}

Napi::Value GateDelete(const Napi::CallbackInfo& info) {
  int32_t id = info[0].As<Napi::Number>().Int32Value();
  std::string resource = info[1].As<Napi::String>().Utf8Value();
  std::lock_guard<std::mutex> lk(g_mu);
  auto g = g_gates.find(id);
  if (g != g_gates.end()) g->second.entries.erase(resource);
  return info.Env().Undefined();
}

Napi::Value GateRejections(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::deque<Rejection> taken;
  const bool one = info.Length() > 0 && !info[0].IsUndefined();
  if (one && !info[0].IsNumber()) return ThrowInvalidArg(env, "gateRejections", "gate", "a number");
  {
    std::lock_guard<std::mutex> lk(g_mu);
    // Without a gate: every gate's (the old process-wide form).
    for (auto& [id, g] : g_gates) {
      if (one && id != info[0].As<Napi::Number>().Int32Value()) continue;
      SweepAccepting(g, false);
      for (Rejection& r : g.rejections) taken.push_back(std::move(r));
      g.rejections.clear();
    }
  }
  Napi::Array out = Napi::Array::New(env, taken.size());
  uint32_t i = 0;
  for (const Rejection& r : taken) {
    Napi::Array row = Napi::Array::New(env, 7);
    row.Set(6u, Napi::Number::New(env, r.localPort));
    row.Set(5u, Napi::Number::New(env, r.stage));
    row.Set(0u, Napi::Number::New(env, r.gate));
    row.Set(1u, Napi::String::New(env, r.streamid));
    row.Set(2u, Napi::String::New(env, r.host));
    row.Set(3u, Napi::Number::New(env, r.port));
    row.Set(4u, Napi::Number::New(env, r.code));
    out.Set(i++, row);
  }
  return out;
}

// gateAuthEnable(gate, enabled, pendingCode, channel)
Napi::Value GateAuthEnable(const Napi::CallbackInfo& info) {
  int32_t id = info[0].As<Napi::Number>().Int32Value();
  std::lock_guard<std::mutex> lk(g_mu);
  auto g = g_gates.find(id);
  if (g != g_gates.end()) {
    g->second.authEnabled = info[1].As<Napi::Boolean>().Value();
    g->second.pendingCode = info[2].As<Napi::Number>().Int32Value();
    g->second.channel = info[3].As<Napi::Number>().Uint32Value();
  }
  return info.Env().Undefined();
}

// gateHoldRoom(gate, room)
Napi::Value GateHoldRoom(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) return ThrowInvalidArg(info.Env(), "gateHoldRoom", "room", "a number");
  int32_t id = info[0].As<Napi::Number>().Int32Value();
  int32_t room = info[1].As<Napi::Number>().Int32Value();
  std::lock_guard<std::mutex> lk(g_mu);
  auto g = g_gates.find(id);
  if (g != g_gates.end()) g->second.holdRoom = room < 0 ? 0 : room;
  return info.Env().Undefined();
}

// gateAuthSet(gate, streamid, host, code, passphrase, rename, ttlMs)
Napi::Value GateAuthSet(const Napi::CallbackInfo& info) {
  int32_t id = info[0].As<Napi::Number>().Int32Value();
  std::string akey = info[1].As<Napi::String>().Utf8Value() + "\n" + info[2].As<Napi::String>().Utf8Value();
  AuthDecision d;
  d.code = info[3].As<Napi::Number>().Int32Value();
  d.passphrase = info[4].As<Napi::String>().Utf8Value();
  d.rename = info[5].As<Napi::String>().Utf8Value();
  d.expires = std::chrono::steady_clock::now() + std::chrono::milliseconds(info[6].As<Napi::Number>().Int64Value());
  std::lock_guard<std::mutex> lk(g_mu);
  auto g = g_gates.find(id);
  if (g == g_gates.end()) return info.Env().Undefined();
  auto now = std::chrono::steady_clock::now();
  for (auto it = g->second.auth.begin(); it != g->second.auth.end();) {
    it = it->second.expires < now ? g->second.auth.erase(it) : std::next(it);
  }
  g->second.asked.erase(akey);
  g->second.auth[akey] = std::move(d);
  return info.Env().Undefined();
}

// gateRefuseFor(gate, streamid, host, code, ttlMs): that caller's handshakes get `code` for ttlMs.
Napi::Value GateRefuseFor(const Napi::CallbackInfo& info) {
  int32_t id = info[0].As<Napi::Number>().Int32Value();
  std::string key = info[1].As<Napi::String>().Utf8Value() + "\n" + info[2].As<Napi::String>().Utf8Value();
  int32_t code = info[3].As<Napi::Number>().Int32Value();
  auto now = std::chrono::steady_clock::now();
  auto expires = now + std::chrono::milliseconds(info[4].As<Napi::Number>().Int64Value());
  std::lock_guard<std::mutex> lk(g_mu);
  auto g = g_gates.find(id);
  if (g == g_gates.end()) return info.Env().Undefined();
  auto& table = g->second.refusals;
  for (auto it = table.begin(); it != table.end();) it = it->second.expires < now ? table.erase(it) : std::next(it);
  if (table.size() >= 4096) table.clear();  // bounded; a flood of distinct callers only loses the memory
  table[key] = Gate::Refusal{code, expires};
  return info.Env().Undefined();
}

// gatePending(gate) -> [streamid, host, port, mode, resource][]
Napi::Value GatePending(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t id = info[0].As<Napi::Number>().Int32Value();
  std::deque<PendingAuth> taken;
  {
    std::lock_guard<std::mutex> lk(g_mu);
    auto g = g_gates.find(id);
    if (g != g_gates.end()) taken.swap(g->second.pending);
  }
  Napi::Array out = Napi::Array::New(env, taken.size());
  uint32_t i = 0;
  for (const PendingAuth& p : taken) {
    Napi::Array row = Napi::Array::New(env, 5);
    row.Set(0u, Napi::String::New(env, p.streamid));
    row.Set(1u, Napi::String::New(env, p.host));
    row.Set(2u, Napi::Number::New(env, p.port));
    row.Set(3u, Napi::Number::New(env, p.mode));
    row.Set(4u, Napi::String::New(env, p.resource));
    out.Set(i++, row);
  }
  return out;
}

Napi::Value Classify(const Napi::CallbackInfo& info) {
  int32_t mode;
  std::string resource;
  SidDomains domains = info.Length() > 1 ? ReadDomains(info[1]) : SidDomains{};
  ClassifyStreamId(info[0].As<Napi::String>().Utf8Value(), domains, &mode, &resource);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), mode));
  out.Set(1u, Napi::String::New(info.Env(), resource));
  return out;
}

}  // namespace

// Stream-id rules (mirrored in src/srt/streamid.ts; a test compares both; docs/streams.md):
//   "NAME#feedbackplay"  StreamToStudio's return feed: plays NAME/feedback (NAME read by the rules below)
//   an id with %XX escapes that does not start with "#!::", "publish:" or "read:" is
//                  percent-decoded once first (ffmpeg/OBS URLs, OME's encoded srt:// id)
//   "#!::k=v,k=v"  SRT access control: r = resource, m = publish | request | bidirectional
//                  (m absent: mode unknown, the port decides); without r: an h= holding a '/'
//                  is the resource (SRS's older form), else Blackmagic's u= (bmd_uuid= or
//                  bmd_name= present) is read as a plain id; a t= that ValidTimeKey refuses
//                  leaves no resource (1400)
//   "publish:NAME[:...]" / "read:NAME[:...]"   MediaMTX style
//   "srt://host[:port]/PATH[?query]"           OvenMediaEngine's older id: PATH
//   anything else  the whole string is the resource, mode unknown
//   then, for a plain id or srt:// path: a first part equal (case-insensitively) to one of
//   the port's domains is dropped and that domain's mode applies (SLS domain/app/stream)
namespace {

bool StartsWith(const std::string& s, const char* p) { return s.compare(0, std::char_traits<char>::length(p), p) == 0; }

bool StartsWithNoCase(const std::string& s, const char* p) {
  size_t n = std::char_traits<char>::length(p);
  if (s.size() < n) return false;
  for (size_t i = 0; i < n; i++) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != p[i]) return false;
  }
  return true;
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes once; a '%' not followed by two hex digits stays as it is.
bool PercentDecode(const std::string& s, std::string* out) {
  bool any = false;
  out->clear();
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size() && HexVal(s[i + 1]) >= 0 && HexVal(s[i + 2]) >= 0) {
      out->push_back(static_cast<char>(HexVal(s[i + 1]) * 16 + HexVal(s[i + 2])));
      i += 2;
      any = true;
    } else {
      out->push_back(s[i]);
    }
  }
  return any;
}

// An access-control t= value the relay understands: a type of the SRT access-control spec
// (stream, file, auth), the relay's own internal-pull type (srt-relay-cluster, any case), or a
// time shift, a negative duration "-N[.N][ms|s|m]" (spaces around it allowed). Anything else
// (t=abc, t=, t=--5, t=5s) makes the id name no stream (1400).
// Mirrored by timeKeyValid in src/srt/streamid.ts.
bool ValidTimeKey(const std::string& raw) {
  size_t b = raw.find_first_not_of(" \t");
  if (b == std::string::npos) return false;
  size_t e = raw.find_last_not_of(" \t");
  std::string v = raw.substr(b, e - b + 1);
  std::string lower = v;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "stream" || lower == "file" || lower == "auth" || lower == "srt-relay-cluster") return true;
  size_t i = 0;
  if (i >= v.size() || v[i] != '-') return false;
  i++;
  auto digits = [&]() {
    size_t from = i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') i++;
    return i > from;
  };
  if (!digits()) return false;
  if (i < v.size() && v[i] == '.') {
    i++;
    if (!digits()) return false;
  }
  std::string unit = v.substr(i);
  return unit.empty() || unit == "ms" || unit == "s" || unit == "m";
}

void ClassifyPlain(const std::string& sid, const SidDomains& domains, int32_t* mode, std::string* resource) {
  std::string path = sid;
  if (StartsWithNoCase(sid, "srt://")) {
    size_t slash = sid.find('/', 6);
    path = slash == std::string::npos ? "" : sid.substr(slash + 1);
    size_t q = path.find('?');
    if (q != std::string::npos) path.resize(q);
  }
  size_t slash = path.find('/');
  if (slash != std::string::npos && !domains.empty()) {
    std::string first = path.substr(0, slash);
    for (char& c : first) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& d : domains) {
      if (d.first == first) {
        path = path.substr(slash + 1);
        if (d.second != kModeUnknown) *mode = d.second;
        break;
      }
    }
  }
  *resource = path;
}

void ClassifyDecoded(const std::string& sid, const SidDomains& domains, int32_t* mode, std::string* resource) {
  if (StartsWith(sid, "#!::")) {
    std::string r, h, u;
    bool haveR = false, bmd = false, badTime = false;
    size_t pos = 4;
    while (pos <= sid.size()) {
      size_t end = sid.find(',', pos);
      if (end == std::string::npos) end = sid.size();
      size_t eq = sid.find('=', pos);
      if (eq != std::string::npos && eq < end) {
        std::string key = sid.substr(pos, eq - pos);
        std::string val = sid.substr(eq + 1, end - eq - 1);
        if (key == "r") {
          r = val;
          haveR = true;
        } else if (key == "m") {
          if (val == "publish") *mode = kModePublish;
          else if (val == "request" || val == "bidirectional") *mode = kModePlay;
        } else if (key == "h") {
          h = val;
        } else if (key == "u") {
          u = val;
        } else if (key == "bmd_uuid" || key == "bmd_name") {
          bmd = true;
        } else if (key == "t" && !ValidTimeKey(val)) {
          badTime = true;
        }
      }
      pos = end + 1;
    }
    if (badTime) return;  // no resource: refused with 1400 before the webhook is asked
    if (haveR) {
      *resource = r;
    } else if (h.find('/') != std::string::npos) {
      *resource = h;
    } else if (bmd && !u.empty()) {
      int32_t m = kModeUnknown;
      ClassifyPlain(u, domains, &m, resource);
      if (*mode == kModeUnknown) *mode = m;
    }
    return;
  }
  auto prefixed = [&](const char* p, int32_t m) {
    size_t n = std::char_traits<char>::length(p);
    if (sid.compare(0, n, p) != 0) return false;
    size_t end = sid.find(':', n);
    *resource = sid.substr(n, end == std::string::npos ? std::string::npos : end - n);
    *mode = m;
    return true;
  };
  if (prefixed("publish:", kModePublish) || prefixed("read:", kModePlay)) return;
  ClassifyPlain(sid, domains, mode, resource);
}

const SidDomains kNoDomains;
constexpr char kFeedbackPlay[] = "#feedbackplay";

}  // namespace

void ClassifyStreamId(const std::string& sid, int32_t* mode, std::string* resource) {
  ClassifyStreamId(sid, kNoDomains, mode, resource);
}

void ClassifyStreamId(const std::string& raw, const SidDomains& domains, int32_t* mode, std::string* resource) {
  *mode = kModeUnknown;
  resource->clear();
  std::string sid = raw;
  const size_t fb = sizeof kFeedbackPlay - 1;
  const bool feedback = sid.size() > fb && sid.compare(sid.size() - fb, fb, kFeedbackPlay) == 0;
  if (feedback) sid.resize(sid.size() - fb);
  std::string decoded;
  if (!StartsWith(sid, "#!::") && !StartsWith(sid, "publish:") && !StartsWith(sid, "read:") && PercentDecode(sid, &decoded)) {
    sid = decoded;
  }
  ClassifyDecoded(sid, domains, mode, resource);
  if (feedback) {
    *mode = kModePlay;
    if (!resource->empty()) *resource += "/feedback";
  }
}

bool GateTakeAcceptInfo(SRTSOCKET s, int32_t* mode, std::string* resource, bool* inferred, bool* held) {
  std::lock_guard<std::mutex> lk(g_mu);
  auto it = g_accepted.find(s);
  if (it == g_accepted.end()) return false;
  *mode = it->second.mode;
  *inferred = it->second.inferred;
  *held = it->second.held;
  *resource = std::move(it->second.resource);
  auto g = g_gates.find(it->second.gate);
  if (g != g_gates.end()) {
    g->second.accepting.erase(it->second.seq);
    g->second.hostSessions[it->second.host]++;
    g_counted[s] = Counted{it->second.gate, std::move(it->second.host), std::move(it->second.provKey), it->second.provGen};
  }
  g_accepted.erase(it);
  return true;
}

void GateSocketClosed(SRTSOCKET s) {
  std::lock_guard<std::mutex> lk(g_mu);
  auto it = g_counted.find(s);
  if (it == g_counted.end()) return;
  auto g = g_gates.find(it->second.gate);
  if (g != g_gates.end()) {
    auto h = g->second.hostSessions.find(it->second.host);
    if (h != g->second.hostSessions.end() && --h->second <= 0) g->second.hostSessions.erase(h);
  }
  ReleaseProvisional(it->second.gate, it->second.provKey, it->second.provGen);
  g_counted.erase(it);
}

// gateLimits(gate, handshakesPerSecond, burst, sessionsPerHost, code, exemptHosts[], allPerSecond, allBurst)
Napi::Value GateLimits(const Napi::CallbackInfo& info) {
  int32_t id = info[0].As<Napi::Number>().Int32Value();
  double rate = info[1].As<Napi::Number>().DoubleValue();
  double burst = info[2].As<Napi::Number>().DoubleValue();
  int32_t perHost = info[3].As<Napi::Number>().Int32Value();
  int32_t code = info[4].As<Napi::Number>().Int32Value();
  std::unordered_set<std::string> exempt;
  Napi::Array list = info[5].As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); i++) exempt.insert(list.Get(i).As<Napi::String>().Utf8Value());
  double allRate = info.Length() > 6 ? info[6].As<Napi::Number>().DoubleValue() : 0;
  double allBurst = info.Length() > 7 ? info[7].As<Napi::Number>().DoubleValue() : 0;
  std::lock_guard<std::mutex> lk(g_mu);
  auto g = g_gates.find(id);
  if (g != g_gates.end()) {
    g->second.hsRate = rate;
    g->second.hsBurst = burst < 1 ? 1 : burst;
    g->second.perHost = perHost;
    g->second.limitCode = code;
    g->second.exempt = std::move(exempt);
    g->second.buckets.clear();
    g->second.allRate = allRate;
    g->second.allBurst = allBurst < 1 ? 1 : allBurst;
    g->second.all = Bucket{g->second.allBurst, std::chrono::steady_clock::now()};
  }
  return info.Env().Undefined();
}

// gateHostSessions(gate) -> [host, count][]: accepted, not yet closed connections per host.
Napi::Value GateHostSessions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t id = info[0].As<Napi::Number>().Int32Value();
  std::vector<std::pair<std::string, int32_t>> rows;
  {
    std::lock_guard<std::mutex> lk(g_mu);
    auto g = g_gates.find(id);
    if (g != g_gates.end()) rows.assign(g->second.hostSessions.begin(), g->second.hostSessions.end());
  }
  Napi::Array out = Napi::Array::New(env, rows.size());
  for (size_t i = 0; i < rows.size(); i++) {
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, Napi::String::New(env, rows[i].first));
    r.Set(1u, Napi::Number::New(env, rows[i].second));
    out.Set(static_cast<uint32_t>(i), r);
  }
  return out;
}

// gateStats(gate) -> [refusedByGate, refusedAfterGate, forgotten, accepting]
Napi::Value GateStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowInvalidArg(env, "gateStats", "gate", "a number");
  double v[4] = {0, 0, 0, 0};
  {
    std::lock_guard<std::mutex> lk(g_mu);
    auto g = g_gates.find(info[0].As<Napi::Number>().Int32Value());
    if (g != g_gates.end()) {
      SweepAccepting(g->second, false);
      v[0] = g->second.refusedByGate;
      v[1] = g->second.refusedAfterGate;
      v[2] = g->second.forgotten;
      v[3] = static_cast<double>(g->second.accepting.size());
    }
  }
  Napi::Array out = Napi::Array::New(env, 4);
  for (uint32_t i = 0; i < 4; i++) out.Set(i, Napi::Number::New(env, v[i]));
  return out;
}

void GateForgetListener(SRTSOCKET lsn) {
  std::lock_guard<std::mutex> lk(g_mu);
  g_listeners.erase(lsn);
}

void GateRegister(Napi::Env env, Napi::Object exports) {
  exports.Set("gateCreate", Napi::Function::New(env, GateCreate));
  exports.Set("gateDestroy", Napi::Function::New(env, GateDestroy));
  exports.Set("gateAttach", Napi::Function::New(env, GateAttach));
  exports.Set("gateDefaults", Napi::Function::New(env, GateDefaults));
  exports.Set("gateSet", Napi::Function::New(env, GateSet));
  exports.Set("gateDelete", Napi::Function::New(env, GateDelete));
  exports.Set("gateRejections", Napi::Function::New(env, GateRejections));
  exports.Set("classifyStreamId", Napi::Function::New(env, Classify));
  exports.Set("gateAuthEnable", Napi::Function::New(env, GateAuthEnable));
  exports.Set("gateAuthSet", Napi::Function::New(env, GateAuthSet));
  exports.Set("gatePending", Napi::Function::New(env, GatePending));
  exports.Set("gateHoldRoom", Napi::Function::New(env, GateHoldRoom));
  exports.Set("gateRefuseFor", Napi::Function::New(env, GateRefuseFor));
  exports.Set("gateLimits", Napi::Function::New(env, GateLimits));
  exports.Set("gateHostSessions", Napi::Function::New(env, GateHostSessions));
  exports.Set("gateStats", Napi::Function::New(env, GateStats));
}

}  // namespace srtnative
