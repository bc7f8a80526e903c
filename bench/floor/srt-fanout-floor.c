/*
 * srt-fanout-floor - the smallest possible SRT fan-out relay, used as the
 * performance floor for srt-relay's data plane.
 *
 * One listener port for the publisher (--in), one listener port for viewers
 * (--out). Every message received from the publisher with srt_recvmsg2 is
 * sent with srt_sendmsg2 to every connected viewer. Nothing else: no
 * streamid routing, no buffering, no TS parsing, no auth.
 *
 *   srt-fanout-floor --in [HOST:]PORT --out [HOST:]PORT
 *                    [--reuseport K] [--latency MS] [--passphrase P]
 *
 * --reuseport K opens K UDP sockets bound to the --out port with SO_REUSEPORT
 * and hands each to its own SRT listener with srt_bind_acquire. libsrt gives
 * every acquired UDP socket its own multiplexer (its own send/receive queue
 * threads), and the kernel spreads viewers over the K sockets by hashing
 * their address, so viewer traffic is spread over K multiplexers instead of
 * one.
 *
 * Viewer sockets are non-blocking for sending: when srt_sendmsg2 fails with
 * SRT_EASYNCSND (send buffer full) the packet is counted as a drop for that
 * viewer; any other send error closes the viewer. A publisher that goes
 * away is replaced by the next one that connects.
 *
 * On SIGINT/SIGTERM prints one JSON line:
 *   {"in_pkts":..,"in_bytes":..,"out_pkts":..,"out_bytes":..,"drops":..,
 *    "viewers":..,"viewers_peak":..,"viewers_total":..,"publishers":..,
 *    "per_listener":[viewers accepted by each listener],"snd_drop":..,"retrans":..,"cpu_s":..,"seconds":..}
 * snd_drop / retrans are libsrt's sender counters summed over the viewers
 * still connected at exit (libsrt has no stats for broken sockets).
 */
#include "common.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_LISTENERS 64

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

struct viewer {
    SRTSOCKET s;
    uint64_t drops;
};

/* Viewer list: appended by the accept thread, used by the data loop. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct viewer *viewers;
static size_t n_viewers, cap_viewers, viewers_peak, viewers_total;

/* Counters (data loop only, except where noted). */
static uint64_t in_pkts, in_bytes, out_pkts, out_bytes, drops, publishers;

static SRTSOCKET out_lsn[MAX_LISTENERS];
static uint64_t accepted_on[MAX_LISTENERS]; /* viewers accepted per listener */
static int n_out_lsn;

static void usage(void)
{
    die("usage: srt-fanout-floor --in [HOST:]PORT --out [HOST:]PORT [--reuseport K]\n"
        "                        [--latency MS] [--passphrase P]");
}

static void set_int(SRTSOCKET s, SRT_SOCKOPT opt, int v, const char *name)
{
    if (srt_setsockflag(s, opt, &v, sizeof v) < 0) srt_die(name);
}

/* A listener with non-blocking accept (it is driven by srt_epoll). */
static SRTSOCKET make_listener(const struct common_opts *o)
{
    SRTSOCKET s = srt_create_socket();
    if (s == SRT_INVALID_SOCK) srt_die("srt_create_socket");
    apply_common(s, o);
    set_int(s, SRTO_RCVSYN, 0, "SRTO_RCVSYN");
    return s;
}

static void listen_plain(SRTSOCKET s, const char *addr)
{
    struct sockaddr_storage sa;
    int salen;
    parse_addr(addr, &sa, &salen);
    if (srt_bind(s, (struct sockaddr *)&sa, salen) == SRT_ERROR) srt_die("srt_bind");
    if (srt_listen(s, 128) == SRT_ERROR) srt_die("srt_listen");
}

/* One UDP socket with SO_REUSEPORT, acquired by an SRT listener. */
static void listen_reuseport(SRTSOCKET s, const char *addr)
{
    struct sockaddr_storage sa;
    int salen, one = 1;
    parse_addr(addr, &sa, &salen);
    int fd = socket(sa.ss_family, SOCK_DGRAM, 0);
    if (fd < 0) die("socket: %s", strerror(errno));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        die("SO_REUSEPORT: %s", strerror(errno));
    if (bind(fd, (struct sockaddr *)&sa, (socklen_t)salen) < 0)
        die("bind %s: %s", addr, strerror(errno));
    if (srt_bind_acquire(s, fd) == SRT_ERROR) srt_die("srt_bind_acquire");
    if (srt_listen(s, 128) == SRT_ERROR) srt_die("srt_listen");
}

static void add_stats_of(SRTSOCKET s, uint64_t *snd_drop, uint64_t *retrans)
{
    SRT_TRACEBSTATS st;
    memset(&st, 0, sizeof st);
    if (srt_bstats(s, &st, 0) == 0) {
        *snd_drop += (uint64_t)st.pktSndDropTotal;
        *retrans += (uint64_t)st.pktRetransTotal;
    }
}

/* Accept thread: waits on all viewer listeners, appends new viewers. */
static void *accept_viewers(void *arg)
{
    (void)arg;
    int eid = srt_epoll_create();
    if (eid < 0) srt_die("srt_epoll_create");
    int ev = SRT_EPOLL_IN | SRT_EPOLL_ERR;
    for (int i = 0; i < n_out_lsn; i++) srt_epoll_add_usock(eid, out_lsn[i], &ev);

    SRT_EPOLL_EVENT ready[MAX_LISTENERS];
    while (!stop) {
        int n = srt_epoll_uwait(eid, ready, MAX_LISTENERS, 200);
        for (int i = 0; i < n; i++) {
            int li = 0;
            while (li < n_out_lsn && out_lsn[li] != ready[i].fd) li++;
            for (;;) { /* drain the accept queue */
                SRTSOCKET v = srt_accept(ready[i].fd, NULL, NULL);
                if (v == SRT_INVALID_SOCK) break;
                if (li < n_out_lsn) accepted_on[li]++;
                set_int(v, SRTO_SNDSYN, 0, "SRTO_SNDSYN");
                pthread_mutex_lock(&mu);
                if (n_viewers == cap_viewers) {
                    cap_viewers = cap_viewers ? cap_viewers * 2 : 64;
                    viewers = realloc(viewers, cap_viewers * sizeof *viewers);
                    if (!viewers) die("out of memory");
                }
                viewers[n_viewers].s = v;
                viewers[n_viewers].drops = 0;
                n_viewers++;
                viewers_total++;
                if (n_viewers > viewers_peak) viewers_peak = n_viewers;
                pthread_mutex_unlock(&mu);
            }
        }
    }
    srt_epoll_release(eid);
    return NULL;
}

/* Send one message to every viewer; drop the ones whose connection failed. */
static void fan_out(const char *buf, int len)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n_viewers; i++) {
        struct viewer *v = &viewers[i];
        if (srt_sendmsg2(v->s, buf, len, NULL) != SRT_ERROR) {
            out_pkts++;
            out_bytes += (uint64_t)len;
            continue;
        }
        if (srt_getlasterror(NULL) == SRT_EASYNCSND) {
            v->drops++;
            drops++;
            continue;
        }
        srt_close(v->s);
        viewers[i] = viewers[--n_viewers]; /* swap-remove, then retry slot i */
        i--;
    }
    pthread_mutex_unlock(&mu);
}

int main(int argc, char **argv)
{
    const char *in_addr = NULL, *out_addr = NULL;
    int reuseport = 0;
    struct common_opts o = { -1, NULL, NULL };

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (!strcmp(a, "--in")) in_addr = v;
        else if (!strcmp(a, "--out")) out_addr = v;
        else if (!strcmp(a, "--reuseport")) reuseport = (int)arg_ll(a, v);
        else if (!strcmp(a, "--latency")) o.latency_ms = (int)arg_ll(a, v);
        else if (!strcmp(a, "--passphrase")) o.passphrase = v;
        else usage();
        i++;
    }
    if (!in_addr || !out_addr || reuseport < 0 || reuseport > MAX_LISTENERS) usage();

    srt_startup();
    const uint64_t t0 = now_ns();

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* Viewer side: one plain listener, or K listeners sharing the port. */
    if (reuseport > 0) {
        for (int i = 0; i < reuseport; i++) {
            out_lsn[i] = make_listener(&o);
            listen_reuseport(out_lsn[i], out_addr);
        }
        n_out_lsn = reuseport;
    } else {
        out_lsn[0] = make_listener(&o);
        listen_plain(out_lsn[0], out_addr);
        n_out_lsn = 1;
    }

    /* Publisher side. */
    SRTSOCKET in_lsn = make_listener(&o);
    listen_plain(in_lsn, in_addr);
    int in_eid = srt_epoll_create();
    int ev = SRT_EPOLL_IN | SRT_EPOLL_ERR;
    srt_epoll_add_usock(in_eid, in_lsn, &ev);

    pthread_t acc;
    if (pthread_create(&acc, NULL, accept_viewers, NULL) != 0) die("pthread_create failed");
    fprintf(stderr, "srt-fanout-floor: publisher on %s, viewers on %s (%d listener%s)\n",
            in_addr, out_addr, n_out_lsn, n_out_lsn > 1 ? "s" : "");

    char buf[1500];
    while (!stop) {
        SRT_EPOLL_EVENT ready[1];
        if (srt_epoll_uwait(in_eid, ready, 1, 200) <= 0) continue;
        SRTSOCKET pub = srt_accept(in_lsn, NULL, NULL);
        if (pub == SRT_INVALID_SOCK) continue;
        publishers++;
        /* Accepted sockets inherit the listener's non-blocking receive:
         * switch back to blocking with a timeout, to notice `stop`. */
        set_int(pub, SRTO_RCVSYN, 1, "SRTO_RCVSYN");
        set_int(pub, SRTO_RCVTIMEO, 200, "SRTO_RCVTIMEO");

        while (!stop) {
            int n = srt_recvmsg2(pub, buf, sizeof buf, NULL);
            if (n == SRT_ERROR) {
                int e = srt_getlasterror(NULL);
                if (e == SRT_ETIMEOUT || e == SRT_EASYNCRCV) continue;
                break; /* publisher gone: wait for the next one */
            }
            in_pkts++;
            in_bytes += (uint64_t)n;
            fan_out(buf, n);
        }
        srt_close(pub);
    }

    pthread_join(acc, NULL);

    uint64_t snd_drop = 0, retrans = 0;
    for (size_t i = 0; i < n_viewers; i++) add_stats_of(viewers[i].s, &snd_drop, &retrans);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;

    char per[MAX_LISTENERS * 21 + 2] = "[";
    for (int i = 0; i < n_out_lsn; i++)
        snprintf(per + strlen(per), sizeof per - strlen(per), "%s%llu", i ? "," : "",
                 (unsigned long long)accepted_on[i]);
    strcat(per, "]");

    printf("{\"in_pkts\":%llu,\"in_bytes\":%llu,\"out_pkts\":%llu,\"out_bytes\":%llu,\"drops\":%llu,"
           "\"viewers\":%zu,\"viewers_peak\":%zu,\"viewers_total\":%zu,\"publishers\":%llu,"
           "\"per_listener\":%s,\"snd_drop\":%llu,\"retrans\":%llu,\"cpu_s\":%.3f,\"seconds\":%.3f}\n",
           (unsigned long long)in_pkts, (unsigned long long)in_bytes, (unsigned long long)out_pkts,
           (unsigned long long)out_bytes, (unsigned long long)drops, n_viewers, viewers_peak,
           viewers_total, (unsigned long long)publishers, per, (unsigned long long)snd_drop,
           (unsigned long long)retrans, cpu, (now_ns() - t0) / 1e9);
    fflush(stdout);

    for (size_t i = 0; i < n_viewers; i++) srt_close(viewers[i].s);
    for (int i = 0; i < n_out_lsn; i++) srt_close(out_lsn[i]);
    srt_close(in_lsn);
    srt_epoll_release(in_eid);
    srt_cleanup();
    return 0;
}
