/* dockyard-shim: the steady state of a container's supervisor. Written for dockyard.
 *
 * The Python supervisor (engine/supervisor.py) creates and starts the
 * container, then execve()s this program in the same process: same pid, so
 * the container's init stays our child and we stay the session leader and
 * child subreaper. What it held arrives as inherited fds named on argv
 * (engine/cshim.py builds the argv):
 *
 *   ctl=FD listen=FD init=PID out1=FD out2=FD master=FD stdin=FD
 *   closestdin=0|1 pending=HEX parser=HEX log=FD logpath=PATH logsize=N
 *   maxsize=N maxfile=N part1=HEX part2=HEX rundir=DIR python=PATH
 *   runtime=DIR id=ID helper=PATH pyflags=FLAGS
 *
 * From then on this program does what the Python loop did:
 *  - copies the init's output to the json-file log (byte for byte what
 *    engine/logfile.py's JsonFileWriter writes, rotation included) and to
 *    the connected daemon as frames (engine/frames.py);
 *  - accepts a new daemon on supervisor.sock (the newest wins) and greets
 *    it with "hello";
 *  - takes stdin, close-stdin, resize and exec requests; an exec runs
 *    `python FLAGS HELPER` (engine/cshim_exec.py, the runtime's exec path
 *    in a short-lived child; without helper=, `python -m
 *    dockyard.engine.cshim`) which hands back the pid and the process's
 *    stdio fds over a socketpair;
 *  - reaps the init, drains its output, writes exit.json atomically and
 *    tells the daemon, then exits.
 *
 * `dockyard-shim --log-test PATH MAXSIZE MAXFILE` reads records
 * (stream byte, 4-byte big-endian length, bytes) from stdin and feeds them
 * to the log writer: the tests compare its file with the Python writer's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

int rename(const char *from, const char *to); /* <stdio.h>'s, without the rest of it */

#define SPLIT (16 * 1024)       /* logfile.SPLIT: a partial line is cut here */
#define READ_CHUNK 65536
#define INIT_DRAIN_MS 3000
#define EXEC_DRAIN_MS 1000
#define HELPER_TIMEOUT_MS 60000
#define MAX_FRAME (64u << 20)

/* ---- small growable buffers ------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void buf_reserve(buf_t *b, size_t extra) {
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        write(2, "dockyard-shim: out of memory\n", 29);
        _exit(70);
    }
    b->p = p;
    b->cap = cap;
}

static void buf_add(buf_t *b, const void *p, size_t n) {
    buf_reserve(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_str(buf_t *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_num(buf_t *b, long long v) {
    char tmp[24];
    int i = sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        tmp[--i] = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        tmp[--i] = '-';
    buf_add(b, tmp + i, sizeof tmp - (size_t)i);
}

/* printf's %d, %u, %lld and %s only: stdio's formatter would add ~150 KiB
 * to a static binary whose every page counts toward each container's PSS. */
static void buf_vfmt(buf_t *b, const char *fmt, va_list ap) {
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            buf_add(b, f, 1);
            continue;
        }
        f++;
        if (*f == 'd')
            buf_num(b, va_arg(ap, int));
        else if (*f == 'u')
            buf_num(b, va_arg(ap, unsigned));
        else if (f[0] == 'l' && f[1] == 'l' && f[2] == 'd') {
            buf_num(b, va_arg(ap, long long));
            f += 2;
        } else if (*f == 's')
            buf_str(b, va_arg(ap, const char *));
        else if (*f == '%')
            buf_add(b, "%", 1);
        else
            break;
    }
}

static void buf_fmt(buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    buf_vfmt(b, fmt, ap);
    va_end(ap);
}

static void buf_drop(buf_t *b, size_t n) {
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

static void buf_free(buf_t *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* An empty buffer that grew past 64 KiB (a burst of output, escaped binary,
 * a big stdin write) gives its memory back: the process stays small. */
static void buf_trim(buf_t *b) {
    if (b->len == 0 && b->cap > 65536)
        buf_free(b);
}

/* One line to stderr (the run dir's supervisor.log). */
static void log_err(const char *fmt, ...) {
    buf_t line = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_str(&line, "dockyard-shim: ");
    buf_vfmt(&line, fmt, ap);
    va_end(ap);
    buf_add(&line, "\n", 1);
    ssize_t w = write(2, line.p, line.len);
    (void)w;
    buf_free(&line);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put_digits(char *p, unsigned long v, int n) {
    while (n--) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* logfile.rfc3339nano of the wall clock now: YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ.
 * The civil date from days since the epoch (H. Hinnant's algorithm), so no
 * strftime and its locale code. */
static void rfc3339nano(char out[40]) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long days = ts.tv_sec / 86400, secs = ts.tv_sec % 86400;
    long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    long long y = (long long)yoe + era * 400 + (m <= 2);
    memcpy(out, "0000-00-00T00:00:00.000000000Z", 31);
    put_digits(out, (unsigned long)y, 4);
    put_digits(out + 5, m, 2);
    put_digits(out + 8, d, 2);
    put_digits(out + 11, (unsigned long)(secs / 3600), 2);
    put_digits(out + 14, (unsigned long)(secs / 60 % 60), 2);
    put_digits(out + 17, (unsigned long)(secs % 60), 2);
    put_digits(out + 20, (unsigned long)ts.tv_nsec, 9);
}

static int hexval(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void unhex(buf_t *b, const char *s) {
    for (; s[0] && s[1]; s += 2) {
        char c = (char)(hexval(s[0]) * 16 + hexval(s[1]));
        buf_add(b, &c, 1);
    }
}

/* ---- JSON: escaping like Python's json.dumps(ensure_ascii=False) ------- */

/* Python's bytes.decode("utf-8", "replace"): each maximal invalid subpart
 * becomes one U+FFFD. Appends the JSON-escaped text to out. */
static void json_escape_utf8(buf_t *out, const unsigned char *s, size_t n) {
    static const char fffd[] = "\xef\xbf\xbd";
    size_t i = 0;
    buf_reserve(out, n + 16);
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            static const char hex[] = "0123456789abcdef";
            char esc[6] = {'\\', 'u', '0', '0', 0, 0};
            switch (c) {
            case '"': buf_add(out, "\\\"", 2); break;
            case '\\': buf_add(out, "\\\\", 2); break;
            case '\n': buf_add(out, "\\n", 2); break;
            case '\r': buf_add(out, "\\r", 2); break;
            case '\t': buf_add(out, "\\t", 2); break;
            case '\b': buf_add(out, "\\b", 2); break;
            case '\f': buf_add(out, "\\f", 2); break;
            default:
                if (c < 0x20) {
                    esc[4] = hex[c >> 4];
                    esc[5] = hex[c & 15];
                    buf_add(out, esc, 6);
                } else {
                    char ch = (char)c;
                    buf_add(out, &ch, 1);
                }
            }
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            buf_add(out, fffd, 3); /* 0x80-0xC1, 0xF5-0xFF: never a start */
            i++;
            continue;
        }
        size_t k = 1;
        while (k <= need && i + k < n) {
            unsigned cc = s[i + k];
            unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
            if (cc < l || cc > h)
                break;
            k++;
        }
        if (k == need + 1)
            buf_add(out, s + i, k);
        else
            buf_add(out, fffd, 3); /* the valid prefix as one replacement */
        i += k;
    }
}

/* ---- a top-level JSON object scanner for the daemon's requests -------- */

static const char *skip_ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *skip_string(const char *p, const char *e) {
    p++; /* the opening quote */
    while (p < e && *p != '"')
        p += (*p == '\\') ? 2 : 1;
    return p < e ? p + 1 : NULL;
}

static const char *skip_value(const char *p, const char *e) {
    p = skip_ws(p, e);
    if (p >= e)
        return NULL;
    if (*p == '"')
        return skip_string(p, e);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < e) {
            if (*p == '"') {
                p = skip_string(p, e);
                if (!p)
                    return NULL;
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if (*p == '}' || *p == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return NULL;
    }
    while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n')
        p++;
    return p;
}

/* The raw text of key's value in the top-level object [p, e); NULL if absent. */
static const char *json_get(const char *p, const char *e, const char *key, size_t *vlen) {
    size_t klen = strlen(key);
    p = skip_ws(p, e);
    if (p >= e || *p != '{')
        return NULL;
    p++;
    while (1) {
        p = skip_ws(p, e);
        if (p >= e || *p != '"')
            return NULL;
        const char *ks = p + 1, *ke = skip_string(p, e);
        if (!ke)
            return NULL;
        p = skip_ws(ke, e);
        if (p >= e || *p != ':')
            return NULL;
        const char *vs = skip_ws(p + 1, e), *ve = skip_value(vs, e);
        if (!ve)
            return NULL;
        if ((size_t)(ke - 1 - ks) == klen && memcmp(ks, key, klen) == 0) {
            *vlen = (size_t)(ve - vs);
            return vs;
        }
        p = skip_ws(ve, e);
        if (p < e && *p == ',')
            p++;
        else
            return NULL;
    }
}

static long json_int(const char *p, const char *e, const char *key, long dflt) {
    size_t n;
    const char *v = json_get(p, e, key, &n);
    if (!v || n == 0 || n > 30)
        return dflt;
    char tmp[32];
    memcpy(tmp, v, n);
    tmp[n] = 0;
    char *end;
    long x = strtol(tmp, &end, 10);
    return end == tmp ? dflt : x;
}

static int json_true(const char *p, const char *e, const char *key) {
    size_t n;
    const char *v = json_get(p, e, key, &n);
    return v && n == 4 && memcmp(v, "true", 4) == 0;
}

static int json_is(const char *p, const char *e, const char *key, const char *want) {
    size_t n;
    const char *v = json_get(p, e, key, &n);
    size_t wl = strlen(want);
    return v && n == wl + 2 && v[0] == '"' && memcmp(v + 1, want, wl) == 0;
}

/* ---- the json-file log (engine/logfile.py) ----------------------------- */

typedef struct {
    int fd;          /* -1: no log (driver "none") */
    const char *path;
    long long size;
    long long max_size;
    int max_file;
    buf_t partial[2]; /* stdout, stderr */
} jlog_t;

static const char *STREAM_NAME[2] = {"stdout", "stderr"};

static void jlog_record(buf_t *out, int s, const unsigned char *d, size_t n) {
    char ts[40];
    buf_str(out, "{\"log\":\"");
    json_escape_utf8(out, d, n);
    buf_str(out, "\",\"stream\":\"");
    buf_str(out, STREAM_NAME[s]);
    buf_str(out, "\",\"time\":\"");
    rfc3339nano(ts);
    buf_str(out, ts);
    buf_str(out, "\"}\n");
}

static void write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            log_err("log write: errno %d", errno);
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void jlog_rotate(jlog_t *l) {
    buf_t src = {0}, dst = {0};
    close(l->fd);
    for (int n = l->max_file - 1; n >= 1; n--) {
        src.len = dst.len = 0;
        if (n == 1)
            buf_fmt(&src, "%s", l->path);
        else
            buf_fmt(&src, "%s.%d", l->path, n - 1);
        buf_fmt(&dst, "%s.%d", l->path, n);
        buf_add(&src, "", 1);
        buf_add(&dst, "", 1);
        if (access(src.p, F_OK) == 0 && rename(src.p, dst.p) != 0)
            log_err("rotate %s: errno %d", src.p, errno);
    }
    buf_free(&src);
    buf_free(&dst);
    l->fd = open(l->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (l->fd < 0)
        log_err("open %s: errno %d", l->path, errno);
    l->size = 0;
}

/* JsonFileWriter._emit_all: one write per run of records, rotating between
 * records (never inside one) when the next would reach max-size. */
static void jlog_emit(jlog_t *l, buf_t *recs, size_t *ends, size_t nrec) {
    size_t start = 0, prev = 0;
    long long size = l->size;
    for (size_t i = 0; i < nrec; i++) {
        size_t len = ends[i] - prev;
        if (l->max_size > 0 && size + (long long)len >= l->max_size && size > 0) {
            if (prev > start) {
                write_all(l->fd, recs->p + start, prev - start);
                l->size += (long long)(prev - start);
            }
            jlog_rotate(l);
            start = prev;
            size = 0;
        }
        size += (long long)len;
        prev = ends[i];
    }
    if (prev > start && l->fd >= 0) {
        write_all(l->fd, recs->p + start, prev - start);
        l->size += (long long)(prev - start);
    }
}

static buf_t recbuf;
static size_t *rec_ends;
static size_t rec_cap;

static void rec_push(size_t end, size_t *nrec) {
    if (*nrec == rec_cap) {
        rec_cap = rec_cap ? rec_cap * 2 : 64;
        rec_ends = realloc(rec_ends, rec_cap * sizeof *rec_ends);
        if (!rec_ends)
            _exit(70);
    }
    rec_ends[(*nrec)++] = end;
}

static void jlog_write(jlog_t *l, int s, const char *data, size_t n) {
    if (l->fd < 0)
        return;
    buf_t *part = &l->partial[s];
    size_t nrec = 0;
    recbuf.len = 0;
    buf_add(part, data, n);
    size_t off = 0;
    for (;;) {
        char *nl = memchr(part->p + off, '\n', part->len - off);
        if (!nl)
            break;
        size_t end = (size_t)(nl - part->p) + 1;
        jlog_record(&recbuf, s, (unsigned char *)part->p + off, end - off);
        rec_push(recbuf.len, &nrec);
        off = end;
    }
    buf_drop(part, off);
    off = 0;
    while (part->len - off >= SPLIT) {
        jlog_record(&recbuf, s, (unsigned char *)part->p + off, SPLIT);
        rec_push(recbuf.len, &nrec);
        off += SPLIT;
    }
    buf_drop(part, off);
    if (nrec)
        jlog_emit(l, &recbuf, rec_ends, nrec);
    recbuf.len = 0;
    buf_trim(&recbuf);
    buf_trim(part);
}

static void jlog_close(jlog_t *l) {
    if (l->fd < 0)
        return;
    for (int s = 0; s < 2; s++) {
        if (l->partial[s].len) {
            size_t nrec = 0;
            recbuf.len = 0;
            jlog_record(&recbuf, s, (unsigned char *)l->partial[s].p, l->partial[s].len);
            rec_push(recbuf.len, &nrec);
            jlog_emit(l, &recbuf, rec_ends, nrec);
            l->partial[s].len = 0;
        }
    }
    close(l->fd);
    l->fd = -1;
}

/* ---- channels: the init (0) and exec processes ------------------------ */

typedef struct {
    int used;
    uint32_t ch;
    pid_t pid;
    int out[2];      /* read ends; -1 when at EOF */
    int out_stream[2];
    int master;      /* pty master (also out[0]) or -1 */
    int in;          /* stdin to write, -1 when closed */
    buf_t pending;
    int close_in;
    int done;        /* exited: code is valid */
    int code;
    int64_t deadline;
} chan_t;

#define MAX_CHANS 256
static chan_t chans[MAX_CHANS];
static int ctl = -1, listener = -1, sigfd = -1;
static buf_t parser;
static jlog_t jlog = {.fd = -1};
static const char *run_dir = ".", *python = "python3", *runtime_root = "", *cid = "";
static const char *helper = "", *pyflags = "";

static chan_t *chan_get(uint32_t ch) {
    for (int i = 0; i < MAX_CHANS; i++)
        if (chans[i].used && chans[i].ch == ch)
            return &chans[i];
    return NULL;
}

static chan_t *chan_new(uint32_t ch) {
    for (int i = 0; i < MAX_CHANS; i++)
        if (!chans[i].used) {
            chan_t *c = &chans[i];
            memset(c, 0, sizeof *c);
            c->used = 1;
            c->ch = ch;
            c->out[0] = c->out[1] = c->master = c->in = -1;
            c->out_stream[0] = 1;
            c->out_stream[1] = 2;
            return c;
        }
    return NULL;
}

static int chan_outs(chan_t *c) { return (c->out[0] >= 0) + (c->out[1] >= 0); }

/* ---- talking to the daemon -------------------------------------------- */

static void drop_ctl(void) {
    if (ctl >= 0)
        close(ctl);
    ctl = -1;
    parser.len = 0;
}

static void send_frame(int kind, int stream, uint32_t ch, const void *payload, size_t n) {
    if (ctl < 0)
        return;
    unsigned char h[10];
    h[0] = (unsigned char)kind;
    h[1] = (unsigned char)stream;
    h[2] = ch >> 24; h[3] = ch >> 16; h[4] = ch >> 8; h[5] = ch;
    uint32_t len = (uint32_t)n;
    h[6] = len >> 24; h[7] = len >> 16; h[8] = len >> 8; h[9] = len;
    struct iovec iov[2] = {{h, sizeof h}, {(void *)payload, n}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = n ? 2 : 1};
    size_t left = sizeof h + n;
    while (left) {
        ssize_t w = sendmsg(ctl, &m, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            drop_ctl(); /* gone, or stuck for the 5 s SO_SNDTIMEO: never wait on it */
            return;
        }
        left -= (size_t)w;
        while (w > 0 && m.msg_iovlen) {
            if ((size_t)w >= m.msg_iov[0].iov_len) {
                w -= (ssize_t)m.msg_iov[0].iov_len;
                m.msg_iov++;
                m.msg_iovlen--;
            } else {
                m.msg_iov[0].iov_base = (char *)m.msg_iov[0].iov_base + w;
                m.msg_iov[0].iov_len -= (size_t)w;
                w = 0;
            }
        }
    }
}

static void send_ctrl(buf_t *json) { send_frame(1, 0, 0, json->p, json->len); }

static void sock_setup(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static void send_hello(void) {
    buf_t j = {0};
    chan_t *init = chan_get(0);
    buf_fmt(&j, "{\"event\": \"hello\", \"pid\": %d, \"execs\": [", init ? (int)init->pid : 0);
    int first = 1;
    for (int i = 0; i < MAX_CHANS; i++)
        if (chans[i].used && chans[i].ch != 0) {
            buf_fmt(&j, first ? "%u" : ", %u", chans[i].ch);
            first = 0;
        }
    buf_str(&j, "]}");
    send_ctrl(&j);
    buf_free(&j);
}

static void do_accept(void) {
    int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    drop_ctl(); /* one daemon at a time: the newest wins */
    ctl = fd;
    sock_setup(ctl);
    send_hello();
}

/* ---- stdin ------------------------------------------------------------- */

static void close_in(chan_t *c) {
    if (c->in >= 0)
        close(c->in);
    c->in = -1;
    c->pending.len = 0;
}

static void flush_in(chan_t *c) {
    while (c->in >= 0 && c->pending.len) {
        ssize_t w = write(c->in, c->pending.p, c->pending.len);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            close_in(c);
            return;
        }
        buf_drop(&c->pending, (size_t)w);
    }
    buf_trim(&c->pending);
    if (c->in >= 0 && !c->pending.len && c->close_in)
        close_in(c);
}

static void on_stdin(uint32_t ch, const char *p, size_t n) {
    chan_t *c = chan_get(ch);
    if (!c || c->in < 0)
        return;
    if (n)
        buf_add(&c->pending, p, n);
    else
        c->close_in = 1;
    flush_in(c);
}

/* ---- exec: the runtime's exec path in a short-lived Python child ------- */

static void winsize(int fd, long h, long w) {
    struct winsize ws = {.ws_row = (unsigned short)h, .ws_col = (unsigned short)w};
    ioctl(fd, TIOCSWINSZ, &ws);
}

static void exec_error(uint32_t ch, const char *raw_msg, size_t n) {
    buf_t j = {0};
    buf_fmt(&j, "{\"event\": \"exec-error\", \"ch\": %u, \"message\": ", ch);
    if (raw_msg && n >= 2 && raw_msg[0] == '"')
        buf_add(&j, raw_msg, n);
    else
        buf_str(&j, "\"the exec helper failed\"");
    buf_str(&j, "}");
    send_ctrl(&j);
    buf_free(&j);
}

static void do_exec(uint32_t ch, const char *req, size_t reqlen) {
    int sv[2];
    if (chan_get(ch) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        exec_error(ch, NULL, 0);
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        exec_error(ch, NULL, 0);
        return;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(sv[1], 3); /* dup2 clears close-on-exec on 3 */
        /* A health probe is an exec: the helper script with its lean flags
         * (no runpy, no site) when the supervisor named one. */
        char *lean[] = {(char *)python, (char *)pyflags, (char *)helper, "exec",
                        (char *)runtime_root, (char *)cid, (char *)run_dir, NULL};
        char *mod[] = {(char *)python, "-m", "dockyard.engine.cshim", "exec",
                       (char *)runtime_root, (char *)cid, (char *)run_dir, NULL};
        execv(python, helper[0] && pyflags[0] ? lean : mod);
        _exit(127);
    }
    close(sv[1]);
    /* the request, then EOF */
    const char *p = req;
    size_t left = reqlen;
    while (left) {
        ssize_t w = write(sv[0], p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        left -= (size_t)w;
    }
    shutdown(sv[0], SHUT_WR);
    /* the answer: JSON plus (SCM_RIGHTS) the process's stdio fds */
    buf_t reply = {0};
    int fds[3] = {-1, -1, -1}, nfds = 0;
    int64_t deadline = now_ms() + HELPER_TIMEOUT_MS;
    int timed_out = 0;
    for (;;) {
        int64_t left_ms = deadline - now_ms();
        if (left_ms <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pf = {sv[0], POLLIN, 0};
        int r = poll(&pf, 1, (int)left_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            timed_out = r == 0;
            break;
        }
        char data[8192];
        union {
            struct cmsghdr h;
            char b[CMSG_SPACE(sizeof(int) * 3)];
        } cbuf;
        struct iovec iov = {data, sizeof data};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b,
                           .msg_controllen = sizeof cbuf.b};
        ssize_t n = recvmsg(sv[0], &m, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                int *got = (int *)CMSG_DATA(cm);
                for (int i = 0; i < k; i++) {
                    if (nfds < 3)
                        fds[nfds++] = got[i];
                    else
                        close(got[i]);
                }
            }
        }
        if (n <= 0)
            break;
        buf_add(&reply, data, (size_t)n);
    }
    close(sv[0]);
    if (timed_out)
        kill(pid, SIGKILL); /* its own child sees EOF on the runtime's sync socket */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    const char *rb = reply.p, *re = reply.p + reply.len;
    chan_t *c = NULL;
    if (reply.len && json_true(rb, re, "ok"))
        c = chan_new(ch);
    if (!c) {
        size_t ml = 0;
        const char *msg = reply.len ? json_get(rb, re, "message", &ml) : NULL;
        if (timed_out)
            exec_error(ch, "\"the runtime did not finish within 60s\"", 39);
        else
            exec_error(ch, msg, ml);
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        buf_free(&reply);
        return;
    }
    c->pid = (pid_t)json_int(rb, re, "pid", 0);
    if (json_true(rb, re, "tty")) {
        /* [master]: output on stream 1, stdin a second fd on it */
        c->master = c->out[0] = fds[0];
        c->in = fds[0] >= 0 ? fcntl(fds[0], F_DUPFD_CLOEXEC, 0) : -1;
    } else {
        /* [stdout, stderr, stdin?] */
        c->out[0] = fds[0];
        c->out[1] = fds[1];
        c->in = fds[2];
    }
    for (int i = 0; i < 2; i++)
        if (c->out[i] >= 0)
            fcntl(c->out[i], F_SETFL, fcntl(c->out[i], F_GETFL) | O_NONBLOCK);
    if (c->in >= 0)
        fcntl(c->in, F_SETFL, fcntl(c->in, F_GETFL) | O_NONBLOCK);
    buf_t j = {0};
    buf_fmt(&j, "{\"event\": \"exec-started\", \"ch\": %u, \"pid\": %d}", ch, (int)c->pid);
    send_ctrl(&j);
    buf_free(&j);
    buf_free(&reply);
}

static void on_ctrl(const char *p, size_t n) {
    const char *e = p + n;
    if (json_is(p, e, "op", "exec")) {
        do_exec((uint32_t)json_int(p, e, "ch", 0), p, n);
    } else if (json_is(p, e, "op", "resize")) {
        chan_t *c = chan_get((uint32_t)json_int(p, e, "ch", 0));
        if (c && c->master >= 0)
            winsize(c->master, json_int(p, e, "h", 0), json_int(p, e, "w", 0));
    }
    /* "start" and "abort" only mean something before the handoff */
}

static void read_ctl(void) {
    char tmp[READ_CHUNK];
    ssize_t n = recv(ctl, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        drop_ctl();
        return;
    }
    buf_add(&parser, tmp, (size_t)n);
    size_t off = 0;
    while (ctl >= 0 && parser.len - off >= 10) {
        unsigned char *h = (unsigned char *)parser.p + off;
        uint32_t ch = (uint32_t)h[2] << 24 | (uint32_t)h[3] << 16 | (uint32_t)h[4] << 8 | h[5];
        uint32_t len = (uint32_t)h[6] << 24 | (uint32_t)h[7] << 16 | (uint32_t)h[8] << 8 | h[9];
        if (len > MAX_FRAME) {
            log_err("frame of %u bytes from the daemon: dropping the connection", len);
            drop_ctl();
            return;
        }
        if (parser.len - off < 10 + (size_t)len)
            break;
        const char *payload = parser.p + off + 10;
        int kind = h[0];
        off += 10 + len;
        if (kind == 0)
            on_stdin(ch, payload, len);
        else
            on_ctrl(payload, len);
    }
    if (ctl >= 0) {
        buf_drop(&parser, off);
        buf_trim(&parser);
    }
}

/* ---- output, exits ----------------------------------------------------- */

static void read_out(chan_t *c, int i) {
    static char tmp[READ_CHUNK];
    int fd = c->out[i];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) { /* EOF, or EIO: the pty's last slave closed */
        if (fd != c->master)
            close(fd);
        c->out[i] = -1;
        return;
    }
    int stream = c->out_stream[i];
    if (c->ch == 0)
        jlog_write(&jlog, stream - 1, tmp, (size_t)n);
    send_frame(0, stream, c->ch, tmp, (size_t)n);
}

static void reap(void) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        for (int i = 0; i < MAX_CHANS; i++) {
            chan_t *c = &chans[i];
            if (c->used && !c->done && c->pid == pid) {
                c->done = 1;
                c->code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
                c->deadline = now_ms() + (c->ch == 0 ? INIT_DRAIN_MS : EXEC_DRAIN_MS);
                break;
            }
        } /* otherwise an orphan of the container, reparented to us */
    }
}

static void write_exit_file(buf_t *record) {
    buf_t path = {0}, tmp = {0};
    buf_fmt(&path, "%s/exit.json", run_dir);
    buf_add(&path, "", 1);
    buf_fmt(&tmp, "%s.tmp", path.p);
    buf_add(&tmp, "", 1);
    int fd = open(tmp.p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_err("open %s: errno %d", tmp.p, errno);
    } else {
        write_all(fd, record->p, record->len);
        fsync(fd);
        close(fd);
        if (rename(tmp.p, path.p) != 0)
            log_err("rename %s: errno %d", tmp.p, errno);
    }
    buf_free(&path);
    buf_free(&tmp);
}

static void finish(chan_t *c) {
    for (int i = 0; i < 2; i++)
        if (c->out[i] >= 0 && c->out[i] != c->master)
            close(c->out[i]);
    if (c->in >= 0)
        close(c->in);
    if (c->master >= 0)
        close(c->master);
    buf_free(&c->pending);
    c->used = 0;
    buf_t j = {0};
    if (c->ch != 0) {
        buf_fmt(&j, "{\"event\": \"exit\", \"ch\": %u, \"code\": %d}", c->ch, c->code);
        send_ctrl(&j);
        buf_free(&j);
        return;
    }
    jlog_close(&jlog);
    char ts[40];
    rfc3339nano(ts);
    buf_t rec = {0};
    buf_fmt(&rec, "{\"ExitCode\": %d, \"FinishedAt\": \"%s\", \"Pid\": %d}", c->code, ts,
            (int)c->pid);
    write_exit_file(&rec);
    buf_fmt(&j, "{\"event\": \"exit\", \"ch\": 0, \"ExitCode\": %d, \"FinishedAt\": \"%s\", "
                "\"Pid\": %d}", c->code, ts, (int)c->pid);
    send_ctrl(&j);
    buf_free(&j);
    buf_free(&rec);
}

/* ---- the loop ---------------------------------------------------------- */

enum { W_LISTEN, W_CTL, W_SIG, W_OUT0, W_OUT1, W_IN };

static void loop(void) {
    struct pollfd pfd[2 * MAX_CHANS + 8];
    int what[2 * MAX_CHANS + 8];
    uint32_t owner[2 * MAX_CHANS + 8];
    while (chan_get(0)) {
        int n = 0;
        int64_t now = now_ms(), timeout = -1;
#define WATCH(fd_, ev_, w_, ch_) \
    do { pfd[n].fd = (fd_); pfd[n].events = (ev_); pfd[n].revents = 0; \
         what[n] = (w_); owner[n] = (ch_); n++; } while (0)
        if (listener >= 0)
            WATCH(listener, POLLIN, W_LISTEN, 0);
        if (ctl >= 0)
            WATCH(ctl, POLLIN, W_CTL, 0);
        WATCH(sigfd, POLLIN, W_SIG, 0);
        for (int i = 0; i < MAX_CHANS; i++) {
            chan_t *c = &chans[i];
            if (!c->used)
                continue;
            if (c->out[0] >= 0)
                WATCH(c->out[0], POLLIN, W_OUT0, c->ch);
            if (c->out[1] >= 0)
                WATCH(c->out[1], POLLIN, W_OUT1, c->ch);
            if (c->in >= 0 && c->pending.len)
                WATCH(c->in, POLLOUT, W_IN, c->ch);
            if (c->done) {
                int64_t t = c->deadline - now;
                t = t < 0 ? 0 : t;
                timeout = timeout < 0 || t < timeout ? t : timeout;
            }
        }
#undef WATCH
        int r = poll(pfd, (nfds_t)n, (int)timeout);
        if (r < 0 && errno != EINTR) {
            log_err("poll: errno %d", errno);
            sleep(1);
        }
        for (int k = 0; r > 0 && k < n; k++) {
            if (!pfd[k].revents)
                continue;
            chan_t *c = what[k] >= W_OUT0 ? chan_get(owner[k]) : NULL;
            switch (what[k]) {
            case W_LISTEN:
                do_accept();
                break;
            case W_CTL:
                if (ctl == pfd[k].fd)
                    read_ctl();
                break;
            case W_SIG: {
                struct signalfd_siginfo si;
                while (read(sigfd, &si, sizeof si) > 0)
                    ;
                reap();
                break;
            }
            case W_OUT0:
            case W_OUT1: {
                int i = what[k] - W_OUT0;
                if (c && c->out[i] == pfd[k].fd)
                    read_out(c, i);
                break;
            }
            case W_IN:
                if (c && c->in == pfd[k].fd)
                    flush_in(c);
                break;
            }
        }
        now = now_ms();
        for (int i = 0; i < MAX_CHANS; i++) {
            chan_t *c = &chans[i];
            if (c->used && c->done && (!chan_outs(c) || now >= c->deadline))
                finish(c);
        }
    }
    /* The init is gone: execs died with its pid namespace. */
    for (int i = 0; i < MAX_CHANS; i++) {
        chan_t *c = &chans[i];
        if (c->used) {
            if (!c->done)
                c->code = 137;
            finish(c);
        }
    }
}

/* ---- start-up ---------------------------------------------------------- */

static const char *arg(int argc, char **argv, const char *key, const char *dflt) {
    size_t kl = strlen(key);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], key, kl) == 0 && argv[i][kl] == '=')
            return argv[i] + kl + 1;
    return dflt;
}

static int argi(int argc, char **argv, const char *key, int dflt) {
    const char *v = arg(argc, argv, key, NULL);
    return v && *v ? (int)strtol(v, NULL, 10) : dflt;
}

static long long argll(int argc, char **argv, const char *key, long long dflt) {
    const char *v = arg(argc, argv, key, NULL);
    return v && *v ? strtoll(v, NULL, 10) : dflt;
}

static int read_full(int fd, char *p, size_t n) {
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        p += r;
        n -= (size_t)r;
    }
    return 1;
}

static int log_test(int argc, char **argv) {
    if (argc != 5) {
        log_err("usage: dockyard-shim --log-test PATH MAXSIZE MAXFILE < records");
        return 2;
    }
    jlog.path = argv[2];
    jlog.max_size = strtoll(argv[3], NULL, 10);
    jlog.max_file = atoi(argv[4]) < 1 ? 1 : atoi(argv[4]);
    jlog.fd = open(jlog.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (jlog.fd < 0) {
        log_err("open %s: errno %d", jlog.path, errno);
        return 1;
    }
    jlog.size = lseek(jlog.fd, 0, SEEK_END);
    unsigned char h[5];
    buf_t data = {0};
    while (read_full(0, (char *)h, 5)) {
        size_t len = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];
        data.len = 0;
        buf_reserve(&data, len);
        if (!read_full(0, data.p, len))
            break;
        jlog_write(&jlog, h[0] == 2 ? 1 : 0, data.p, len);
    }
    jlog_close(&jlog);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--log-test") == 0)
        return log_test(argc, argv);
    if (argc < 2) {
        log_err("started by the dockyard supervisor only");
        return 2;
    }
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    prctl(PR_SET_NAME, "dy-supervisor");
    run_dir = arg(argc, argv, "rundir", ".");
    python = arg(argc, argv, "python", "/usr/bin/python3");
    runtime_root = arg(argc, argv, "runtime", "");
    cid = arg(argc, argv, "id", "");
    helper = arg(argc, argv, "helper", "");
    pyflags = arg(argc, argv, "pyflags", "");

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    signal(SIGPIPE, SIG_IGN);

    ctl = argi(argc, argv, "ctl", -1);
    listener = argi(argc, argv, "listen", -1);
    if (ctl >= 0)
        sock_setup(ctl);
    if (listener >= 0) {
        int fl = fcntl(listener, F_GETFL);
        fcntl(listener, F_SETFL, fl | O_NONBLOCK);
        fcntl(listener, F_SETFD, FD_CLOEXEC);
    }
    if (ctl >= 0) /* a partial frame only means something on its own connection */
        unhex(&parser, arg(argc, argv, "parser", ""));

    chan_t *c = chan_new(0);
    c->pid = argi(argc, argv, "init", 0);
    c->master = argi(argc, argv, "master", -1);
    c->out[0] = argi(argc, argv, "out1", -1);
    c->out[1] = argi(argc, argv, "out2", -1);
    c->in = argi(argc, argv, "stdin", -1);
    c->close_in = argi(argc, argv, "closestdin", 0);
    unhex(&c->pending, arg(argc, argv, "pending", ""));
    int fds[] = {c->master, c->out[0], c->out[1], c->in};
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0)
            fcntl(fds[i], F_SETFD, FD_CLOEXEC);

    jlog.fd = argi(argc, argv, "log", -1);
    jlog.path = arg(argc, argv, "logpath", "");
    jlog.size = argll(argc, argv, "logsize", 0);
    jlog.max_size = argll(argc, argv, "maxsize", -1);
    jlog.max_file = argi(argc, argv, "maxfile", 1);
    if (jlog.max_file < 1)
        jlog.max_file = 1;
    if (jlog.fd >= 0)
        fcntl(jlog.fd, F_SETFD, FD_CLOEXEC);
    unhex(&jlog.partial[0], arg(argc, argv, "part1", ""));
    unhex(&jlog.partial[1], arg(argc, argv, "part2", ""));

    /* A partial frame the Python supervisor had read stays in parser;
     * stdin it had not written yet is in pending. */
    log_err("took over from the Python supervisor (init pid %d)", (int)c->pid);
    flush_in(c);
    reap(); /* the init may have exited during the handoff */
    loop();
    return 0;
}
