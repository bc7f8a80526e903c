// Handshake guard: a classic BPF socket filter on a listener's own UDP socket that drops, in
// the kernel, SRT handshakes libsrt 1.5.1 would crash on. Today one: a conclusion handshake
// whose packet-filter extension (SRT_CMD_FILTER) is empty or starts with a NUL byte makes
// srt::SrtParseConfig dereference an empty list (Haivision/srt#3029, fixed in libsrt 1.5.4):
// one unauthenticated datagram would kill the process. Data packets cost two instructions.
#include "srt_native.h"

#include <linux/filter.h>
#include <sys/socket.h>

#include <vector>

namespace srtnative {

namespace {

constexpr uint32_t kAccept = 0xFFFFFFFFu;  // keep the whole datagram
constexpr uint32_t kDrop = 0;
constexpr uint32_t kCmdFilter = 7;        // SRT_CMD_FILTER
constexpr uint32_t kExtConfig = 4;        // HS_EXT_CONFIG: SID/congestion/filter blocks follow
constexpr int kMaxBlocks = 8;
constexpr uint32_t kUdp = 8;              // UDP header length             // extension blocks walked (a real handshake has <= 6)

// Forward jumps to the labels ACCEPT, DROP and FILTER, patched once the program is laid out.
enum Label : uint8_t { kNone, kToAccept, kToDrop, kToFilter };

struct Insn {
  sock_filter f;
  Label jt = kNone;
  Label jf = kNone;
};

std::vector<sock_filter> BuildProgram() {
  std::vector<Insn> p;
  auto stmt = [&](uint16_t code, uint32_t k) { p.push_back(Insn{BPF_STMT(code, k)}); };
  // Conditional jump: jt/jf either a label or 0 (the next instruction).
  auto jump = [&](uint16_t code, uint32_t k, Label jt, Label jf) {
    Insn i{BPF_JUMP(code, k, 0, 0)};
    i.jt = jt;
    i.jf = jf;
    p.push_back(i);
  };
  // Offsets count from the UDP header: a UDP socket's filter sees it (8 bytes) before the payload.
  // Header: control packet, type handshake (0x8000 in the first 16 bits), HSv5 with config blocks.
  stmt(BPF_LD | BPF_B | BPF_ABS, kUdp + 0);
  jump(BPF_JMP | BPF_JSET | BPF_K, 0x80, kNone, kToAccept);
  stmt(BPF_LD | BPF_H | BPF_ABS, kUdp + 0);
  jump(BPF_JMP | BPF_JEQ | BPF_K, 0x8000, kNone, kToAccept);
  stmt(BPF_LD | BPF_W | BPF_LEN, 0);
  jump(BPF_JMP | BPF_JGE | BPF_K, kUdp + 64, kNone, kToAccept);  // 16-byte header + 48-byte CIF
  stmt(BPF_LD | BPF_W | BPF_ABS, kUdp + 16);                      // CIF version
  jump(BPF_JMP | BPF_JEQ | BPF_K, 5, kNone, kToAccept);
  stmt(BPF_LD | BPF_H | BPF_ABS, kUdp + 22);                      // extension flags
  jump(BPF_JMP | BPF_JSET | BPF_K, kExtConfig, kNone, kToAccept);
  stmt(BPF_LD | BPF_IMM, kUdp + 64);                              // first block
  stmt(BPF_ST, 1);
  for (int i = 0; i < kMaxBlocks; i++) {
    stmt(BPF_LDX | BPF_W | BPF_MEM, 1);                    // X = offset of the block
    stmt(BPF_LD | BPF_W | BPF_LEN, 0);
    stmt(BPF_ALU | BPF_SUB | BPF_X, 0);                     // A = bytes left
    jump(BPF_JMP | BPF_JGE | BPF_K, 4, kNone, kToAccept);  // no further block header
    stmt(BPF_LD | BPF_H | BPF_IND, 0);                     // block type
    jump(BPF_JMP | BPF_JEQ | BPF_K, kCmdFilter, kToFilter, kNone);
    stmt(BPF_LD | BPF_H | BPF_IND, 2);                     // block size in 32-bit words
    stmt(BPF_ALU | BPF_LSH | BPF_K, 2);
    stmt(BPF_ALU | BPF_ADD | BPF_K, 4);
    stmt(BPF_ALU | BPF_ADD | BPF_X, 0);
    stmt(BPF_ST, 1);
  }
  stmt(BPF_JMP | BPF_JA, 0);  // patched to ACCEPT
  p.back().jt = kToAccept;
  const size_t filter = p.size();
  stmt(BPF_LD | BPF_H | BPF_IND, 2);                       // X still holds the block offset
  jump(BPF_JMP | BPF_JEQ | BPF_K, 0, kToDrop, kNone);      // empty filter string
  stmt(BPF_LD | BPF_W | BPF_LEN, 0);
  stmt(BPF_ALU | BPF_SUB | BPF_X, 0);
  jump(BPF_JMP | BPF_JGE | BPF_K, 8, kNone, kToDrop);      // truncated block
  stmt(BPF_LD | BPF_W | BPF_IND, 4);                       // first word of the string
  stmt(BPF_ALU | BPF_AND | BPF_K, 0xff);                   // wire byte 3 = the string's first byte
  jump(BPF_JMP | BPF_JEQ | BPF_K, 0, kToDrop, kToAccept);
  const size_t accept = p.size();
  stmt(BPF_RET | BPF_K, kAccept);
  const size_t drop = p.size();
  stmt(BPF_RET | BPF_K, kDrop);

  std::vector<sock_filter> out;
  out.reserve(p.size());
  for (size_t i = 0; i < p.size(); i++) {
    sock_filter f = p[i].f;
    auto target = [&](Label l) -> size_t { return l == kToAccept ? accept : l == kToDrop ? drop : filter; };
    if (BPF_CLASS(f.code) == BPF_JMP && BPF_OP(f.code) == BPF_JA) {
      if (p[i].jt != kNone) f.k = static_cast<uint32_t>(target(p[i].jt) - i - 1);
    } else if (BPF_CLASS(f.code) == BPF_JMP) {
      if (p[i].jt != kNone) f.jt = static_cast<uint8_t>(target(p[i].jt) - i - 1);
      if (p[i].jf != kNone) f.jf = static_cast<uint8_t>(target(p[i].jf) - i - 1);
    }
    out.push_back(f);
  }
  return out;
}

}  // namespace

bool AttachHandshakeGuard(int fd) {
  static const std::vector<sock_filter> program = BuildProgram();
  sock_fprog prog;
  prog.len = static_cast<unsigned short>(program.size());
  prog.filter = const_cast<sock_filter*>(program.data());
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) == 0;
}

}  // namespace srtnative
