/*
 * common.h - small helpers shared by the bench/floor C programs.
 *
 * Header-only on purpose: every program is a single .c file plus this header,
 * built with
 *   cc -O2 -o X X.c $(pkg-config --cflags --libs srt) -lpthread
 *
 * Bench packet layout (written by srt-blast, checked by srt-sink; the
 * TypeScript bench tools use the same layout):
 *   offset+0 .. offset+7   sequence number, uint64 little-endian, from 0
 *   offset+8 .. offset+15  send time, CLOCK_MONOTONIC in ns, uint64 little-endian
 * offset is 0 for plain payloads and 4 with --ts (see fill_ts below).
 * CLOCK_MONOTONIC is what Node's process.hrtime.bigint() reads on Linux, so
 * the timestamps are comparable with a Node process on the same host.
 */
#ifndef FLOOR_COMMON_H
#define FLOOR_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <srt/srt.h>

#define PAYLOAD 1316 /* 7 x 188-byte MPEG-TS packets, SRT's live default */
#define TS_PKT 188

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* Report the last libsrt error of this thread and exit. */
static inline void srt_die(const char *what)
{
    die("%s: %s", what, srt_getlasterror_str());
}

static inline void put_u64le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t get_u64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/*
 * Resolve "HOST:PORT" (or just "PORT", meaning 0.0.0.0) into a UDP address.
 * "[::1]:9000" is accepted for IPv6.
 */
static inline void parse_addr(const char *spec, struct sockaddr_storage *out, int *outlen)
{
    char host[256] = "0.0.0.0";
    const char *port = spec;
    const char *colon = strrchr(spec, ':');
    if (colon) {
        size_t n = (size_t)(colon - spec);
        if (n >= sizeof host) die("address too long: %s", spec);
        memcpy(host, spec, n);
        host[n] = 0;
        if (host[0] == '[' && n >= 2 && host[n - 1] == ']') { /* [v6] */
            memmove(host, host + 1, n - 2);
            host[n - 2] = 0;
        }
        port = colon + 1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) die("cannot resolve '%s': %s", spec, gai_strerror(rc));
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *outlen = (int)res->ai_addrlen;
    freeaddrinfo(res);
}

/* Options that matter for every socket here; set before bind/connect. */
struct common_opts {
    int latency_ms;          /* -1: keep libsrt's default (120 ms) */
    const char *passphrase;  /* NULL: no encryption */
    const char *streamid;    /* NULL: none (caller side only) */
};

static inline void apply_common(SRTSOCKET s, const struct common_opts *o)
{
    int live = SRTT_LIVE;
    if (srt_setsockflag(s, SRTO_TRANSTYPE, &live, sizeof live) < 0) srt_die("SRTO_TRANSTYPE");
    if (o->latency_ms >= 0 &&
        srt_setsockflag(s, SRTO_LATENCY, &o->latency_ms, sizeof o->latency_ms) < 0)
        srt_die("SRTO_LATENCY");
    if (o->passphrase &&
        srt_setsockflag(s, SRTO_PASSPHRASE, o->passphrase, (int)strlen(o->passphrase)) < 0)
        srt_die("SRTO_PASSPHRASE");
    if (o->streamid &&
        srt_setsockflag(s, SRTO_STREAMID, o->streamid, (int)strlen(o->streamid)) < 0)
        srt_die("SRTO_STREAMID");
}

/*
 * Open one connected SRT socket: either connect to `connect_to` (caller) or
 * listen on `listen_on` and accept exactly one peer (listener). `pre` is
 * called on the socket before connect/listen to set extra options (accepted
 * sockets inherit the listener's options).
 */
static inline SRTSOCKET open_conn(const char *connect_to, const char *listen_on,
                           const struct common_opts *o,
                           void (*pre)(SRTSOCKET, void *), void *arg)
{
    struct sockaddr_storage sa;
    int salen;
    SRTSOCKET s = srt_create_socket();
    if (s == SRT_INVALID_SOCK) srt_die("srt_create_socket");
    apply_common(s, o);
    if (pre) pre(s, arg);

    if (connect_to) {
        parse_addr(connect_to, &sa, &salen);
        if (srt_connect(s, (struct sockaddr *)&sa, salen) == SRT_ERROR) srt_die("srt_connect");
        return s;
    }
    parse_addr(listen_on, &sa, &salen);
    if (srt_bind(s, (struct sockaddr *)&sa, salen) == SRT_ERROR) srt_die("srt_bind");
    if (srt_listen(s, 1) == SRT_ERROR) srt_die("srt_listen");
    struct sockaddr_storage peer;
    int peerlen = sizeof peer;
    SRTSOCKET c = srt_accept(s, (struct sockaddr *)&peer, &peerlen);
    if (c == SRT_INVALID_SOCK) srt_die("srt_accept");
    srt_close(s); /* one peer only */
    return c;
}

/*
 * --ts payloads: 7 MPEG-TS packets on PID 0x100, payload only, with a proper
 * continuity counter, so that a relay that checks sync bytes / CC accepts
 * them. The bench header then lives at offset 4 (after the first TS header).
 */
static inline void fill_ts(unsigned char *buf, unsigned *cc)
{
    for (int i = 0; i < PAYLOAD / TS_PKT; i++) {
        unsigned char *p = buf + i * TS_PKT;
        p[0] = 0x47;
        p[1] = 0x01; /* PID 0x100, no PUSI */
        p[2] = 0x00;
        p[3] = (unsigned char)(0x10 | (*cc & 0x0f)); /* payload only + CC */
        *cc = (*cc + 1) & 0x0f;
    }
}

static inline double arg_double(const char *opt, const char *v)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || *end || end == v) die("bad value for %s: %s", opt, v);
    return d;
}

static inline long long arg_ll(const char *opt, const char *v)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || end == v) die("bad value for %s: %s", opt, v);
    return n;
}

#endif
