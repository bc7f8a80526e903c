/*
 * srt-blast - live-mode SRT sender for benchmarks.
 *
 * Sends 1316-byte payloads at a fixed bitrate (or as fast as libsrt accepts
 * them with --rate 0) for N seconds. Each payload starts with an 8-byte
 * sequence number and the 8-byte CLOCK_MONOTONIC send time (see common.h),
 * which srt-sink uses to count loss/reorder and measure latency.
 *
 *   srt-blast --connect HOST:PORT | --listen [HOST:]PORT
 *             [--rate MBPS] [--seconds N] [--latency MS] [--maxbw BYTES]
 *             [--passphrase P] [--streamid S] [--ts]
 *
 * Prints one JSON line at the end:
 *   {"sent":N,"bytes":B,"seconds":S,"mbps":X,"retrans":R,"snd_drop":D}
 *
 * Blocking mode: srt_sendmsg2 waits when the send buffer is full, which is
 * what limits --rate 0.
 */
#include "common.h"

#include <signal.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void usage(void)
{
    die("usage: srt-blast --connect HOST:PORT | --listen [HOST:]PORT [--rate MBPS (10; 0 = max)]\n"
        "                 [--seconds N (10)] [--latency MS] [--maxbw BYTES (0)]\n"
        "                 [--passphrase P] [--streamid S] [--ts]");
}

/*
 * SRTO_MAXBW (bytes/s) caps the sender's pacing, retransmissions included:
 *   -1  "infinite" (in live mode libsrt still paces at 1 Gbit/s)
 *    0  relative to the input rate: SRTO_INPUTBW, or libsrt's own estimate of
 *       it when that is 0 (the default), plus SRTO_OHEADBW (25 %)
 *   >0  absolute cap
 * libsrt's live default is -1; srt-blast defaults to 0, which follows the
 * offered rate and leaves 25 % headroom for retransmissions.
 */
static void set_maxbw(SRTSOCKET s, void *arg)
{
    int64_t maxbw = *(int64_t *)arg;
    if (srt_setsockflag(s, SRTO_MAXBW, &maxbw, sizeof maxbw) < 0) srt_die("SRTO_MAXBW");
}

int main(int argc, char **argv)
{
    const char *connect_to = NULL, *listen_on = NULL;
    double rate_mbps = 10, seconds = 10;
    int64_t maxbw = 0;
    int ts_mode = 0;
    struct common_opts o = { -1, NULL, NULL };

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--ts")) { ts_mode = 1; continue; }
        if (!v) usage();
        if (!strcmp(a, "--connect")) connect_to = v;
        else if (!strcmp(a, "--listen")) listen_on = v;
        else if (!strcmp(a, "--rate")) rate_mbps = arg_double(a, v);
        else if (!strcmp(a, "--seconds")) seconds = arg_double(a, v);
        else if (!strcmp(a, "--latency")) o.latency_ms = (int)arg_ll(a, v);
        else if (!strcmp(a, "--maxbw")) maxbw = arg_ll(a, v);
        else if (!strcmp(a, "--passphrase")) o.passphrase = v;
        else if (!strcmp(a, "--streamid")) o.streamid = v;
        else usage();
        i++;
    }
    if (!connect_to == !listen_on || rate_mbps < 0 || seconds <= 0) usage();

    srt_startup();
    SRTSOCKET s = open_conn(connect_to, listen_on, &o, set_maxbw, &maxbw);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    unsigned char buf[PAYLOAD];
    memset(buf, 0xAB, sizeof buf);
    const int hdr = ts_mode ? 4 : 0;
    unsigned cc = 0;

    /* Packet k is due at start + k * interval; sleep until the next one is
     * due, then send everything that is due (catches up after oversleeping). */
    const double interval_ns = rate_mbps > 0 ? PAYLOAD * 8.0 * 1e9 / (rate_mbps * 1e6) : 0;
    const uint64_t start = now_ns();
    const uint64_t end = start + (uint64_t)(seconds * 1e9);
    uint64_t sent = 0;
    int lost_conn = 0;

    while (!stop) {
        uint64_t t = now_ns();
        if (t >= end) break;
        if (interval_ns > 0) {
            uint64_t due = start + (uint64_t)(sent * interval_ns);
            if (due > t) {
                struct timespec ts = { (time_t)(due / 1000000000ull), (long)(due % 1000000000ull) };
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                continue;
            }
        }
        if (ts_mode) fill_ts(buf, &cc);
        put_u64le(buf + hdr, sent);
        put_u64le(buf + hdr + 8, now_ns());
        if (srt_sendmsg2(s, (const char *)buf, PAYLOAD, NULL) == SRT_ERROR) {
            fprintf(stderr, "srt_sendmsg2: %s\n", srt_getlasterror_str());
            lost_conn = 1;
            break;
        }
        sent++;
    }
    const double elapsed = (now_ns() - start) / 1e9;

    /* Live mode does not linger on close: wait (bounded) until the send
     * buffer is empty so that the tail of the stream reaches the receiver. */
    if (!lost_conn) {
        uint64_t deadline = now_ns() + 3000000000ull;
        size_t blocks = 1, bytes = 0;
        while (now_ns() < deadline && srt_getsndbuffer(s, &blocks, &bytes) == 0 && blocks > 0) {
            struct timespec ts = { 0, 10000000 };
            nanosleep(&ts, NULL);
        }
        /* Acknowledged is not delivered: the receiver still holds the last
         * packets for its TSBPD delay, and closing now would discard them. */
        int peer_latency = 0, len = sizeof peer_latency;
        srt_getsockflag(s, SRTO_PEERLATENCY, &peer_latency, &len);
        uint64_t wait_ns = (uint64_t)(peer_latency + 100) * 1000000ull;
        struct timespec ts = { (time_t)(wait_ns / 1000000000ull), (long)(wait_ns % 1000000000ull) };
        nanosleep(&ts, NULL);
    }

    SRT_TRACEBSTATS st;
    memset(&st, 0, sizeof st);
    srt_bstats(s, &st, 0);
    srt_close(s);
    srt_cleanup();

    printf("{\"sent\":%llu,\"bytes\":%llu,\"seconds\":%.3f,\"mbps\":%.2f,\"retrans\":%d,\"snd_drop\":%d}\n",
           (unsigned long long)sent, (unsigned long long)sent * PAYLOAD, elapsed,
           elapsed > 0 ? sent * PAYLOAD * 8.0 / elapsed / 1e6 : 0.0,
           st.pktRetransTotal, st.pktSndDropTotal);
    return lost_conn ? 2 : 0;
}
