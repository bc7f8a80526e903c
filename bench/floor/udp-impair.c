/*
 * udp-impair - a UDP relay that drops and delays datagrams, for the `impaired` bench scenario
 * on hosts without netem (the kernel's sch_netem). Userspace, no root needed.
 *
 *   udp-impair --listen [HOST:]PORT --to HOST:PORT [--loss PCT] [--delay MS] [--jitter MS]
 *              [--seed N]
 *
 * Every client address that sends to --listen gets its own upstream socket towards --to, so the
 * server sees one peer per client address (as without the relay; SRT callers sharing one local
 * port stay one peer). Each datagram, in either direction, is dropped with probability
 * loss/100, else delivered after delay + uniform(-jitter, +jitter) ms (>= 0; with jitter,
 * datagrams can be reordered, like netem's delay jitter). Prints one JSON line on SIGTERM/SIGINT:
 * {"forwarded":n,"dropped":n,"clients":n}.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXPKT 2048
#define POOL 65536
#define MAXCLIENTS 1024

typedef struct {
    uint64_t due;   /* ns, CLOCK_MONOTONIC */
    uint64_t order; /* FIFO among equal due times */
    int fd;         /* socket to send from */
    struct sockaddr_in to;
    int len;
    int slot;       /* index into the payload pool */
} item_t;

static item_t heap[POOL];
static int heap_n;
static unsigned char pool[POOL][MAXPKT];
static int free_slots[POOL];
static int free_n;
static uint64_t order_seq;

typedef struct {
    struct sockaddr_in addr;
    int up; /* upstream socket */
} client_t;

static client_t clients[MAXCLIENTS];
static int nclients;
static volatile sig_atomic_t stop;
static unsigned long long forwarded, dropped, overflow;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *m)
{
    fprintf(stderr, "udp-impair: %s%s%s\n", m, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(1);
}

static int before(const item_t *a, const item_t *b)
{
    return a->due < b->due || (a->due == b->due && a->order < b->order);
}

static void heap_push(item_t it)
{
    int i = heap_n++;
    heap[i] = it;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!before(&heap[i], &heap[p])) break;
        item_t t = heap[i]; heap[i] = heap[p]; heap[p] = t;
        i = p;
    }
}

static item_t heap_pop(void)
{
    item_t top = heap[0];
    heap[0] = heap[--heap_n];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < heap_n && before(&heap[l], &heap[m])) m = l;
        if (r < heap_n && before(&heap[r], &heap[m])) m = r;
        if (m == i) break;
        item_t t = heap[i]; heap[i] = heap[m]; heap[m] = t;
        i = m;
    }
    return top;
}

static void parse_addr(const char *s, struct sockaddr_in *a, int host_required)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    char *colon = strrchr(buf, ':');
    const char *host = "127.0.0.1";
    const char *port = buf;
    if (colon) { *colon = 0; host = buf; port = colon + 1; }
    else if (host_required) die("address must be HOST:PORT");
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)atoi(port));
    if (inet_pton(AF_INET, host[0] ? host : "127.0.0.1", &a->sin_addr) != 1) die("bad IPv4 address");
}

static double loss_pct, delay_ms, jitter_ms;

static void schedule(int fd, const struct sockaddr_in *to, const unsigned char *data, int len, uint64_t now)
{
    if (loss_pct > 0 && (double)rand() / RAND_MAX * 100.0 < loss_pct) { dropped++; return; }
    if (free_n == 0) { overflow++; dropped++; return; }
    double d = delay_ms;
    if (jitter_ms > 0) d += ((double)rand() / RAND_MAX * 2.0 - 1.0) * jitter_ms;
    if (d < 0) d = 0;
    item_t it;
    it.slot = free_slots[--free_n];
    memcpy(pool[it.slot], data, (size_t)len);
    it.len = len;
    it.fd = fd;
    it.to = *to;
    it.due = now + (uint64_t)(d * 1e6);
    it.order = order_seq++;
    heap_push(it);
}

static void on_signal(int s) { (void)s; stop = 1; }

int main(int argc, char **argv)
{
    struct sockaddr_in listen_addr, server;
    int have_listen = 0, have_to = 0;
    unsigned seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) die("missing value");
        if (!strcmp(a, "--listen")) { parse_addr(v, &listen_addr, 0); have_listen = 1; }
        else if (!strcmp(a, "--to")) { parse_addr(v, &server, 1); have_to = 1; }
        else if (!strcmp(a, "--loss")) loss_pct = atof(v);
        else if (!strcmp(a, "--delay")) delay_ms = atof(v);
        else if (!strcmp(a, "--jitter")) jitter_ms = atof(v);
        else if (!strcmp(a, "--seed")) seed = (unsigned)atoi(v);
        else die("usage: udp-impair --listen [HOST:]PORT --to HOST:PORT [--loss PCT] [--delay MS] [--jitter MS] [--seed N]");
        i++;
    }
    if (!have_listen || !have_to) die("usage: udp-impair --listen [HOST:]PORT --to HOST:PORT [--loss PCT] [--delay MS] [--jitter MS]");
    srand(seed);
    for (int i = 0; i < POOL; i++) free_slots[free_n++] = POOL - 1 - i;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    int lfd = socket(AF_INET, SOCK_DGRAM, 0);
    if (lfd < 0) die("socket");
    int big = 8 << 20;
    setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(lfd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (bind(lfd, (struct sockaddr *)&listen_addr, sizeof listen_addr) != 0) die("bind");

    static struct pollfd pfd[MAXCLIENTS + 1];
    unsigned char buf[MAXPKT];
    while (!stop) {
        uint64_t now = now_ns();
        while (heap_n > 0 && heap[0].due <= now) {
            item_t it = heap_pop();
            sendto(it.fd, pool[it.slot], (size_t)it.len, 0, (struct sockaddr *)&it.to, sizeof it.to);
            free_slots[free_n++] = it.slot;
            forwarded++;
        }
        int timeout = 50;
        if (heap_n > 0) {
            uint64_t wait = heap[0].due > now ? heap[0].due - now : 0;
            timeout = (int)(wait / 1000000ull); /* ms, rounded down: wake a little early */
        }
        pfd[0].fd = lfd;
        pfd[0].events = POLLIN;
        for (int c = 0; c < nclients; c++) { pfd[c + 1].fd = clients[c].up; pfd[c + 1].events = POLLIN; }
        int r = poll(pfd, (nfds_t)nclients + 1, timeout);
        if (r < 0) { if (errno == EINTR) continue; die("poll"); }
        if (r == 0) continue;
        now = now_ns();
        if (pfd[0].revents & POLLIN) {
            for (;;) {
                struct sockaddr_in from;
                socklen_t fl = sizeof from;
                ssize_t n = recvfrom(lfd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
                if (n < 0) break;
                int c;
                for (c = 0; c < nclients; c++)
                    if (clients[c].addr.sin_port == from.sin_port && clients[c].addr.sin_addr.s_addr == from.sin_addr.s_addr) break;
                if (c == nclients) {
                    if (nclients == MAXCLIENTS) { dropped++; continue; }
                    int up = socket(AF_INET, SOCK_DGRAM, 0);
                    if (up < 0) die("socket");
                    setsockopt(up, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
                    setsockopt(up, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
                    if (connect(up, (struct sockaddr *)&server, sizeof server) != 0) die("connect");
                    clients[c].addr = from;
                    clients[c].up = up;
                    nclients++;
                }
                schedule(clients[c].up, &server, buf, (int)n, now);
            }
        }
        for (int c = 0; c < nclients; c++) {
            if (!(pfd[c + 1].revents & POLLIN)) continue;
            for (;;) {
                ssize_t n = recv(clients[c].up, buf, sizeof buf, MSG_DONTWAIT);
                if (n < 0) break;
                schedule(lfd, &clients[c].addr, buf, (int)n, now);
            }
        }
    }
    printf("{\"forwarded\":%llu,\"dropped\":%llu,\"overflow\":%llu,\"clients\":%d}\n", forwarded, dropped, overflow, nclients);
    return 0;
}
