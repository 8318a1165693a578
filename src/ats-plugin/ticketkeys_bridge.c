/*
 * ticketkeys_bridge: installs TLS session-ticket key rings pushed by the ticket-key-operator
 * agent into a running traffic_server (ATS 9.2), and serves session-cache operations.
 *
 * Messages (TS_LIFECYCLE_MSG_HOOK, sent by the agent over traffic_manager's mgmtapi.sock):
 *   tag "ticketkeys.ring":  binary frame
 *     0..3   "TKR1"
 *     4      version = 1
 *     5      flags: bit0 = revoke: the ring replaces every key after an incident (logged at
 *                   warning; the sender flushes session caches). It grants nothing else: a
 *                   revoke ring needs a newer generation like any ring.
 *                   bit1 = reassert: the agent puts its accepted ring back over another ring
 *                   ATS holds at the SAME generation. Equal generation only, never lower.
 *     6..7   reserved, must be 0
 *     8..15  generation, uint64 big-endian, 1..INT64_MAX (published as an int64 stat)
 *     16..   N x 48 key bytes (name[16] | hmac[16] | aes[16]), N in 1..16, keys[0] encrypts
 *   tag "ticketkeys.cache": ASCII "flush" or "remove <hex session id>"
 *
 * Rejected ring messages (bad framing, empty ring, length not a multiple of 48, more than 16
 * keys, generation 0, a generation not newer than the installed one (equal only with
 * reassert), duplicate key names) never reach TSSslTicketKeyUpdate: an empty buffer there
 * would install a random key. No flag ever lets a generation go backwards: whoever can send
 * a message (any process in the pod) can take a generation forward, never roll it back.
 *
 * Read-back goes through plugin stats (messages are one-way), all int64, non-persistent:
 *   plugin.ticketkeys.generation         installed generation, 0 = none since start
 *   plugin.ticketkeys.key_count
 *   plugin.ticketkeys.ring_fingerprint   63-bit: SHA-256("ticketkeys.dev/ring/v1\0" || ring),
 *                                        first 8 bytes big-endian, top bit cleared
 *   plugin.ticketkeys.installs / rejected / reapplies
 *   plugin.ticketkeys.cache.tracked / removed / flushes / overflows
 *   plugin.ticketkeys.cache.hits         session-id lookups (TS_EVENT_SSL_SESSION_GET) that found
 *                                        the id in ATS's cache at lookup time
 *   plugin.ticketkeys.loaded_at          epoch seconds: tells this process's stats from stale
 *                                        ones traffic_manager kept from before a restart
 *   plugin.ticketkeys.mlock_failed       1 when the key store could not be mlock'd (it may be
 *                                        swapped out; RLIMIT_MEMLOCK / IPC_LOCK), else 0
 *
 *   plugin.ticketkeys.acks_sent          ack records written to the ack FIFO (below)
 *   plugin.ticketkeys.acks_dropped       ack records not written: no reader (ENXIO), FIFO full
 *                                        (EAGAIN), path missing or not a FIFO, short write
 *
 * Ack channel (optional; plugin.config: `ticketkeys_bridge.so --ack-fifo=/abs/path`): after each
 * ring install or rejection and each cache flush the plugin writes ONE newline-terminated ASCII
 * record (< PIPE_BUF, so the write is atomic) to the FIFO the agent created and reads, opened
 * O_WRONLY|O_NONBLOCK|O_NOFOLLOW per record: no reader, a full pipe or anything but a FIFO at the
 * path drops the record (counted in acks_dropped); an ATS thread never blocks on it.
 *   tka1 seq=N kind=ring result=installed gen=G keys=K fp=HEX16 installed=G loaded_at=S
 *   tka1 seq=N kind=ring result=rejected reason=TOKEN gen=G keys=K fp=HEX16 installed=G loaded_at=S
 *   tka1 seq=N kind=flush flushes=F loaded_at=S
 * fp is the ring fingerprint (as the stat, 16 hex digits) of the frame's ring bytes; keys and fp
 * are 0 when the frame holds no whole ring; installed is the generation the plugin holds after
 * the event; loaded_at as the stat. No key bytes. The stats stay the truth the agent re-checks.
 *
 * Session sharing (optional; plugin.config `--session-fifo=/abs/path`, see "session sharing"
 * below): new TLS 1.2 sessions are written to that FIFO in binary messages (SESSION_EXPORT_MAGIC),
 * and sessions another pod made arrive as tag "ticketkeys.sessions" messages, or as binary
 * messages through the FIFO of `--session-import-fifo=/abs/path` (no relay through traffic_manager),
 * and are inserted after validation. Stats plugin.ticketkeys.sessions.exported / export_uncached / export_dropped /
 * export_no_reader / imported / import_rejected. A cache flush also refuses, from then on,
 * received sessions created before it.
 * Any other plugin.config argument (or a relative path) keeps the plugin from loading, logged in
 * diags.log: a typo fails visibly (the agent reports ATS unavailable) rather than silently.
 *
 * After `traffic_ctl config reload` the ring is re-applied at once and then every 250 ms for
 * 30 s, so a ticket_key.filename loaded by ATS's key loader is overridden again.
 *
 * Tags, the frame layout, limits, stat names, reject reasons and the ack tag come from
 * ticketkeys_contract.h, generated from src/contract/plugin-wire.ts (the module the agent imports).
 *
 * Key bytes never reach a log line. The plugin's copy lives in an mmap'd region marked
 * MADV_DONTDUMP (and mlock'd when allowed); replaced copies and the message payload are zeroed.
 */
#define _GNU_SOURCE /* memmem */
#include <ts/ts.h>
#include <ts/experimental.h> /* TSMgmtConfigIntSet, see "stats flush" */

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Tags, frame layout, limits, stat names, reject reasons, ack format: generated from
 * src/contract/plugin-wire.ts, the module the agent imports. */
#include "ticketkeys_contract.h"

#define PLUGIN_NAME "ticketkeys_bridge"
#define DEBUG_TAG "ticketkeys"

#define FRAME_FLAGS_KNOWN (FRAME_FLAG_REVOKE | FRAME_FLAG_REASSERT)
#define MAX_RING_LEN (KEY_LEN * MAX_KEYS)

/* Re-apply after a config reload: ATS's ticket-key loader runs seconds after the reload
 * event (records sync intervals), so one immediate re-apply is not enough when a key file is
 * configured. Re-apply immediately, then every REAPPLY_TICK_MS until REAPPLY_WINDOW_MS.
 * 9.2's loader waits for traffic_manager's record push (every 5 s) and traffic_server's config
 * update tick (every 3 s): 3-8 s measured idle, 12.7 s on a loaded host, when a 12 s window
 * left the file's keys live until the next push. */
#define REAPPLY_TICK_MS 250
#define REAPPLY_WINDOW_MS 30000

/* Session-id tracker: set-associative table, fixed size, O(1) work under its lock.
 * ATS evicts sessions from its own cache without telling plugins, so entries also expire
 * after the session-cache timeout; on overflow the oldest entry of a bucket is replaced. */
#define SID_WAYS 8
#define SID_BUCKETS 8192 /* 65536 entries */

static const char RING_DOMAIN[] = RING_FINGERPRINT_DOMAIN; /* + its NUL, see core/fingerprint.ts */

/* ------------------------------------------------------------------ stats */

enum {
  STAT_GENERATION,
  STAT_KEY_COUNT,
  STAT_RING_FINGERPRINT,
  STAT_INSTALLS,
  STAT_REJECTED,
  STAT_REAPPLIES,
  STAT_CACHE_TRACKED,
  STAT_CACHE_REMOVED,
  STAT_CACHE_FLUSHES,
  STAT_CACHE_OVERFLOWS,
  STAT_LOADED_AT,
  STAT_MLOCK_FAILED,
  STAT_CACHE_HITS,
  STAT_ACKS_SENT,
  STAT_ACKS_DROPPED,
  STAT_SESSIONS_EXPORTED,
  STAT_SESSIONS_EXPORT_UNCACHED,
  STAT_SESSIONS_EXPORT_DROPPED,
  STAT_SESSIONS_EXPORT_NO_READER,
  STAT_SESSIONS_IMPORTED,
  STAT_SESSIONS_IMPORT_REJECTED,
  STAT_COUNT
};

static const char *const STAT_NAMES[STAT_COUNT] = {
  [STAT_GENERATION] = STAT_NAME_GENERATION,           [STAT_KEY_COUNT] = STAT_NAME_KEY_COUNT,
  [STAT_RING_FINGERPRINT] = STAT_NAME_RING_FINGERPRINT, [STAT_INSTALLS] = STAT_NAME_INSTALLS,
  [STAT_REJECTED] = STAT_NAME_REJECTED,               [STAT_REAPPLIES] = STAT_NAME_REAPPLIES,
  [STAT_CACHE_TRACKED] = STAT_NAME_CACHE_TRACKED,     [STAT_CACHE_REMOVED] = STAT_NAME_CACHE_REMOVED,
  [STAT_CACHE_FLUSHES] = STAT_NAME_CACHE_FLUSHES,     [STAT_CACHE_OVERFLOWS] = STAT_NAME_CACHE_OVERFLOWS,
  [STAT_LOADED_AT] = STAT_NAME_LOADED_AT,             [STAT_MLOCK_FAILED] = STAT_NAME_MLOCK_FAILED,
  [STAT_CACHE_HITS] = STAT_NAME_CACHE_HITS,           [STAT_ACKS_SENT] = STAT_NAME_ACKS_SENT,
  [STAT_ACKS_DROPPED] = STAT_NAME_ACKS_DROPPED,
  [STAT_SESSIONS_EXPORTED] = STAT_NAME_SESSIONS_EXPORTED,
  [STAT_SESSIONS_EXPORT_UNCACHED] = STAT_NAME_SESSIONS_EXPORT_UNCACHED,
  [STAT_SESSIONS_EXPORT_DROPPED] = STAT_NAME_SESSIONS_EXPORT_DROPPED,
  [STAT_SESSIONS_EXPORT_NO_READER] = STAT_NAME_SESSIONS_EXPORT_NO_READER,
  [STAT_SESSIONS_IMPORTED] = STAT_NAME_SESSIONS_IMPORTED,
  [STAT_SESSIONS_IMPORT_REJECTED] = STAT_NAME_SESSIONS_IMPORT_REJECTED,
};

static int stat_ids[STAT_COUNT];

/* Every stat is set (never incremented through ATS) from plugin-side counters, so the
 * TS_STAT_SYNC_SUM value ATS publishes is exactly what we set. */
static void
stat_set(int which, int64_t value)
{
  TSStatIntSet(stat_ids[which], value);
}

static int
stats_create(void)
{
  for (int i = 0; i < STAT_COUNT; ++i) {
    int id;
    if (TSStatFindName(STAT_NAMES[i], &id) == TS_SUCCESS) {
      stat_ids[i] = id;
    } else {
      id = TSStatCreate(STAT_NAMES[i], TS_RECORDDATATYPE_INT, TS_STAT_NON_PERSISTENT, TS_STAT_SYNC_SUM);
      if (id == TS_ERROR) {
        TSError("[%s] cannot create stat %s", PLUGIN_NAME, STAT_NAMES[i]);
        return -1;
      }
      stat_ids[i] = id;
    }
    stat_set(i, 0);
  }
  return 0;
}

/* ------------------------------------------------------------------ stats flush */

/* traffic_server hands its stats to traffic_manager (where RECORD_GET and traffic_ctl read them)
 * through a queue that its manager thread drains only after a 1 s idle poll, which every
 * message from traffic_manager restarts (ProcessManager::signalManager does not wake it for
 * stats). Measured read-back of a push: 1-8 s. A plugin "set config" signal does wake it, so
 * once the stats sync timers have queued our new values we send one that changes nothing: the
 * current value of a start-up-only record. Read-back then takes about the two sync intervals. */
#define WAKE_RECORD "proxy.config.raw_stat_sync_interval_ms"
#define WAKE_TICK_MS 50
#define WAKE_MAX_LAG_MS 2000 /* slower syncs: the 1 s idle poll flushes first anyway */

static int64_t stats_lag_ms;        /* raw + remote sync intervals */
static int64_t wake_due_ms[2];      /* monotonic ms, 0 = none; atomics */

static int64_t monotonic_ms(void);

static void
request_stats_flush(void)
{
  if (stats_lag_ms <= 0) {
    return;
  }
  int64_t now = monotonic_ms();
  /* Twice: timers drift, and a sync can run just before our stat update. */
  __atomic_store_n(&wake_due_ms[0], now + stats_lag_ms + WAKE_TICK_MS, __ATOMIC_RELAXED);
  __atomic_store_n(&wake_due_ms[1], now + 2 * stats_lag_ms + 2 * WAKE_TICK_MS, __ATOMIC_RELAXED);
}

static int
on_wake_tick(TSCont contp, TSEvent event, void *edata)
{
  int64_t now = monotonic_ms();
  for (int i = 0; i < 2; ++i) {
    int64_t due = __atomic_load_n(&wake_due_ms[i], __ATOMIC_RELAXED);
    if (due != 0 && now >= due && __atomic_compare_exchange_n(&wake_due_ms[i], &due, 0, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
      TSMgmtInt v;
      if (TSMgmtIntGet(WAKE_RECORD, &v) == TS_SUCCESS) {
        TSMgmtConfigIntSet(WAKE_RECORD, v);
      }
    }
  }
  return 0;
}

static void
start_stats_flusher(void)
{
  TSMgmtInt raw = 0, remote = 0;
  if (TSMgmtIntGet("proxy.config.raw_stat_sync_interval_ms", &raw) != TS_SUCCESS ||
      TSMgmtIntGet("proxy.config.remote_sync_interval_ms", &remote) != TS_SUCCESS || raw <= 0 || remote <= 0 ||
      raw + remote > WAKE_MAX_LAG_MS) {
    return;
  }
  stats_lag_ms = raw + remote;
  TSContScheduleEveryOnPool(TSContCreate(on_wake_tick, TSMutexCreate()), WAKE_TICK_MS, TS_THREAD_POOL_TASK);
}

/* ------------------------------------------------------------------ ack channel */

/* ACK_LINE_MAX (the contract) < PIPE_BUF (4096): one write is atomic. */
#if ACK_LINE_MAX >= PIPE_BUF
#error "ACK_LINE_MAX must stay below PIPE_BUF"
#endif

static char ack_fifo_path[PATH_MAX]; /* "" = no ack channel */
static char session_fifo_path[PATH_MAX]; /* "" = no session export */
static char session_import_fifo_path[PATH_MAX]; /* "" = imports only as lifecycle messages */
static int64_t plugin_loaded_at;
static int64_t ack_seq, count_acks_sent, count_acks_dropped; /* atomics */

static void
ack_count(int sent)
{
  if (sent) {
    stat_set(STAT_ACKS_SENT, __atomic_add_fetch(&count_acks_sent, 1, __ATOMIC_RELAXED));
  } else {
    stat_set(STAT_ACKS_DROPPED, __atomic_add_fetch(&count_acks_dropped, 1, __ATOMIC_RELAXED));
  }
}

/* One record, never blocking: O_NONBLOCK open (ENXIO without a reader), O_NOFOLLOW, FIFO only
 * (a regular file or device at the path is not written), one write of the whole line (EAGAIN
 * when the pipe is full). SIGPIPE (the reader closing between open and write): traffic_server
 * 9.2 ignores it (SigIgn, measured), and it is blocked for this thread around the write and
 * consumed anyway, so it cannot kill traffic_server whatever the host process does. */
static void
ack_write(const char *line, size_t len)
{
  if (ack_fifo_path[0] == '\0') {
    return;
  }
  int fd = open(ack_fifo_path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    ack_count(0);
    return;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
    close(fd);
    ack_count(0);
    return;
  }
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  ssize_t n = write(fd, line, len);
  int write_errno = errno;
  if (n < 0 && write_errno == EPIPE) {
    struct timespec zero = {0, 0};
    sigtimedwait(&pipe_set, NULL, &zero); /* the SIGPIPE our write raised */
  }
  pthread_sigmask(SIG_SETMASK, &old_set, NULL);
  close(fd);
  ack_count(n == (ssize_t)len);
}

static int64_t ring_fingerprint(const unsigned char *ring, size_t len);

/* reason: NULL for an install, else a reject token ([a-z_]+). Called with ring_lock held. */
static void
ack_ring(const char *reason, uint64_t generation, const unsigned char *data, size_t size, uint64_t installed)
{
  if (ack_fifo_path[0] == '\0') {
    return;
  }
  size_t ring_len = size > FRAME_HEADER_LEN ? size - FRAME_HEADER_LEN : 0;
  int64_t fp      = (ring_len > 0 && ring_len <= MAX_RING_LEN) ? ring_fingerprint(data + FRAME_HEADER_LEN, ring_len) : 0;
  size_t keys     = (ring_len % KEY_LEN == 0 && ring_len <= MAX_RING_LEN) ? ring_len / KEY_LEN : 0;
  char line[ACK_LINE_MAX];
  int n = snprintf(line, sizeof(line),
                   ACK_RECORD_TAG " seq=%" PRId64 " kind=ring result=%s%s%s gen=%" PRIu64 " keys=%zu fp=%016" PRIx64 " installed=%" PRIu64
                   " loaded_at=%" PRId64 "\n",
                   __atomic_add_fetch(&ack_seq, 1, __ATOMIC_RELAXED), reason ? "rejected" : "installed", reason ? " reason=" : "",
                   reason ? reason : "", generation > (uint64_t)INT64_MAX ? (uint64_t)0 : generation, keys, (uint64_t)fp, installed,
                   plugin_loaded_at);
  if (n > 0 && (size_t)n < sizeof(line)) {
    ack_write(line, (size_t)n);
  }
}

static void
ack_flush(int64_t flushes)
{
  if (ack_fifo_path[0] == '\0') {
    return;
  }
  char line[ACK_LINE_MAX];
  int n = snprintf(line, sizeof(line), ACK_RECORD_TAG " seq=%" PRId64 " kind=flush flushes=%" PRId64 " loaded_at=%" PRId64 "\n",
                   __atomic_add_fetch(&ack_seq, 1, __ATOMIC_RELAXED), flushes, plugin_loaded_at);
  if (n > 0 && (size_t)n < sizeof(line)) {
    ack_write(line, (size_t)n);
  }
}

/* `<option><absolute path>` into out; -1 (logged) when the path is relative or too long. */
static int
parse_path_arg(const char *arg, const char *option, char *out, size_t out_size)
{
  const char *path = arg + strlen(option);
  if (path[0] != '/' || strlen(path) >= out_size) {
    TSError("[%s] %s needs an absolute path shorter than %d bytes", PLUGIN_NAME, option, (int)out_size);
    return -1;
  }
  strcpy(out, path);
  return 0;
}

/* plugin.config arguments: `--ack-fifo=/absolute/path`, `--session-fifo=/absolute/path`,
 * `--session-import-fifo=/absolute/path`; anything else is refused (logged). */
static int
parse_args(int argc, const char *argv[])
{
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (strncmp(a, ACK_OPT, strlen(ACK_OPT)) == 0) {
      if (parse_path_arg(a, ACK_OPT, ack_fifo_path, sizeof(ack_fifo_path)) != 0) {
        return -1;
      }
    } else if (strncmp(a, SESSION_OPT, strlen(SESSION_OPT)) == 0) {
      if (parse_path_arg(a, SESSION_OPT, session_fifo_path, sizeof(session_fifo_path)) != 0) {
        return -1;
      }
    } else if (strncmp(a, SESSION_IMPORT_OPT, strlen(SESSION_IMPORT_OPT)) == 0) {
      if (parse_path_arg(a, SESSION_IMPORT_OPT, session_import_fifo_path, sizeof(session_import_fifo_path)) != 0) {
        return -1;
      }
    } else {
      TSError("[%s] unknown argument %s (known: %s<path>, %s<path>, %s<path>)", PLUGIN_NAME, a, ACK_OPT, SESSION_OPT,
              SESSION_IMPORT_OPT);
      return -1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ the installed ring */

typedef struct {
  size_t len; /* bytes, multiple of KEY_LEN; 0 = empty */
  unsigned char bytes[MAX_RING_LEN];
} ring_slot;

/* Two slots in one protected mapping: a new ring is written into the spare slot, handed to
 * ATS, and only then does the old one get zeroed. */
typedef struct {
  ring_slot slot[2];
} ring_store;

static ring_store *store;
static size_t store_map_len;
static int active_slot = -1; /* -1: nothing installed since traffic_server started */
static int store_mlock_failed;  /* published as plugin.ticketkeys.mlock_failed */
static uint64_t installed_generation;
static int64_t count_installs, count_rejected, count_reapplies;
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;

static int
store_create(void)
{
  long page     = sysconf(_SC_PAGESIZE);
  store_map_len = (sizeof(ring_store) + (size_t)page - 1) & ~((size_t)page - 1);
  void *p       = mmap(NULL, store_map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    TSError("[%s] mmap of the key store failed", PLUGIN_NAME);
    return -1;
  }
  /* Keys must not end up in core files. Refuse to run without that guarantee. */
  if (madvise(p, store_map_len, MADV_DONTDUMP) != 0) {
    TSError("[%s] madvise(MADV_DONTDUMP) failed; refusing to hold keys", PLUGIN_NAME);
    munmap(p, store_map_len);
    return -1;
  }
  /* Keep keys out of swap when the limit allows; not fatal (RLIMIT_MEMLOCK may be 0), but
   * visible: a warning once, and the mlock_failed stat the agent exports as a metric. */
  if (mlock(p, store_map_len) != 0) {
    store_mlock_failed = 1;
    TSWarning("[%s] mlock of the key store failed (RLIMIT_MEMLOCK too low?): keys may be swapped out", PLUGIN_NAME);
  }
  store = p;
  return 0;
}

static int64_t
ring_fingerprint(const unsigned char *ring, size_t len)
{
  unsigned char buf[sizeof(RING_DOMAIN) + MAX_RING_LEN];
  unsigned char digest[SHA256_DIGEST_LENGTH];
  uint64_t v = 0;

  memcpy(buf, RING_DOMAIN, sizeof(RING_DOMAIN)); /* includes the terminating NUL */
  memcpy(buf + sizeof(RING_DOMAIN), ring, len);
  SHA256(buf, sizeof(RING_DOMAIN) + len, digest);
  OPENSSL_cleanse(buf, sizeof(buf)); /* a stack copy of the keys */
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | digest[i];
  }
  return (int64_t)(v & 0x7fffffffffffffffULL);
}

static uint64_t
read_be64(const unsigned char *p)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | p[i];
  }
  return v;
}

/* Returns NULL when the frame is acceptable, else a reason (no key bytes in it).
 * Called with ring_lock held (reads installed_generation). */
static const char *
validate_frame(const unsigned char *data, size_t size, uint64_t *generation, int *revoke, int *reassert)
{
  if (data == NULL || size < FRAME_HEADER_LEN) {
    return REJECT_SHORT_FRAME;
  }
  if (memcmp(data, FRAME_MAGIC, FRAME_MAGIC_LEN) != 0) {
    return REJECT_BAD_MAGIC;
  }
  if (data[4] != FRAME_VERSION) {
    return REJECT_BAD_VERSION;
  }
  if ((data[5] & ~FRAME_FLAGS_KNOWN) != 0) {
    return REJECT_UNKNOWN_FLAGS;
  }
  if (data[6] != 0 || data[7] != 0) {
    return REJECT_RESERVED_NOT_ZERO;
  }
  *generation = read_be64(data + 8);
  *revoke     = (data[5] & FRAME_FLAG_REVOKE) != 0;
  *reassert   = (data[5] & FRAME_FLAG_REASSERT) != 0;

  size_t ring_len = size - FRAME_HEADER_LEN;
  if (ring_len == 0) {
    return REJECT_EMPTY_RING; /* TSSslTicketKeyUpdate would install a random key */
  }
  if (ring_len % KEY_LEN != 0) {
    return REJECT_BAD_LENGTH;
  }
  if (ring_len / KEY_LEN > MAX_KEYS) {
    return REJECT_TOO_MANY_KEYS;
  }
  if (*generation == 0) {
    return REJECT_GENERATION_ZERO;
  }
  if (*generation > (uint64_t)INT64_MAX) {
    return REJECT_GENERATION_RANGE;
  }
  /* Revoke or not: never back. Reassert: the installed generation itself, never lower. */
  if (*generation < installed_generation || (*generation == installed_generation && !*reassert)) {
    return REJECT_STALE_GENERATION;
  }
  /* Two keys with one name: ATS would decrypt with whichever it finds first. */
  const unsigned char *ring = data + FRAME_HEADER_LEN;
  for (size_t i = 0; i < ring_len; i += KEY_LEN) {
    for (size_t j = i + KEY_LEN; j < ring_len; j += KEY_LEN) {
      if (memcmp(ring + i, ring + j, KEY_NAME_LEN) == 0) {
        return REJECT_DUPLICATE_KEY_NAME;
      }
    }
  }
  return NULL;
}

static void
publish_ring_stats_locked(void)
{
  const ring_slot *s = active_slot >= 0 ? &store->slot[active_slot] : NULL;
  /* Generation last: a reader that sees the new generation also finds the new fingerprint
   * after the next stats sync at the latest (readers compare all three anyway). */
  stat_set(STAT_RING_FINGERPRINT, s ? ring_fingerprint(s->bytes, s->len) : 0);
  stat_set(STAT_KEY_COUNT, s ? (int64_t)(s->len / KEY_LEN) : 0);
  stat_set(STAT_GENERATION, (int64_t)installed_generation);
  stat_set(STAT_INSTALLS, count_installs);
  stat_set(STAT_REJECTED, count_rejected);
  stat_set(STAT_REAPPLIES, count_reapplies);
}

/* The ack channel's token for a validate_frame reason. */
static const char *
reason_token(const char *reason)
{
  static const char *const map[][2] = {REJECT_TOKEN_TABLE};
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); ++i) {
    if (strcmp(reason, map[i][0]) == 0) {
      return map[i][1];
    }
  }
  return REJECT_TOKEN_OTHER;
}

static void
reject_locked(const char *reason, uint64_t generation, const unsigned char *data, size_t size)
{
  ++count_rejected;
  stat_set(STAT_REJECTED, count_rejected);
  request_stats_flush();
  TSError("[%s] rejected ring: %s (generation %" PRIu64 ", %zu bytes, installed generation %" PRIu64 ")", PLUGIN_NAME, reason,
          generation, size, installed_generation);
  ack_ring(reason_token(reason), generation, data, size, installed_generation);
}

static void
handle_ring_message(const unsigned char *data, size_t size)
{
  uint64_t generation = 0;
  int revoke          = 0;
  int reassert        = 0;

  pthread_mutex_lock(&ring_lock);
  const char *reason = validate_frame(data, size, &generation, &revoke, &reassert);
  if (reason != NULL) {
    reject_locked(reason, generation, data, size);
    pthread_mutex_unlock(&ring_lock);
    return;
  }

  int spare_index = active_slot == 0 ? 1 : 0;
  ring_slot *spare = &store->slot[spare_index];
  spare->len       = size - FRAME_HEADER_LEN;
  memcpy(spare->bytes, data + FRAME_HEADER_LEN, spare->len);

  /* ATS copies the buffer and swaps its key config atomically. */
  if (TSSslTicketKeyUpdate((char *)spare->bytes, (int)spare->len) != TS_SUCCESS) {
    OPENSSL_cleanse(spare, sizeof(*spare));
    reject_locked(REJECT_UPDATE_FAILED, generation, data, size);
    pthread_mutex_unlock(&ring_lock);
    return;
  }

  if (active_slot >= 0) {
    OPENSSL_cleanse(&store->slot[active_slot], sizeof(ring_slot));
  }
  active_slot          = spare_index;
  installed_generation = generation;
  ++count_installs;
  publish_ring_stats_locked();
  request_stats_flush();
  ack_ring(NULL, generation, data, size, installed_generation);
  if (revoke) {
    /* An incident: every earlier key is gone from ATS now. Worth a line in diags.log. */
    TSWarning("[%s] revoke: installed generation %" PRIu64 " with %zu keys", PLUGIN_NAME, generation, spare->len / KEY_LEN);
  } else {
    TSDebug(DEBUG_TAG, "installed generation %" PRIu64 " with %zu keys%s", generation, spare->len / KEY_LEN,
            reassert ? " (reassert)" : "");
  }
  pthread_mutex_unlock(&ring_lock);
}

/* Puts the plugin's copy back into ATS (after a reload may have replaced it). */
static void
reapply(void)
{
  pthread_mutex_lock(&ring_lock);
  if (active_slot >= 0) {
    ring_slot *s = &store->slot[active_slot];
    if (TSSslTicketKeyUpdate((char *)s->bytes, (int)s->len) == TS_SUCCESS) {
      ++count_reapplies;
      stat_set(STAT_REAPPLIES, count_reapplies);
    } else {
      TSError("[%s] re-apply of generation %" PRIu64 " failed", PLUGIN_NAME, installed_generation);
    }
  }
  pthread_mutex_unlock(&ring_lock);
}

/* ------------------------------------------------------------------ session-id tracker */

typedef struct {
  uint32_t seen;  /* monotonic seconds when tracked; 0 = empty */
  uint8_t len;
  uint8_t id[SID_MAX_LEN];
} sid_entry;

typedef struct {
  sid_entry way[SID_WAYS];
} sid_bucket;

static sid_bucket *sid_table;
static pthread_mutex_t sid_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t sid_tracked, sid_removed, sid_flushes, sid_overflows, sid_hits;
static int64_t last_flush_wall; /* epoch seconds of the last flush, 0 = none; atomic */
static uint32_t sid_ttl_seconds = 300;

static uint32_t
now_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint32_t)ts.tv_sec + 1; /* never 0: 0 marks an empty entry */
}

static uint32_t
sid_hash(const uint8_t *id, size_t len)
{
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < len; ++i) {
    h = (h ^ id[i]) * 16777619u;
  }
  return h;
}

static int
sid_live(const sid_entry *e, uint32_t now)
{
  return e->seen != 0 && now - e->seen <= sid_ttl_seconds;
}

static void
sid_publish(void)
{
  stat_set(STAT_CACHE_TRACKED, __atomic_load_n(&sid_tracked, __ATOMIC_RELAXED));
  stat_set(STAT_CACHE_REMOVED, __atomic_load_n(&sid_removed, __ATOMIC_RELAXED));
  stat_set(STAT_CACHE_FLUSHES, __atomic_load_n(&sid_flushes, __ATOMIC_RELAXED));
  stat_set(STAT_CACHE_OVERFLOWS, __atomic_load_n(&sid_overflows, __ATOMIC_RELAXED));
  stat_set(STAT_CACHE_HITS, __atomic_load_n(&sid_hits, __ATOMIC_RELAXED));
}

/* ATS 9.2 raises TS_EVENT_SSL_SESSION_GET before its own lookup and tells plugins nothing about
 * the outcome, so a hit is counted when ATS's cache holds the id at that moment (the lookup that
 * follows finds it, unless it timed out or was evicted in between). TSSslSessionGetBuffer takes
 * the bucket's shared lock only; one byte is copied (the ASN.1 header, never key material), and
 * cleansed anyway. */
static void
sid_count_lookup(const TSSslSessionID *sid)
{
  char first;
  int len = 1;
  if (sid->len == 0 || sid->len > SID_MAX_LEN) {
    return;
  }
  if (TSSslSessionGetBuffer(sid, &first, &len) > 0) {
    __atomic_add_fetch(&sid_hits, 1, __ATOMIC_RELAXED);
    sid_publish();
  }
  OPENSSL_cleanse(&first, sizeof(first));
}

/* Network thread: O(SID_WAYS) under the lock, no allocation, no I/O. */
static void
sid_track(const TSSslSessionID *sid)
{
  if (sid->len == 0 || sid->len > SID_MAX_LEN) {
    return;
  }
  uint32_t now  = now_seconds();
  sid_bucket *b = &sid_table[sid_hash((const uint8_t *)sid->bytes, sid->len) % SID_BUCKETS];
  int64_t delta = 0, overflow = 0;

  pthread_mutex_lock(&sid_lock);
  sid_entry *slot = NULL, *oldest = NULL;
  for (int i = 0; i < SID_WAYS; ++i) {
    sid_entry *e = &b->way[i];
    if (e->seen != 0 && e->len == sid->len && memcmp(e->id, sid->bytes, sid->len) == 0) {
      e->seen = now; /* already tracked */
      pthread_mutex_unlock(&sid_lock);
      return;
    }
    if (slot == NULL && !sid_live(e, now)) {
      slot = e;
    }
    if (oldest == NULL || e->seen < oldest->seen) {
      oldest = e;
    }
  }
  if (slot == NULL) {
    slot     = oldest; /* a live entry is dropped: a later flush will miss that session */
    overflow = 1;
  } else if (slot->seen == 0) {
    delta = 1;
  } /* else: an expired entry is reused, the count stays */
  slot->seen = now;
  slot->len  = (uint8_t)sid->len;
  memcpy(slot->id, sid->bytes, sid->len);
  pthread_mutex_unlock(&sid_lock);

  __atomic_add_fetch(&sid_tracked, delta, __ATOMIC_RELAXED);
  if (overflow) {
    __atomic_add_fetch(&sid_overflows, 1, __ATOMIC_RELAXED);
  }
  sid_publish();
}

/* Forgets one id; returns 1 when it was tracked. O(SID_WAYS) under the lock. */
static int
sid_forget(const uint8_t *id, size_t len)
{
  if (len == 0 || len > SID_MAX_LEN) {
    return 0;
  }
  sid_bucket *b = &sid_table[sid_hash(id, len) % SID_BUCKETS];
  int found     = 0;

  pthread_mutex_lock(&sid_lock);
  for (int i = 0; i < SID_WAYS; ++i) {
    sid_entry *e = &b->way[i];
    if (e->seen != 0 && e->len == len && memcmp(e->id, id, len) == 0) {
      memset(e, 0, sizeof(*e));
      found = 1;
      break;
    }
  }
  pthread_mutex_unlock(&sid_lock);
  if (found) {
    __atomic_sub_fetch(&sid_tracked, 1, __ATOMIC_RELAXED);
  }
  return found;
}

static void
remove_from_ats(const uint8_t *id, size_t len)
{
  TSSslSessionID sid;
  memset(&sid, 0, sizeof(sid));
  sid.len = len;
  memcpy(sid.bytes, id, len);
  if (TSSslSessionRemove(&sid) == TS_SUCCESS) {
    __atomic_add_fetch(&sid_removed, 1, __ATOMIC_RELAXED);
  }
}

/* Message thread: takes the lock once per bucket (O(SID_WAYS)), removes outside the lock. */
static void
sid_flush(void)
{
  sid_entry taken[SID_WAYS];
  int64_t total = 0;

  for (int bi = 0; bi < SID_BUCKETS; ++bi) {
    int n = 0;
    pthread_mutex_lock(&sid_lock);
    for (int i = 0; i < SID_WAYS; ++i) {
      sid_entry *e = &sid_table[bi].way[i];
      if (e->seen != 0) {
        taken[n++] = *e;
        memset(e, 0, sizeof(*e));
      }
    }
    pthread_mutex_unlock(&sid_lock);
    if (n > 0) {
      __atomic_sub_fetch(&sid_tracked, n, __ATOMIC_RELAXED);
    }
    for (int i = 0; i < n; ++i) {
      remove_from_ats(taken[i].id, taken[i].len); /* expired ones too: harmless if gone */
    }
    total += n;
  }
  int64_t flushes = __atomic_add_fetch(&sid_flushes, 1, __ATOMIC_RELAXED);
  /* Received sessions created before this flush are refused from now on (session sharing). */
  __atomic_store_n(&last_flush_wall, (int64_t)time(NULL), __ATOMIC_RELAXED);
  sid_publish();
  request_stats_flush();
  ack_flush(flushes);
  TSDebug(DEBUG_TAG, "session cache flush removed %" PRId64 " tracked ids", total);
}

static int
hex_value(int c)
{
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = tolower(c);
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

static void
handle_cache_message(const char *data, size_t size)
{
  /* ATS's own CLI appends a NUL; accept the text with or without it. */
  while (size > 0 && data[size - 1] == '\0') {
    --size;
  }
  const size_t flush_len = sizeof(CACHE_FLUSH) - 1, remove_len = sizeof(CACHE_REMOVE_PREFIX) - 1;
  if (size == flush_len && memcmp(data, CACHE_FLUSH, flush_len) == 0) {
    sid_flush();
    return;
  }
  if (size > remove_len && memcmp(data, CACHE_REMOVE_PREFIX, remove_len) == 0) {
    const char *hex = data + remove_len;
    size_t hexlen   = size - remove_len;
    uint8_t id[SID_MAX_LEN];
    if (hexlen % 2 == 0 && hexlen / 2 >= 1 && hexlen / 2 <= SID_MAX_LEN) {
      size_t n = hexlen / 2;
      size_t i;
      for (i = 0; i < n; ++i) {
        int hi = hex_value((unsigned char)hex[2 * i]), lo = hex_value((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
          break;
        }
        id[i] = (uint8_t)(hi * 16 + lo);
      }
      if (i == n) {
        sid_forget(id, n);
        remove_from_ats(id, n);
        sid_publish();
        request_stats_flush();
        TSDebug(DEBUG_TAG, "session cache remove of one id (%zu bytes)", n);
        return;
      }
    }
  }
  TSError("[%s] rejected cache message (%zu bytes): expected \"flush\" or \"remove <hex id>\"", PLUGIN_NAME, size);
}

/* ------------------------------------------------------------------ session sharing */

/* Export (plugin.config `--session-fifo=/abs/path`): on TS_EVENT_SSL_SESSION_NEW (a network
 * thread, inside the handshake) the session's DER is copied out of ATS's cache with
 * TSSslSessionGetBuffer into a bounded queue under a try-lock: a full or contended queue drops
 * the session (counted), a network thread never waits. A task-thread continuation drains the
 * queue every SESSION_DRAIN_MS into the FIFO the agent reads, as binary messages:
 *   SESSION_EXPORT_MAGIC | u32 BE length of the rest
 *   | sessions { u8 id length | id | u16 BE DER length | DER | u32 BE session time | u32 BE timeout }
 * each at most SESSION_EXPORT_MSG_MAX (PIPE_BUF) bytes and written in one write: atomic, whole
 * messages or nothing, and a tick's sessions wake the agent once or a few times, not once each.
 * The FIFO is opened O_WRONLY|O_NONBLOCK|O_NOFOLLOW per batch (no reader: counted as
 * export_no_reader).
 * The DER holds the master secret: the queue lives in a MADV_DONTDUMP mapping, every buffer that
 * held it is cleansed, and nothing of it is logged.
 *
 * Import (tag SESSIONS_TAG): `v1 ttl=<s> notbefore=<unix s>` then `s id=<hex> der=<hex>` lines;
 * each session is validated (sizes, DER consumed whole, id, protocol <= TLS 1.2, not created
 * before notbefore nor before this plugin's last flush, not in the future, not expired), its
 * timeout clamped to the ttl, inserted with TSSslSessionInsert(NULL connection) and tracked in
 * the session-id table, so a flush removes it as it removes local sessions. */
#define SESSION_QUEUE_SLOTS 1024
#define SESSION_DRAIN_MS 10

/* One exported session: id and DER with their lengths, time and timeout. */
#define EXPORT_ENTRY_MAX (1 + SID_MAX_LEN + 2 + SESSION_DER_MAX + 8)
#define EXPORT_MAGIC_LEN 4
#define EXPORT_PREFIX_LEN (EXPORT_MAGIC_LEN + 4) /* magic and length */
_Static_assert(sizeof(SESSION_EXPORT_MAGIC) - 1 == EXPORT_MAGIC_LEN, "SESSION_EXPORT_MAGIC is EXPORT_MAGIC_LEN bytes");

#if SESSION_EXPORT_MSG_MAX > PIPE_BUF || SESSION_EXPORT_MSG_MAX < EXPORT_PREFIX_LEN + EXPORT_ENTRY_MAX
#error "SESSION_EXPORT_MSG_MAX must hold one session and stay within PIPE_BUF"
#endif

typedef struct {
  uint8_t id_len;
  uint8_t id[SID_MAX_LEN];
  uint16_t der_len;
  unsigned char der[SESSION_DER_MAX];
} export_slot;

typedef struct {
  export_slot slot[SESSION_QUEUE_SLOTS];
  export_slot draining; /* the drain task's copy of one slot */
  unsigned char entry[EXPORT_ENTRY_MAX];
  unsigned char batch[SESSION_EXPORT_MSG_MAX]; /* one message: prefix, then whole entries */
} export_store;

static export_store *export_q;
static size_t export_head, export_count; /* under export_lock */
static pthread_mutex_t export_lock = PTHREAD_MUTEX_INITIALIZER;
/* atomics */
static int64_t count_exported, count_export_uncached, count_export_dropped, count_export_no_reader;
static int64_t count_imported, count_import_rejected;

static void
sessions_publish(void)
{
  stat_set(STAT_SESSIONS_EXPORTED, __atomic_load_n(&count_exported, __ATOMIC_RELAXED));
  stat_set(STAT_SESSIONS_EXPORT_UNCACHED, __atomic_load_n(&count_export_uncached, __ATOMIC_RELAXED));
  stat_set(STAT_SESSIONS_EXPORT_DROPPED, __atomic_load_n(&count_export_dropped, __ATOMIC_RELAXED));
  stat_set(STAT_SESSIONS_EXPORT_NO_READER, __atomic_load_n(&count_export_no_reader, __ATOMIC_RELAXED));
  stat_set(STAT_SESSIONS_IMPORTED, __atomic_load_n(&count_imported, __ATOMIC_RELAXED));
  stat_set(STAT_SESSIONS_IMPORT_REJECTED, __atomic_load_n(&count_import_rejected, __ATOMIC_RELAXED));
}

/* A private mapping of `size` bytes kept out of core dumps (it will hold session secrets); NULL
 * (logged, naming `what`) when that cannot be had. */
static void *
dontdump_map(size_t size, const char *what)
{
  long page  = sysconf(_SC_PAGESIZE);
  size_t len = (size + (size_t)page - 1) & ~((size_t)page - 1);
  void *p    = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    TSError("[%s] mmap of the %s failed", PLUGIN_NAME, what);
    return NULL;
  }
  if (madvise(p, len, MADV_DONTDUMP) != 0) {
    TSError("[%s] madvise(MADV_DONTDUMP) of the %s failed; not sharing sessions through it", PLUGIN_NAME, what);
    munmap(p, len);
    return NULL;
  }
  return p;
}

static int
export_store_create(void)
{
  export_q = dontdump_map(sizeof(export_store), "session export queue");
  return export_q != NULL ? 0 : -1;
}

/* Network thread, inside the handshake: no blocking lock, no allocation, no I/O. */
static void
export_capture(const TSSslSessionID *sid)
{
  unsigned char der[SESSION_DER_MAX];
  int len = (int)sizeof(der);
  if (sid->len == 0 || sid->len > SID_MAX_LEN) {
    return;
  }
  /* Returns the whole length, copying at most len bytes: usable only when 0 < ret <= sizeof. */
  int ret = TSSslSessionGetBuffer(sid, (char *)der, &len);
  if (ret <= 0 || ret > (int)sizeof(der)) {
    __atomic_add_fetch(&count_export_uncached, 1, __ATOMIC_RELAXED);
    OPENSSL_cleanse(der, sizeof(der));
    return;
  }
  if (pthread_mutex_trylock(&export_lock) != 0) {
    __atomic_add_fetch(&count_export_dropped, 1, __ATOMIC_RELAXED);
    OPENSSL_cleanse(der, sizeof(der));
    return;
  }
  if (export_count == SESSION_QUEUE_SLOTS) {
    pthread_mutex_unlock(&export_lock);
    __atomic_add_fetch(&count_export_dropped, 1, __ATOMIC_RELAXED);
    OPENSSL_cleanse(der, sizeof(der));
    return;
  }
  export_slot *e = &export_q->slot[(export_head + export_count) % SESSION_QUEUE_SLOTS];
  e->id_len      = (uint8_t)sid->len;
  memcpy(e->id, sid->bytes, sid->len);
  e->der_len = (uint16_t)ret;
  memcpy(e->der, der, (size_t)ret);
  ++export_count;
  pthread_mutex_unlock(&export_lock);
  OPENSSL_cleanse(der, sizeof(der));
}

/* Takes the oldest queued session into export_q->draining; 0 when the queue is empty. */
static int
export_take(void)
{
  pthread_mutex_lock(&export_lock);
  if (export_count == 0) {
    pthread_mutex_unlock(&export_lock);
    return 0;
  }
  export_slot *e     = &export_q->slot[export_head];
  export_q->draining = *e;
  OPENSSL_cleanse(e, sizeof(*e));
  export_head = (export_head + 1) % SESSION_QUEUE_SLOTS;
  --export_count;
  pthread_mutex_unlock(&export_lock);
  return 1;
}

static void
write_be32(unsigned char *p, uint32_t v)
{
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* The entry of export_q->draining into export_q->entry; its length, 0 when undecodable. */
static size_t
export_format(void)
{
  const export_slot *e   = &export_q->draining;
  const unsigned char *p = e->der;
  SSL_SESSION *s         = d2i_SSL_SESSION(NULL, &p, e->der_len);
  if (s == NULL) {
    return 0;
  }
  int64_t t  = (int64_t)SSL_SESSION_get_time(s);
  int64_t to = (int64_t)SSL_SESSION_get_timeout(s);
  SSL_SESSION_free(s);
  if (t < 0 || t > UINT32_MAX || to < 0 || to > UINT32_MAX) {
    return 0;
  }
  unsigned char *out = export_q->entry;
  size_t n           = 0;
  out[n++]           = e->id_len;
  memcpy(out + n, e->id, e->id_len);
  n += e->id_len;
  out[n++] = (unsigned char)(e->der_len >> 8);
  out[n++] = (unsigned char)e->der_len;
  memcpy(out + n, e->der, e->der_len);
  n += e->der_len;
  write_be32(out + n, (uint32_t)t);
  write_be32(out + n + 4, (uint32_t)to);
  return n + 8;
}

/* Writes the message in export_q->batch (`len` bytes with its prefix, `sessions` of them) in one
 * write, counts them as exported or dropped, and cleanses the batch. */
static void
export_write_batch(int fd, size_t len, int64_t sessions)
{
  if (sessions == 0) {
    return;
  }
  memcpy(export_q->batch, SESSION_EXPORT_MAGIC, EXPORT_MAGIC_LEN);
  write_be32(export_q->batch + EXPORT_MAGIC_LEN, (uint32_t)(len - EXPORT_PREFIX_LEN));
  ssize_t w = write(fd, export_q->batch, len);
  __atomic_add_fetch(w == (ssize_t)len ? &count_exported : &count_export_dropped, sessions, __ATOMIC_RELAXED); /* pipe full, reader gone */
  OPENSSL_cleanse(export_q->batch, len);
}

/* Task thread, every SESSION_DRAIN_MS: the queue to the FIFO, never blocking. */
static int
on_export_tick(TSCont contp, TSEvent event, void *edata)
{
  static int64_t published_sum = -1;
  int fd = -1, fd_failed = 0;
  size_t batch_len = EXPORT_PREFIX_LEN;
  int64_t batch_sessions = 0;
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);

  while (export_take()) {
    if (fd < 0 && !fd_failed) {
      fd = open(session_fifo_path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
      struct stat st;
      if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode))) {
        close(fd);
        fd = -1;
      }
      if (fd < 0) {
        fd_failed = 1;
        /* ENXIO (no reader), ENOENT, ELOOP, not a FIFO: nobody to hand the batch to */
      } else {
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
      }
    }
    if (fd < 0) {
      __atomic_add_fetch(&count_export_no_reader, 1, __ATOMIC_RELAXED);
    } else {
      size_t len = export_format();
      if (len == 0) {
        __atomic_add_fetch(&count_export_dropped, 1, __ATOMIC_RELAXED);
      } else {
        if (batch_len + len > sizeof(export_q->batch)) {
          export_write_batch(fd, batch_len, batch_sessions);
          batch_len      = EXPORT_PREFIX_LEN;
          batch_sessions = 0;
        }
        memcpy(export_q->batch + batch_len, export_q->entry, len);
        batch_len += len;
        ++batch_sessions;
      }
      OPENSSL_cleanse(export_q->entry, sizeof(export_q->entry));
    }
    OPENSSL_cleanse(&export_q->draining, sizeof(export_q->draining));
  }
  if (fd >= 0) {
    export_write_batch(fd, batch_len, batch_sessions);
    struct timespec zero = {0, 0};
    sigset_t pending;
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
      sigtimedwait(&pipe_set, NULL, &zero); /* the SIGPIPE a write raised */
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    close(fd);
  }
  /* Counters change on network threads too: publish when any moved. */
  int64_t sum = __atomic_load_n(&count_exported, __ATOMIC_RELAXED) + __atomic_load_n(&count_export_uncached, __ATOMIC_RELAXED) +
                __atomic_load_n(&count_export_dropped, __ATOMIC_RELAXED) + __atomic_load_n(&count_export_no_reader, __ATOMIC_RELAXED);
  if (sum != published_sum) {
    published_sum = sum;
    sessions_publish();
    request_stats_flush();
  }
  return 0;
}

/* Decodes exactly `hexlen` hex digits into out (at most max bytes); the byte count, -1 when not hex. */
static int
hex_decode(const char *hex, size_t hexlen, unsigned char *out, size_t max)
{
  if (hexlen == 0 || hexlen % 2 != 0 || hexlen / 2 > max) {
    return -1;
  }
  for (size_t i = 0; i < hexlen / 2; ++i) {
    int hi = hex_value((unsigned char)hex[2 * i]), lo = hex_value((unsigned char)hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return -1;
    }
    out[i] = (unsigned char)(hi * 16 + lo);
  }
  return (int)(hexlen / 2);
}

/* A decimal number of 1..18 digits, the whole [p, p+n); -1 otherwise. */
static int64_t
parse_uint(const char *p, size_t n)
{
  if (n == 0 || n > 18 || (n > 1 && p[0] == '0')) {
    return -1;
  }
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] < '0' || p[i] > '9') {
      return -1;
    }
    v = v * 10 + (p[i] - '0');
  }
  return v;
}

/* Why a received session was refused (debug-logged, counted in import_rejected). */
enum {
  IMPORT_MALFORMED,
  IMPORT_UNDECODABLE,
  IMPORT_ID_MISMATCH,
  IMPORT_PROTOCOL,
  IMPORT_BEFORE_FLUSH,
  IMPORT_FUTURE,
  IMPORT_EXPIRED,
  IMPORT_INSERT_FAILED,
  IMPORT_REASONS
};
static const char *const IMPORT_REASON_NAMES[IMPORT_REASONS] = {
  "malformed", "undecodable", "id_mismatch", "protocol", "before_flush", "future", "expired", "insert_failed",
};

/* One received session, validated and inserted: -1 when inserted, else a reason. */
static int
import_session(const unsigned char *id, size_t id_len, const unsigned char *der, size_t der_len, int64_t ttl, int64_t not_before,
               int64_t now)
{
  TSSslSessionID sid;
  int reason = -1;
  if (id_len < 1 || id_len > SID_MAX_LEN || der_len < 1 || der_len > SESSION_DER_MAX) {
    return IMPORT_MALFORMED;
  }
  memset(&sid, 0, sizeof(sid));
  memcpy(sid.bytes, id, id_len);
  sid.len = id_len;

  const unsigned char *p = der;
  SSL_SESSION *s         = d2i_SSL_SESSION(NULL, &p, (long)der_len);
  if (s == NULL || p != der + der_len) {
    reason = IMPORT_UNDECODABLE;
  } else {
    unsigned int got_len = 0;
    const unsigned char *got = SSL_SESSION_get_id(s, &got_len);
    int64_t t  = (int64_t)SSL_SESSION_get_time(s);
    int64_t to = (int64_t)SSL_SESSION_get_timeout(s);
    int64_t floor = not_before;
    int64_t flushed = __atomic_load_n(&last_flush_wall, __ATOMIC_RELAXED);
    if (flushed > floor) {
      floor = flushed;
    }
    if (got_len != sid.len || memcmp(got, sid.bytes, sid.len) != 0) {
      reason = IMPORT_ID_MISMATCH;
    } else if (SSL_SESSION_get_protocol_version(s) > TLS1_2_VERSION) {
      reason = IMPORT_PROTOCOL;
    } else if (t < floor) {
      reason = IMPORT_BEFORE_FLUSH;
    } else if (t > now + SESSION_FUTURE_SKEW) {
      reason = IMPORT_FUTURE;
    } else if (to <= 0 || t + to <= now) {
      reason = IMPORT_EXPIRED;
    } else {
      /* Expiry is checked at lookup against time + timeout: clamp it to the sharing ttl. */
      int64_t end = t + to < now + ttl ? t + to : now + ttl;
      SSL_SESSION_set_timeout(s, (long)(end - t));
      if (TSSslSessionInsert(&sid, (TSSslSession)s, NULL) == TS_SUCCESS) {
        sid_track(&sid);
      } else {
        reason = IMPORT_INSERT_FAILED;
      }
    }
  }
  SSL_SESSION_free(s); /* NULL is fine; ATS kept its own copy */
  return reason;
}

/* One `s id=<hex> der=<hex>` line (without its newline) of a lifecycle message: -1 when
 * inserted, else a reason. */
static int
import_one(const char *line, size_t n, int64_t ttl, int64_t not_before, int64_t now)
{
  static const char id_key[] = "s id=", der_key[] = " der=";
  const size_t id_key_len = sizeof(id_key) - 1, der_key_len = sizeof(der_key) - 1;
  unsigned char id[SID_MAX_LEN];
  unsigned char der[SESSION_DER_MAX];

  if (n < id_key_len || memcmp(line, id_key, id_key_len) != 0) {
    return IMPORT_MALFORMED;
  }
  const char *id_hex = line + id_key_len;
  const char *sep    = memchr(id_hex, ' ', n - id_key_len);
  if (sep == NULL || (size_t)(line + n - sep) < der_key_len || memcmp(sep, der_key, der_key_len) != 0) {
    return IMPORT_MALFORMED;
  }
  const char *der_hex = sep + der_key_len;
  int id_len  = hex_decode(id_hex, (size_t)(sep - id_hex), id, sizeof(id));
  int der_len = hex_decode(der_hex, (size_t)(line + n - der_hex), der, sizeof(der));
  int reason  = id_len < 1 || der_len < 1 ? IMPORT_MALFORMED : import_session(id, (size_t)id_len, der, (size_t)der_len, ttl, not_before, now);
  OPENSSL_cleanse(der, sizeof(der));
  return reason;
}

/* "v1 ttl=<n> notbefore=<n>" (without its newline) into ttl and not_before; 0 when valid. */
static int
parse_sessions_header(const char *line, size_t n, int64_t *ttl, int64_t *not_before)
{
  static const char v_key[] = SESSIONS_VERSION " ttl=", nb_key[] = " notbefore=";
  const size_t v_len = sizeof(v_key) - 1, nb_len = sizeof(nb_key) - 1;
  *ttl        = -1;
  *not_before = -1;
  if (n > v_len && memcmp(line, v_key, v_len) == 0) {
    const char *ttl_p = line + v_len;
    const char *sp    = memchr(ttl_p, ' ', n - v_len);
    if (sp != NULL && (size_t)(line + n - sp) > nb_len && memcmp(sp, nb_key, nb_len) == 0) {
      *ttl        = parse_uint(ttl_p, (size_t)(sp - ttl_p));
      *not_before = parse_uint(sp + nb_len, (size_t)(line + n - sp - nb_len));
    }
  }
  return *ttl >= 1 && *ttl <= SESSION_TTL_MAX && *not_before >= 0 ? 0 : -1;
}

/* After a batch of imports: counters, stats, and one debug line with the refusals by reason. */
static void
import_report(const char *what, int64_t inserted, const int64_t refused[IMPORT_REASONS])
{
  int64_t rejected = 0;
  for (int i = 0; i < IMPORT_REASONS; ++i) {
    rejected += refused[i];
  }
  __atomic_add_fetch(&count_imported, inserted, __ATOMIC_RELAXED);
  __atomic_add_fetch(&count_import_rejected, rejected, __ATOMIC_RELAXED);
  sessions_publish();
  sid_publish();
  request_stats_flush();
  if (rejected > 0) {
    char why[256];
    size_t at = 0;
    why[0]    = '\0';
    for (int i = 0; i < IMPORT_REASONS; ++i) {
      if (refused[i] > 0 && at < sizeof(why)) {
        int w = snprintf(why + at, sizeof(why) - at, " %s=%" PRId64, IMPORT_REASON_NAMES[i], refused[i]);
        at += w > 0 ? (size_t)w : 0;
      }
    }
    TSDebug(DEBUG_TAG, "%s: %" PRId64 " inserted, %" PRId64 " refused:%s", what, inserted, rejected, why);
  } else {
    TSDebug(DEBUG_TAG, "%s: %" PRId64 " inserted", what, inserted);
  }
}

static void
handle_sessions_message(const char *data, size_t size)
{
  int64_t refused[IMPORT_REASONS] = {0};
  int64_t inserted = 0;
  int64_t now      = (int64_t)time(NULL);

  while (size > 0 && data[size - 1] == '\0') {
    --size;
  }
  const char *end = data + size;
  const char *nl  = size > 0 ? memchr(data, '\n', size) : NULL;
  int64_t ttl = -1, not_before = -1;
  if (nl == NULL || parse_sessions_header(data, (size_t)(nl - data), &ttl, &not_before) != 0) {
    /* No valid header: every line is refused (at least one refusal for the message). */
    int64_t lines = 0;
    for (const char *q = data; q < end; ++q) {
      lines += *q == '\n';
    }
    refused[IMPORT_MALFORMED] += lines > 1 ? lines - 1 : 1;
  } else {
    int seen = 0;
    for (const char *line = nl + 1; line < end;) {
      const char *next = memchr(line, '\n', (size_t)(end - line));
      size_t n         = next != NULL ? (size_t)(next - line) : (size_t)(end - line);
      int reason = ++seen > SESSION_IMPORT_MAX ? IMPORT_MALFORMED : import_one(line, n, ttl, not_before, now);
      if (reason < 0) {
        ++inserted;
      } else {
        ++refused[reason];
      }
      line = next != NULL ? next + 1 : end;
    }
    if (seen == 0) {
      refused[IMPORT_MALFORMED] += 1;
    }
  }
  import_report("sessions message", inserted, refused);
}

/* Import FIFO (plugin.config `--session-import-fifo=/abs/path`): the sessions without the relay
 * through traffic_manager, as binary messages (no hex):
 *   SESSION_IMPORT_MAGIC | u32 BE length of the rest | u32 BE ttl | u32 BE notbefore
 *   | 1..SESSION_IMPORT_MAX x { u8 id length | id | u16 BE DER length | DER }
 * The agent creates the FIFO and is the only one who may write it: a path that is not a FIFO, or
 * a FIFO that its group or others may write, is not read. A task-thread continuation reads it
 * every SESSION_DRAIN_MS, non-blocking and at most IMPORT_READS_PER_TICK reads a tick, so a flood
 * costs ATS bounded work per tick (the rest waits in the pipe, and the agent drops what the pipe
 * cannot take). Bytes that are not a message (no magic, a length out of range) are refused as
 * malformed once, and skipped up to the next magic; a message whose contents are wrong is
 * refused from the first wrong session on. The read buffer lives in a MADV_DONTDUMP mapping and
 * is cleansed as it is consumed. */
#define IMPORT_READ_BYTES 65536
#define IMPORT_READS_PER_TICK 4
#define IMPORT_REOPEN_MS 1000
#define IMPORT_MAGIC_LEN 4
#define IMPORT_PREFIX_LEN (IMPORT_MAGIC_LEN + 4) /* magic and length */
_Static_assert(sizeof(SESSION_IMPORT_MAGIC) - 1 == IMPORT_MAGIC_LEN, "SESSION_IMPORT_MAGIC is IMPORT_MAGIC_LEN bytes");

typedef struct {
  unsigned char buf[SESSION_IMPORT_MSG_MAX + IMPORT_READ_BYTES];
} import_store;

static import_store *import_q;
/* The import continuation's own state (its mutex serialises ticks). */
static int import_fd = -1;
static size_t import_len;          /* bytes of an unfinished message at the start of buf */
static int import_resyncing;       /* skipping bytes that are not a message (refused once) */
static int64_t import_retry_at_ms; /* next open attempt, or next check that the path is still ours */
static int import_warned;

static int
import_store_create(void)
{
  import_q = dontdump_map(sizeof(import_store), "session import buffer");
  return import_q != NULL ? 0 : -1;
}

/* A FIFO only its owner may write; 0 when fd is one. */
static int
import_fifo_acceptable(const struct stat *st)
{
  return S_ISFIFO(st->st_mode) && (st->st_mode & (S_IWGRP | S_IWOTH)) == 0 ? 0 : -1;
}

static void
import_close(void)
{
  if (import_fd >= 0) {
    close(import_fd);
    import_fd = -1;
  }
  OPENSSL_cleanse(import_q->buf, sizeof(import_q->buf));
  import_len       = 0;
  import_resyncing = 0;
}

static void
import_open(int64_t now_ms)
{
  import_retry_at_ms = now_ms + IMPORT_REOPEN_MS;
  int fd = open(session_import_fifo_path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  struct stat st;
  if (fd >= 0 && (fstat(fd, &st) != 0 || import_fifo_acceptable(&st) != 0)) {
    close(fd);
    if (!import_warned) {
      TSError("[%s] %s is not a FIFO that only its owner can write: not reading sessions from it", PLUGIN_NAME,
              session_import_fifo_path);
      import_warned = 1;
    }
    return;
  }
  if (fd >= 0) {
    import_fd     = fd;
    import_warned = 0;
    TSDebug(DEBUG_TAG, "reading sessions from %s", session_import_fifo_path);
  }
  /* ENOENT: the agent has not created it yet; tried again after IMPORT_REOPEN_MS */
}

static uint32_t
read_be32(const unsigned char *p)
{
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* One whole message after its magic and length: `n` bytes of ttl, notbefore and sessions. */
static void
import_message(const unsigned char *p, size_t n, int64_t now, int64_t *inserted, int64_t refused[IMPORT_REASONS])
{
  const size_t header = SESSION_IMPORT_HEADER_LEN - IMPORT_PREFIX_LEN; /* ttl and notbefore */
  int64_t ttl          = (int64_t)read_be32(p);
  int64_t not_before   = (int64_t)read_be32(p + 4);
  if (ttl < 1 || ttl > SESSION_TTL_MAX || n <= header) {
    ++refused[IMPORT_MALFORMED];
    return;
  }
  size_t at = header;
  for (int seen = 0; at < n; ++seen) {
    size_t id_len = p[at];
    if (seen == SESSION_IMPORT_MAX || id_len < 1 || id_len > SID_MAX_LEN || n - at < 1 + id_len + 2) {
      ++refused[IMPORT_MALFORMED]; /* the rest of the message cannot be trusted */
      return;
    }
    const unsigned char *id = p + at + 1;
    size_t der_len          = ((size_t)id[id_len] << 8) | id[id_len + 1];
    if (der_len < 1 || der_len > SESSION_DER_MAX || n - at - 1 - id_len - 2 < der_len) {
      ++refused[IMPORT_MALFORMED];
      return;
    }
    int reason = import_session(id, id_len, id + id_len + 2, der_len, ttl, not_before, now);
    if (reason < 0) {
      ++*inserted;
    } else {
      ++refused[reason];
    }
    at += 1 + id_len + 2 + der_len;
  }
}

/* Consumes the whole messages in buf[0, have); returns how many bytes it consumed (the rest is
 * the start of an unfinished message, shorter than SESSION_IMPORT_MSG_MAX). */
static size_t
import_parse(size_t have, int64_t now, int64_t *inserted, int64_t refused[IMPORT_REASONS])
{
  const unsigned char *buf = import_q->buf;
  size_t at                = 0;
  while (have - at >= IMPORT_PREFIX_LEN) {
    uint32_t len = read_be32(buf + at + IMPORT_MAGIC_LEN);
    if (memcmp(buf + at, SESSION_IMPORT_MAGIC, IMPORT_MAGIC_LEN) != 0 || len < SESSION_IMPORT_HEADER_LEN - IMPORT_PREFIX_LEN ||
        len > SESSION_IMPORT_MSG_MAX - IMPORT_PREFIX_LEN) {
      if (!import_resyncing) {
        ++refused[IMPORT_MALFORMED];
        import_resyncing = 1;
      }
      const unsigned char *next = memmem(buf + at + 1, have - at - 1, SESSION_IMPORT_MAGIC, IMPORT_MAGIC_LEN);
      at = next != NULL ? (size_t)(next - buf) : have - (IMPORT_MAGIC_LEN - 1); /* keep what may start a magic */
      continue;
    }
    if (have - at - IMPORT_PREFIX_LEN < len) {
      break; /* the rest of this message comes with a later read */
    }
    import_resyncing = 0;
    import_message(buf + at + IMPORT_PREFIX_LEN, len, now, inserted, refused);
    at += IMPORT_PREFIX_LEN + len;
  }
  return at;
}

/* Task thread, every SESSION_DRAIN_MS: what the agent wrote into ATS's session cache. */
static int
on_import_tick(TSCont contp, TSEvent event, void *edata)
{
  int64_t now_ms = monotonic_ms();
  if (import_fd < 0) {
    if (now_ms >= import_retry_at_ms) {
      import_open(now_ms);
    }
    if (import_fd < 0) {
      return 0;
    }
  } else if (now_ms >= import_retry_at_ms) {
    /* The agent may have replaced the FIFO (a new pod sandbox, a restarted agent): follow the path. */
    struct stat at_path, held;
    import_retry_at_ms = now_ms + IMPORT_REOPEN_MS;
    if (lstat(session_import_fifo_path, &at_path) != 0 || fstat(import_fd, &held) != 0 || at_path.st_ino != held.st_ino ||
        at_path.st_dev != held.st_dev || import_fifo_acceptable(&at_path) != 0) {
      import_close();
      import_open(now_ms);
      if (import_fd < 0) {
        return 0;
      }
    }
  }
  int64_t refused[IMPORT_REASONS] = {0};
  int64_t inserted = 0;
  int64_t now      = (int64_t)time(NULL);
  for (int r = 0; r < IMPORT_READS_PER_TICK; ++r) {
    ssize_t got = read(import_fd, import_q->buf + import_len, IMPORT_READ_BYTES);
    if (got <= 0) {
      break; /* 0: no writer right now; EAGAIN: nothing more to read */
    }
    size_t have = import_len + (size_t)got;
    size_t used = import_parse(have, now, &inserted, refused);
    size_t rest = have - used;
    memmove(import_q->buf, import_q->buf + used, rest);
    OPENSSL_cleanse(import_q->buf + rest, have - rest);
    import_len = rest;
    if ((size_t)got < IMPORT_READ_BYTES) {
      break;
    }
  }
  int64_t any = inserted;
  for (int i = 0; i < IMPORT_REASONS; ++i) {
    any += refused[i];
  }
  if (any > 0) {
    import_report("sessions from the import FIFO", inserted, refused);
  }
  return 0;
}

/* ------------------------------------------------------------------ continuations */

/* Lifecycle messages arrive on the process-manager thread, which is not an event thread:
 * the continuation has no ATS mutex (ATS would assert on a contended try-lock). */
static int
on_lifecycle_msg(TSCont contp, TSEvent event, void *edata)
{
  if (event != TS_EVENT_LIFECYCLE_MSG || edata == NULL) {
    return 0;
  }
  TSPluginMsg *msg = (TSPluginMsg *)edata;
  if (msg->tag == NULL) {
    return 0;
  }
  if (strcmp(msg->tag, RING_TAG) == 0) {
    handle_ring_message((const unsigned char *)msg->data, msg->data_size);
    /* ATS parsed the payload into a heap copy it never zeroes: zero it ourselves. */
    if (msg->data != NULL && msg->data_size > 0) {
      OPENSSL_cleanse((void *)msg->data, msg->data_size);
    }
  } else if (strcmp(msg->tag, CACHE_TAG) == 0) {
    handle_cache_message((const char *)msg->data, msg->data != NULL ? msg->data_size : 0);
  } else if (strcmp(msg->tag, SESSIONS_TAG) == 0) {
    handle_sessions_message((const char *)msg->data, msg->data != NULL ? msg->data_size : 0);
    /* The payload holds session DER (master secrets) in hex: zero ATS's copy. */
    if (msg->data != NULL && msg->data_size > 0) {
      OPENSSL_cleanse((void *)msg->data, msg->data_size);
    }
  }
  return 0;
}

/* TS_SSL_SESSION_HOOK runs on network threads: must not block, no ATS mutex either. */
static int
on_ssl_session(TSCont contp, TSEvent event, void *edata)
{
  const TSSslSessionID *sid = (const TSSslSessionID *)edata;
  if (sid == NULL) {
    return 0;
  }
  if (event == TS_EVENT_SSL_SESSION_NEW) {
    sid_track(sid);
    if (export_q != NULL) {
      export_capture(sid);
    }
  } else if (event == TS_EVENT_SSL_SESSION_GET) {
    sid_count_lookup(sid);
  } else if (event == TS_EVENT_SSL_SESSION_REMOVE) {
    if (sid->len > 0 && sid->len <= SID_MAX_LEN && sid_forget((const uint8_t *)sid->bytes, sid->len)) {
      sid_publish();
    }
  }
  return 0;
}

/* Config reload: re-apply now, then on a timer until the key loader has surely run.
 * Runs on ET_TASK with its own mutex, so the schedule state needs no other lock. */
static int64_t reapply_started_ms;
static int reapply_tick_pending;

static int64_t
monotonic_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
on_reload(TSCont contp, TSEvent event, void *edata)
{
  if (event == TS_EVENT_MGMT_UPDATE) {
    reapply();
    reapply_started_ms = monotonic_ms();
    if (!reapply_tick_pending) {
      reapply_tick_pending = 1;
      TSContScheduleOnPool(contp, REAPPLY_TICK_MS, TS_THREAD_POOL_TASK);
    }
    TSDebug(DEBUG_TAG, "config reload: re-applied, re-applying for %d ms", REAPPLY_WINDOW_MS);
  } else if (event == TS_EVENT_TIMEOUT) {
    reapply();
    if (monotonic_ms() - reapply_started_ms < REAPPLY_WINDOW_MS) {
      TSContScheduleOnPool(contp, REAPPLY_TICK_MS, TS_THREAD_POOL_TASK);
    } else {
      reapply_tick_pending = 0;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ init */

static void
warn_on_risky_config(void)
{
  TSMgmtString file = NULL;
  if (TSMgmtStringGet("proxy.config.ssl.server.ticket_key.filename", &file) == TS_SUCCESS && file != NULL) {
    if (file[0] != '\0' && strcmp(file, "NULL") != 0) {
      TSWarning("[%s] proxy.config.ssl.server.ticket_key.filename is set: after a reload the file's keys can be live until "
                "the plugin re-applies the pushed ring; leave it unset",
                PLUGIN_NAME);
    }
    TSfree(file);
  }
  TSMgmtInt mode = 0;
  if (TSMgmtIntGet("proxy.config.ssl.session_cache", &mode) == TS_SUCCESS && mode != 2) {
    TSWarning("[%s] proxy.config.ssl.session_cache is %" PRId64 ", not 2: session-cache operations will not find sessions",
              PLUGIN_NAME, (int64_t)mode);
  }
  TSMgmtInt timeout = 0;
  if (TSMgmtIntGet("proxy.config.ssl.session_cache.timeout", &timeout) == TS_SUCCESS && timeout > 0) {
    sid_ttl_seconds = (uint32_t)timeout;
  }
}

void
TSPluginInit(int argc, const char *argv[])
{
  TSPluginRegistrationInfo info;
  info.plugin_name   = PLUGIN_NAME;
  info.vendor_name   = "ticket-key-operator";
  info.support_email = "ticketkeys.dev";

  if (TSPluginRegister(&info) != TS_SUCCESS) {
    TSError("[%s] plugin registration failed", PLUGIN_NAME);
    return;
  }
  if (parse_args(argc, argv) != 0 || store_create() != 0 || stats_create() != 0) {
    return;
  }
  stat_set(STAT_MLOCK_FAILED, store_mlock_failed);
  sid_table = mmap(NULL, sizeof(sid_bucket) * SID_BUCKETS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (sid_table == MAP_FAILED) {
    TSError("[%s] cannot allocate the session-id table", PLUGIN_NAME);
    return;
  }
  if (session_fifo_path[0] != '\0' && export_store_create() != 0) {
    return;
  }
  if (session_import_fifo_path[0] != '\0' && import_store_create() != 0) {
    return;
  }
  warn_on_risky_config();
  /* Lets readers tell this process's stats from those traffic_manager still holds from a
   * traffic_server that has since restarted (compare with proxy.node.restarts.proxy.start_time). */
  plugin_loaded_at = (int64_t)time(NULL);
  stat_set(STAT_LOADED_AT, plugin_loaded_at);
  start_stats_flusher();

  TSLifecycleHookAdd(TS_LIFECYCLE_MSG_HOOK, TSContCreate(on_lifecycle_msg, NULL));
  TSHttpHookAdd(TS_SSL_SESSION_HOOK, TSContCreate(on_ssl_session, NULL));
  TSMgmtUpdateRegister(TSContCreate(on_reload, TSMutexCreate()), PLUGIN_NAME);
  if (export_q != NULL) {
    TSContScheduleEveryOnPool(TSContCreate(on_export_tick, TSMutexCreate()), SESSION_DRAIN_MS, TS_THREAD_POOL_TASK);
  }
  if (import_q != NULL) {
    TSContScheduleEveryOnPool(TSContCreate(on_import_tick, TSMutexCreate()), SESSION_DRAIN_MS, TS_THREAD_POOL_TASK);
  }

  TSDebug(DEBUG_TAG, "ready: tags %s, %s and %s, ack FIFO %s, session FIFO %s, session import FIFO %s", RING_TAG, CACHE_TAG,
          SESSIONS_TAG, ack_fifo_path[0] ? ack_fifo_path : "(none)", session_fifo_path[0] ? session_fifo_path : "(none)",
          session_import_fifo_path[0] ? session_import_fifo_path : "(none)");
}
