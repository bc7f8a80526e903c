/*
 * srt-sink - live-mode SRT receiver for benchmarks.
 *
 * Receives srt-blast payloads (see common.h for the layout), counts packets
 * and bytes, checks the sequence numbers and measures one-way latency from
 * the embedded CLOCK_MONOTONIC send time (sender and sink on the same host).
 *
 *   srt-sink --connect HOST:PORT | --listen [HOST:]PORT
 *            [--seconds N] [--latency MS] [--passphrase P] [--streamid S] [--ts]
 *            [--rcvbuf BYTES] [--verbose]
 *
 * Exits after --seconds (counted from the connection; 0 = no limit), when
 * the peer closes, or on SIGINT/SIGTERM, and prints one JSON line:
 *   {"received":N,"bytes":B,"seconds":S,"mbps":X,"lost":L,"reordered":R,"dup":D,
 *    "lat_p50_us":..,"lat_p99_us":..,"lat_max_us":..,"cpu_s":C,
 *    "srt_rcv_loss":..,"srt_rcv_drop":..,"bad":..}
 *
 * Sequence accounting is relative to the first sequence number seen, so a
 * sink that joins a running stream (through a relay) does not count the
 * packets before it joined as lost:
 *   lost      = numbers between the first and the highest seen that never came
 *   reordered = packets that came after a higher number had already come
 *   dup       = packets whose number had already come
 * Latency includes SRT's TSBPD delay: packets are delivered at about
 * send time + latency, so expect lat_p50 near --latency (120 ms by default),
 * and near twice that behind a relay.
 */
#include "common.h"

#include <signal.h>
#include <sys/resource.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void usage(void)
{
    die("usage: srt-sink --connect HOST:PORT | --listen [HOST:]PORT [--seconds N (0 = until closed)]\n"
        "                [--latency MS] [--passphrase P] [--streamid S] [--ts] [--rcvbuf BYTES]\n"
        "                [--verbose (print the first 20 sequence gaps to stderr)]");
}

/* Growable bitmap of sequence numbers seen, relative to the first one. */
static unsigned char *seen;
static size_t seen_bytes;

static int test_and_set(uint64_t idx)
{
    size_t byte = (size_t)(idx >> 3);
    if (byte >= seen_bytes) {
        size_t n = seen_bytes ? seen_bytes : 65536;
        while (n <= byte) n *= 2;
        seen = realloc(seen, n);
        if (!seen) die("out of memory");
        memset(seen + seen_bytes, 0, n - seen_bytes);
        seen_bytes = n;
    }
    int was = (seen[byte] >> (idx & 7)) & 1;
    seen[byte] |= (unsigned char)(1u << (idx & 7));
    return was;
}

/* Latency samples in microseconds. */
static uint32_t *lat;
static size_t lat_n, lat_cap;

static void add_latency(uint64_t us)
{
    if (lat_n == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : 65536;
        lat = realloc(lat, lat_cap * sizeof *lat);
        if (!lat) die("out of memory");
    }
    lat[lat_n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t pct(double p)
{
    if (!lat_n) return 0;
    size_t i = (size_t)(p * (double)(lat_n - 1) + 0.5);
    return lat[i];
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru); /* the whole process: libsrt's threads too */
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * --rcvbuf BYTES: the receiver buffer must hold rate x (latency + RTT) of
 * data. libsrt's default (8192 packets, ~10.8 MB of payload) covers 120 ms
 * only up to ~700 Mbit/s; beyond that libsrt 1.5.1 reports "No room to
 * store incoming packet" and the connection can stall for good. The flow
 * window (SRTO_FC, packets) caps the buffer, so it is raised to match, and
 * the kernel's UDP receive buffer is raised as well (up to 8 MB).
 */
static void set_rcvbuf(SRTSOCKET s, void *arg)
{
    int rcvbuf = *(int *)arg;
    if (rcvbuf <= 0) return;
    int fc = rcvbuf / 1316 + 256;
    if (fc < 25600) fc = 25600; /* libsrt's default */
    if (srt_setsockflag(s, SRTO_FC, &fc, sizeof fc) < 0) srt_die("SRTO_FC");
    if (srt_setsockflag(s, SRTO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0) srt_die("SRTO_RCVBUF");
    /* Kernel UDP buffer too (the kernel caps it at net.core.rmem_max). */
    int udp = rcvbuf < (8 << 20) ? rcvbuf : (8 << 20);
    if (srt_setsockflag(s, SRTO_UDP_RCVBUF, &udp, sizeof udp) < 0) srt_die("SRTO_UDP_RCVBUF");
}

int main(int argc, char **argv)
{
    const char *connect_to = NULL, *listen_on = NULL;
    double seconds = 0;
    int ts_mode = 0, verbose = 0, gaps_shown = 0, rcvbuf = 0;
    struct common_opts o = { -1, NULL, NULL };

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--ts")) { ts_mode = 1; continue; }
        if (!strcmp(a, "--verbose")) { verbose = 1; continue; }
        if (!v) usage();
        if (!strcmp(a, "--connect")) connect_to = v;
        else if (!strcmp(a, "--listen")) listen_on = v;
        else if (!strcmp(a, "--seconds")) seconds = arg_double(a, v);
        else if (!strcmp(a, "--latency")) o.latency_ms = (int)arg_ll(a, v);
        else if (!strcmp(a, "--passphrase")) o.passphrase = v;
        else if (!strcmp(a, "--streamid")) o.streamid = v;
        else if (!strcmp(a, "--rcvbuf")) rcvbuf = (int)arg_ll(a, v);
        else usage();
        i++;
    }
    if (!connect_to == !listen_on || seconds < 0 || rcvbuf < 0) usage();

    srt_startup();
    SRTSOCKET s = open_conn(connect_to, listen_on, &o, set_rcvbuf, &rcvbuf);

    /* Wake up every 100 ms to check the time limit and the stop flag. */
    int tmo = 100;
    srt_setsockflag(s, SRTO_RCVTIMEO, &tmo, sizeof tmo);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    const int hdr = ts_mode ? 4 : 0;
    const uint64_t t0 = now_ns();
    const uint64_t end = seconds > 0 ? t0 + (uint64_t)(seconds * 1e9) : UINT64_MAX;
    uint64_t received = 0, bytes = 0, reordered = 0, dup = 0, bad = 0;
    uint64_t first_seq = 0, max_idx = 0, unique = 0, t_first = 0, t_last = 0;
    int have_first = 0;
    char buf[1500];

    /* libsrt refuses srt_bstats on a broken socket, and the loop below ends
     * when the peer closes: sample the counters every 100 ms instead. */
    SRT_TRACEBSTATS st;
    memset(&st, 0, sizeof st);
    uint64_t next_stats = t0;

    while (!stop && now_ns() < end) {
        if (now_ns() >= next_stats) {
            SRT_TRACEBSTATS cur;
            if (srt_bstats(s, &cur, 0) == 0) st = cur;
            next_stats = now_ns() + 100000000ull;
        }
        int n = srt_recvmsg2(s, buf, sizeof buf, NULL);
        if (n == SRT_ERROR) {
            int e = srt_getlasterror(NULL);
            if (e == SRT_ETIMEOUT || e == SRT_EASYNCRCV) continue; /* RCVTIMEO */
            break; /* peer closed or connection broken */
        }
        uint64_t t = now_ns();
        if (received == 0) t_first = t;
        t_last = t;
        received++;
        bytes += (uint64_t)n;
        if (n < hdr + 16) { bad++; continue; }

        uint64_t seq = get_u64le((unsigned char *)buf + hdr);
        uint64_t sent_at = get_u64le((unsigned char *)buf + hdr + 8);
        if (sent_at <= t) add_latency((t - sent_at) / 1000);

        if (!have_first) { first_seq = seq; have_first = 1; }
        if (seq < first_seq || seq - first_seq > (1ull << 32)) { bad++; continue; }
        uint64_t idx = seq - first_seq;
        if (test_and_set(idx)) { dup++; continue; }
        unique++;
        if (idx < max_idx) reordered++;
        else {
            if (verbose && idx > max_idx + 1 && gaps_shown < 20) {
                gaps_shown++;
                fprintf(stderr, "gap: %llu..%llu (%llu packets) at +%.3f s\n",
                        (unsigned long long)(first_seq + max_idx + 1), (unsigned long long)(seq - 1),
                        (unsigned long long)(idx - max_idx - 1), (t - t0) / 1e9);
            }
            max_idx = idx;
        }
    }

    SRT_TRACEBSTATS cur;
    if (srt_bstats(s, &cur, 0) == 0) st = cur;
    srt_close(s);

    qsort(lat, lat_n, sizeof *lat, cmp_u32);
    const double span = received > 1 ? (t_last - t_first) / 1e9 : 0;
    const uint64_t lost = have_first ? max_idx + 1 - unique : 0;
    printf("{\"received\":%llu,\"bytes\":%llu,\"seconds\":%.3f,\"mbps\":%.2f,\"lost\":%llu,"
           "\"reordered\":%llu,\"dup\":%llu,\"lat_p50_us\":%u,\"lat_p99_us\":%u,\"lat_max_us\":%u,"
           "\"cpu_s\":%.3f,\"srt_rcv_loss\":%d,\"srt_rcv_drop\":%d,\"bad\":%llu,"
           "\"first_seq\":%llu,\"last_seq\":%llu}\n",
           (unsigned long long)received, (unsigned long long)bytes, span,
           span > 0 ? bytes * 8.0 / span / 1e6 : 0.0, (unsigned long long)lost,
           (unsigned long long)reordered, (unsigned long long)dup, pct(0.50), pct(0.99),
           lat_n ? lat[lat_n - 1] : 0, cpu_seconds(), st.pktRcvLossTotal, st.pktRcvDropTotal,
           (unsigned long long)bad, (unsigned long long)first_seq,
           (unsigned long long)(first_seq + max_idx));
    srt_cleanup();
    return 0;
}
