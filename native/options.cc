// Table of libsrt socket options addressable by name (lowercase, without SRTO_).
// The TypeScript catalog (src/srt/options.ts) validates values; a test checks that every
// catalog entry is present here.
#include "srt_native.h"

#include <cstring>

namespace srtnative {

#define OPT(n, t) {#n, SRTO_##n, t}
static const OptDesc kOptions[] = {
    // Settable from srt:// URLs.
    {"transtype", SRTO_TRANSTYPE, kOptInt},
    {"latency", SRTO_LATENCY, kOptInt},
    {"rcvlatency", SRTO_RCVLATENCY, kOptInt},
    {"peerlatency", SRTO_PEERLATENCY, kOptInt},
    {"passphrase", SRTO_PASSPHRASE, kOptString},
    {"pbkeylen", SRTO_PBKEYLEN, kOptInt},
    {"streamid", SRTO_STREAMID, kOptString},
    {"maxbw", SRTO_MAXBW, kOptInt64},
    {"inputbw", SRTO_INPUTBW, kOptInt64},
    {"mininputbw", SRTO_MININPUTBW, kOptInt64},
    {"oheadbw", SRTO_OHEADBW, kOptInt},
    {"tsbpdmode", SRTO_TSBPDMODE, kOptBool},
    {"tlpktdrop", SRTO_TLPKTDROP, kOptBool},
    {"nakreport", SRTO_NAKREPORT, kOptBool},
    {"snddropdelay", SRTO_SNDDROPDELAY, kOptInt},
    {"lossmaxttl", SRTO_LOSSMAXTTL, kOptInt},
    {"conntimeo", SRTO_CONNTIMEO, kOptInt},
    {"peeridletimeo", SRTO_PEERIDLETIMEO, kOptInt},
    {"packetfilter", SRTO_PACKETFILTER, kOptString},
    {"enforcedencryption", SRTO_ENFORCEDENCRYPTION, kOptBool},
    {"congestion", SRTO_CONGESTION, kOptString},
    {"messageapi", SRTO_MESSAGEAPI, kOptBool},
    {"payloadsize", SRTO_PAYLOADSIZE, kOptInt},
    {"mss", SRTO_MSS, kOptInt},
    {"fc", SRTO_FC, kOptInt},
    {"sndbuf", SRTO_SNDBUF, kOptInt},
    {"rcvbuf", SRTO_RCVBUF, kOptInt},
    {"udp_sndbuf", SRTO_UDP_SNDBUF, kOptInt},
    {"udp_rcvbuf", SRTO_UDP_RCVBUF, kOptInt},
    {"ipttl", SRTO_IPTTL, kOptInt},
    {"iptos", SRTO_IPTOS, kOptInt},
    {"ipv6only", SRTO_IPV6ONLY, kOptInt},
    {"minversion", SRTO_MINVERSION, kOptInt},
    {"kmrefreshrate", SRTO_KMREFRESHRATE, kOptInt},
    {"kmpreannounce", SRTO_KMPREANNOUNCE, kOptInt},
    {"drifttracer", SRTO_DRIFTTRACER, kOptBool},
    {"retransmitalgo", SRTO_RETRANSMITALGO, kOptInt},
    {"linger", SRTO_LINGER, kOptLinger},
    {"bindtodevice", SRTO_BINDTODEVICE, kOptString},
    // Read-only or reserved for the binding itself.
    {"sndsyn", SRTO_SNDSYN, kOptBool},
    {"rcvsyn", SRTO_RCVSYN, kOptBool},
    {"isn", SRTO_ISN, kOptInt},
    {"state", SRTO_STATE, kOptInt},
    {"event", SRTO_EVENT, kOptInt},
    {"snddata", SRTO_SNDDATA, kOptInt},
    {"rcvdata", SRTO_RCVDATA, kOptInt},
    {"kmstate", SRTO_KMSTATE, kOptInt},
    {"sndkmstate", SRTO_SNDKMSTATE, kOptInt},
    {"rcvkmstate", SRTO_RCVKMSTATE, kOptInt},
    {"version", SRTO_VERSION, kOptInt},
    {"peerversion", SRTO_PEERVERSION, kOptInt},
    {"reuseaddr", SRTO_REUSEADDR, kOptBool},
};
#undef OPT

const OptDesc* FindOption(const std::string& name) {
  for (const OptDesc& d : kOptions) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const OptDesc* OptionTable(size_t* count) {
  *count = sizeof(kOptions) / sizeof(kOptions[0]);
  return kOptions;
}

}  // namespace srtnative
