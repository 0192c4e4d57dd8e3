/*
 * spdy.c - SPDY/3.1 sessions (see spdy.h for the design).
 *
 * Input is kept in one growable buffer and consumed frame by frame; the
 * stream table is a small array (exec has at most five streams and each
 * forwarded connection two), searched linearly.
 */
#include "spdy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include "kube/xalloc.h"

#define DATA_CHUNK_BYTES (32u * 1024u)
#define FRAME_HEADER_BYTES 8

struct stream {
  uint32_t id;
  bool local_closed;  /* we sent FIN */
  bool remote_closed; /* the peer sent FIN */
};

struct kl_spdy {
  bool server;
  struct kl_spdy_callbacks cb;
  void *arg;
  int (*send)(const void *data, size_t len, void *arg);
  void *send_arg;
  z_stream in, out;
  bool in_ready, out_ready;
  uint32_t next_id;      /* next id of our own */
  uint32_t last_peer_id; /* highest id the peer opened */
  unsigned char *buf;    /* unparsed input: buf[start, start+len) */
  size_t start, len, cap;
  struct stream *streams;
  size_t nstreams, capstreams;
  bool failed;
};

/* --- the dictionary (SPDY/3 draft, section 2.6.10.1): length-prefixed
 * header names and values, then status lines, dates and common values --- */

static const char *const DICT_WORDS[] = {"options",
                                         "head",
                                         "post",
                                         "put",
                                         "delete",
                                         "trace",
                                         "accept",
                                         "accept-charset",
                                         "accept-encoding",
                                         "accept-language",
                                         "accept-ranges",
                                         "age",
                                         "allow",
                                         "authorization",
                                         "cache-control",
                                         "connection",
                                         "content-base",
                                         "content-encoding",
                                         "content-language",
                                         "content-length",
                                         "content-location",
                                         "content-md5",
                                         "content-range",
                                         "content-type",
                                         "date",
                                         "etag",
                                         "expect",
                                         "expires",
                                         "from",
                                         "host",
                                         "if-match",
                                         "if-modified-since",
                                         "if-none-match",
                                         "if-range",
                                         "if-unmodified-since",
                                         "last-modified",
                                         "location",
                                         "max-forwards",
                                         "pragma",
                                         "proxy-authenticate",
                                         "proxy-authorization",
                                         "range",
                                         "referer",
                                         "retry-after",
                                         "server",
                                         "te",
                                         "trailer",
                                         "transfer-encoding",
                                         "upgrade",
                                         "user-agent",
                                         "vary",
                                         "via",
                                         "warning",
                                         "www-authenticate",
                                         "method",
                                         "get",
                                         "status",
                                         "200 OK",
                                         "version",
                                         "HTTP/1.1",
                                         "url",
                                         "public",
                                         "set-cookie",
                                         "keep-alive",
                                         "origin"};
static const char DICT_TAIL[] =
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

static void put32(unsigned char *p, uint32_t v)
{
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

const unsigned char *kl_spdy_dictionary(size_t *len)
{
  /* Built once; the words are constant, so concurrent first calls write
   * the same bytes. */
  static unsigned char dict[1423];
  static size_t dict_len;
  if (!dict_len) {
    size_t off = 0;
    for (size_t i = 0; i < sizeof DICT_WORDS / sizeof DICT_WORDS[0]; i++) {
      size_t n = strlen(DICT_WORDS[i]);
      put32(dict + off, (uint32_t)n);
      memcpy(dict + off + 4, DICT_WORDS[i], n);
      off += 4 + n;
    }
    memcpy(dict + off, DICT_TAIL, sizeof DICT_TAIL - 1);
    dict_len = off + sizeof DICT_TAIL - 1;
  }
  *len = dict_len;
  return dict;
}

/* --- streams --- */

static struct stream *stream_find(struct kl_spdy *s, uint32_t id)
{
  for (size_t i = 0; i < s->nstreams; i++)
    if (s->streams[i].id == id) return &s->streams[i];
  return NULL;
}

static struct stream *stream_add(struct kl_spdy *s, uint32_t id)
{
  if (s->nstreams == s->capstreams) {
    size_t cap = s->capstreams ? s->capstreams * 2 : 8;
    struct stream *n = xrealloc(s->streams, cap * sizeof *n);
    if (!n) return NULL;
    s->streams = n;
    s->capstreams = cap;
  }
  struct stream *st = &s->streams[s->nstreams++];
  *st = (struct stream){.id = id};
  return st;
}

static void stream_remove(struct kl_spdy *s, uint32_t id)
{
  struct stream *st = stream_find(s, id);
  if (!st) return;
  *st = s->streams[--s->nstreams];
}

static void stream_maybe_done(struct kl_spdy *s, uint32_t id)
{
  struct stream *st = stream_find(s, id);
  if (st && st->local_closed && st->remote_closed) stream_remove(s, id);
}

size_t kl_spdy_streams(const struct kl_spdy *s) { return s->nstreams; }

/* --- session --- */

struct kl_spdy *kl_spdy_new(bool server, const struct kl_spdy_callbacks *cb, void *arg)
{
  struct kl_spdy *s = xcalloc(1, sizeof *s);
  if (!s) return NULL;
  s->server = server;
  s->cb = *cb;
  s->arg = arg;
  s->send = cb->send;
  s->send_arg = arg;
  s->next_id = server ? 2 : 1;
  size_t dlen;
  const unsigned char *dict = kl_spdy_dictionary(&dlen);
  if (inflateInit(&s->in) != Z_OK) goto fail;
  s->in_ready = true;
  if (deflateInit(&s->out, Z_DEFAULT_COMPRESSION) != Z_OK) goto fail;
  s->out_ready = true;
  if (deflateSetDictionary(&s->out, dict, (uInt)dlen) != Z_OK) goto fail;
  return s;
fail:
  kl_spdy_free(s);
  return NULL;
}

void kl_spdy_free(struct kl_spdy *s)
{
  if (!s) return;
  if (s->in_ready) inflateEnd(&s->in);
  if (s->out_ready) deflateEnd(&s->out);
  free(s->buf);
  free(s->streams);
  free(s);
}

const char *kl_spdy_header_get(const struct kl_spdy_header *h, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcasecmp(h[i].name, name) == 0) return h[i].value;
  return NULL;
}

/* --- output --- */

void kl_spdy_set_sender(struct kl_spdy *s, int (*send)(const void *data, size_t len, void *arg), void *send_arg)
{
  s->send = send;
  s->send_arg = send_arg;
}

static int send_bytes(struct kl_spdy *s, const void *p, size_t len)
{
  if (!s->send) return -EPIPE;
  return s->send(p, len, s->send_arg) < 0 ? -EPIPE : 0;
}

static void control_header(unsigned char *p, enum kl_spdy_type type, uint8_t flags, size_t len)
{
  p[0] = 0x80;
  p[1] = KL_SPDY_VERSION;
  p[2] = (unsigned char)(type >> 8);
  p[3] = (unsigned char)type;
  p[4] = flags;
  p[5] = (unsigned char)(len >> 16);
  p[6] = (unsigned char)(len >> 8);
  p[7] = (unsigned char)len;
}

/* Compresses a header block; *out is malloc'd. */
static int encode_headers(struct kl_spdy *s, const struct kl_spdy_header *h, size_t n, unsigned char **out,
                          size_t *outlen)
{
  size_t raw_len = 4;
  for (size_t i = 0; i < n; i++) raw_len += 8 + strlen(h[i].name) + strlen(h[i].value);
  unsigned char *raw = xmalloc(raw_len);
  if (!raw) return -ENOMEM;
  put32(raw, (uint32_t)n);
  size_t off = 4;
  for (size_t i = 0; i < n; i++) {
    size_t nl = strlen(h[i].name), vl = strlen(h[i].value);
    put32(raw + off, (uint32_t)nl);
    for (size_t k = 0; k < nl; k++)
      raw[off + 4 + k] = (unsigned char)(h[i].name[k] | (h[i].name[k] >= 'A' && h[i].name[k] <= 'Z' ? 0x20 : 0));
    off += 4 + nl;
    put32(raw + off, (uint32_t)vl);
    memcpy(raw + off + 4, h[i].value, vl);
    off += 4 + vl;
  }
  size_t cap = deflateBound(&s->out, (uLong)raw_len) + 64;
  unsigned char *z = xmalloc(cap);
  int rc = -ENOMEM;
  if (z) {
    s->out.next_in = raw;
    s->out.avail_in = (uInt)raw_len;
    s->out.next_out = z;
    s->out.avail_out = (uInt)cap;
    int zr = deflate(&s->out, Z_SYNC_FLUSH);
    if (zr == Z_OK && s->out.avail_in == 0 && s->out.avail_out > 0) {
      *out = z;
      *outlen = cap - s->out.avail_out;
      z = NULL;
      rc = 0;
    } else {
      rc = -EIO;
    }
  }
  free(z);
  free(raw);
  return rc;
}

/* A control frame with a stream id (and optional prefix) and a header block. */
static int send_headers_frame(struct kl_spdy *s, enum kl_spdy_type type, uint8_t flags, const unsigned char *prefix,
                              size_t plen, const struct kl_spdy_header *h, size_t n)
{
  unsigned char *z;
  size_t zlen;
  int rc = encode_headers(s, h, n, &z, &zlen);
  if (rc < 0) return rc;
  size_t len = plen + zlen;
  unsigned char *f = xmalloc(FRAME_HEADER_BYTES + len);
  if (!f) {
    free(z);
    return -ENOMEM;
  }
  control_header(f, type, flags, len);
  memcpy(f + FRAME_HEADER_BYTES, prefix, plen);
  memcpy(f + FRAME_HEADER_BYTES + plen, z, zlen);
  rc = send_bytes(s, f, FRAME_HEADER_BYTES + len);
  free(f);
  free(z);
  return rc;
}

int kl_spdy_open(struct kl_spdy *s, const struct kl_spdy_header *h, size_t n, bool fin, uint32_t *id)
{
  if (s->next_id > 0x7fffffff) return -ENOSPC;
  uint32_t sid = s->next_id;
  unsigned char prefix[10] = {0};
  put32(prefix, sid);
  int rc = send_headers_frame(s, KL_SPDY_SYN_STREAM, fin ? KL_SPDY_FLAG_FIN : 0, prefix, sizeof prefix, h, n);
  if (rc < 0) return rc;
  s->next_id += 2;
  struct stream *st = stream_add(s, sid);
  if (!st) return -ENOMEM;
  st->local_closed = fin;
  *id = sid;
  return 0;
}

int kl_spdy_reply(struct kl_spdy *s, uint32_t id, const struct kl_spdy_header *h, size_t n, bool fin)
{
  struct stream *st = stream_find(s, id);
  if (!st || st->local_closed) return -ENOENT;
  unsigned char prefix[4];
  put32(prefix, id);
  int rc = send_headers_frame(s, KL_SPDY_SYN_REPLY, fin ? KL_SPDY_FLAG_FIN : 0, prefix, sizeof prefix, h, n);
  if (rc == 0 && fin) {
    st->local_closed = true;
    stream_maybe_done(s, id);
  }
  return rc;
}

int kl_spdy_data(struct kl_spdy *s, uint32_t id, const void *data, size_t len, bool fin)
{
  struct stream *st = stream_find(s, id);
  if (!st || st->local_closed) return -ENOENT;
  unsigned char f[FRAME_HEADER_BYTES + DATA_CHUNK_BYTES];
  const unsigned char *p = data;
  do {
    size_t chunk = len > DATA_CHUNK_BYTES ? DATA_CHUNK_BYTES : len;
    bool last = chunk == len;
    put32(f, id & 0x7fffffff);
    f[4] = (last && fin) ? KL_SPDY_FLAG_FIN : 0;
    f[5] = (unsigned char)(chunk >> 16);
    f[6] = (unsigned char)(chunk >> 8);
    f[7] = (unsigned char)chunk;
    if (chunk) memcpy(f + FRAME_HEADER_BYTES, p, chunk);
    int rc = send_bytes(s, f, FRAME_HEADER_BYTES + chunk);
    if (rc < 0) return rc;
    p += chunk;
    len -= chunk;
  } while (len > 0);
  if (fin) {
    st->local_closed = true;
    stream_maybe_done(s, id);
  }
  return 0;
}

int kl_spdy_reset(struct kl_spdy *s, uint32_t id, uint32_t status)
{
  unsigned char f[16];
  control_header(f, KL_SPDY_RST_STREAM, 0, 8);
  put32(f + 8, id & 0x7fffffff);
  put32(f + 12, status);
  stream_remove(s, id);
  return send_bytes(s, f, sizeof f);
}

int kl_spdy_ping(struct kl_spdy *s, uint32_t ping_id)
{
  unsigned char f[12];
  control_header(f, KL_SPDY_PING, 0, 4);
  put32(f + 8, ping_id);
  return send_bytes(s, f, sizeof f);
}

int kl_spdy_goaway(struct kl_spdy *s, uint32_t status)
{
  unsigned char f[16];
  control_header(f, KL_SPDY_GOAWAY, 0, 8);
  put32(f + 8, s->last_peer_id);
  put32(f + 12, status);
  return send_bytes(s, f, sizeof f);
}

/* --- input --- */

/* Inflates one header block into a malloc'd buffer. */
static int inflate_block(struct kl_spdy *s, const unsigned char *z, size_t zlen, unsigned char **out, size_t *outlen)
{
  size_t cap = 1024, len = 0;
  unsigned char *raw = xmalloc(cap);
  if (!raw) return -ENOMEM;
  s->in.next_in = (unsigned char *)z;
  s->in.avail_in = (uInt)zlen;
  for (;;) {
    if (len == cap) {
      if (cap >= KL_SPDY_MAX_HEADER_BYTES) goto too_big;
      cap *= 2;
      unsigned char *n = xrealloc(raw, cap);
      if (!n) goto nomem;
      raw = n;
    }
    s->in.next_out = raw + len;
    s->in.avail_out = (uInt)(cap - len);
    int zr = inflate(&s->in, Z_SYNC_FLUSH);
    if (zr == Z_NEED_DICT) {
      size_t dlen;
      const unsigned char *dict = kl_spdy_dictionary(&dlen);
      if (inflateSetDictionary(&s->in, dict, (uInt)dlen) != Z_OK) goto bad;
      zr = inflate(&s->in, Z_SYNC_FLUSH);
    }
    len = cap - s->in.avail_out;
    if (zr != Z_OK && zr != Z_BUF_ERROR) goto bad;
    if (s->in.avail_in == 0 && s->in.avail_out > 0) break;
    if (zr == Z_BUF_ERROR && s->in.avail_out > 0) goto bad;
  }
  *out = raw;
  *outlen = len;
  return 0;
too_big:
  free(raw);
  return -EMSGSIZE;
nomem:
  free(raw);
  return -ENOMEM;
bad:
  free(raw);
  return -EPROTO;
}

/* Parses a decompressed block into *hp: one allocation holding the array
 * and NUL-terminated copies of every name and value. */
static int parse_block(const unsigned char *raw, size_t len, struct kl_spdy_header **hp, size_t *np)
{
  if (len < 4) return -EPROTO;
  uint32_t n = get32(raw);
  if (n > len / 8) return -EPROTO; /* each pair needs at least two lengths */
  size_t need = (size_t)n * sizeof(struct kl_spdy_header) + len;
  struct kl_spdy_header *h = xmalloc(need ? need : 1);
  if (!h) return -ENOMEM;
  char *store = (char *)(h + n);
  size_t off = 4;
  for (uint32_t i = 0; i < n; i++) {
    const char **slot[2] = {&h[i].name, &h[i].value};
    for (int k = 0; k < 2; k++) {
      if (len - off < 4) goto bad;
      uint32_t l = get32(raw + off);
      off += 4;
      if (l > len - off) goto bad;
      if (k == 0 && l == 0) goto bad; /* empty header name */
      memcpy(store, raw + off, l);
      store[l] = '\0';
      *slot[k] = store;
      store += l + 1;
      off += l;
    }
  }
  if (off != len) goto bad;
  *hp = h;
  *np = n;
  return 0;
bad:
  free(h);
  return -EPROTO;
}

static int decode_headers(struct kl_spdy *s, const unsigned char *z, size_t zlen, struct kl_spdy_header **h, size_t *n)
{
  unsigned char *raw;
  size_t rlen;
  int rc = inflate_block(s, z, zlen, &raw, &rlen);
  if (rc < 0) return rc;
  rc = parse_block(raw, rlen, h, n);
  free(raw);
  return rc;
}

static int session_error(struct kl_spdy *s, int rc)
{
  if (!s->failed) {
    s->failed = true;
    kl_spdy_goaway(s, 1 /* PROTOCOL_ERROR */);
  }
  return rc;
}

static int on_syn_stream(struct kl_spdy *s, uint8_t flags, const unsigned char *p, size_t len)
{
  if (len < 10) return -EPROTO;
  uint32_t id = get32(p) & 0x7fffffff;
  struct kl_spdy_header *h;
  size_t n;
  int rc = decode_headers(s, p + 10, len - 10, &h, &n);
  if (rc < 0) return rc;
  bool peer_parity = s->server ? (id & 1) == 1 : (id & 1) == 0;
  if (id == 0 || !peer_parity || id <= s->last_peer_id || stream_find(s, id)) {
    free(h);
    return id == 0 ? -EPROTO : kl_spdy_reset(s, id, KL_SPDY_PROTOCOL_ERROR);
  }
  s->last_peer_id = id;
  struct stream *st = stream_add(s, id);
  if (!st) {
    free(h);
    return -ENOMEM;
  }
  st->remote_closed = flags & KL_SPDY_FLAG_FIN;
  st->local_closed = flags & KL_SPDY_FLAG_UNIDIRECTIONAL;
  if (s->cb.on_stream) s->cb.on_stream(s, id, h, n, flags & KL_SPDY_FLAG_FIN, s->arg);
  free(h);
  return 0;
}

static int on_syn_reply(struct kl_spdy *s, uint8_t flags, const unsigned char *p, size_t len)
{
  if (len < 4) return -EPROTO;
  uint32_t id = get32(p) & 0x7fffffff;
  struct kl_spdy_header *h;
  size_t n;
  int rc = decode_headers(s, p + 4, len - 4, &h, &n);
  if (rc < 0) return rc;
  struct stream *st = stream_find(s, id);
  if (!st) {
    free(h);
    return kl_spdy_reset(s, id, KL_SPDY_INVALID_STREAM);
  }
  if (flags & KL_SPDY_FLAG_FIN) st->remote_closed = true;
  if (s->cb.on_reply) s->cb.on_reply(s, id, h, n, flags & KL_SPDY_FLAG_FIN, s->arg);
  free(h);
  stream_maybe_done(s, id);
  return 0;
}

static int on_control(struct kl_spdy *s, const unsigned char *f, size_t len)
{
  unsigned version = ((unsigned)(f[0] & 0x7f) << 8) | f[1];
  unsigned type = ((unsigned)f[2] << 8) | f[3];
  uint8_t flags = f[4];
  const unsigned char *p = f + FRAME_HEADER_BYTES;
  if (version != KL_SPDY_VERSION) return -EPROTO;
  switch (type) {
  case KL_SPDY_SYN_STREAM: return on_syn_stream(s, flags, p, len);
  case KL_SPDY_SYN_REPLY: return on_syn_reply(s, flags, p, len);
  case KL_SPDY_RST_STREAM: {
    if (len != 8) return -EPROTO;
    uint32_t id = get32(p) & 0x7fffffff;
    bool known = stream_find(s, id) != NULL;
    stream_remove(s, id);
    if (known && s->cb.on_reset) s->cb.on_reset(s, id, get32(p + 4), s->arg);
    return 0;
  }
  case KL_SPDY_SETTINGS:
    if (len < 4 || (len - 4) / 8 != get32(p) || (len - 4) % 8) return -EPROTO;
    return 0;
  case KL_SPDY_PING: {
    if (len != 4) return -EPROTO;
    uint32_t pid = get32(p);
    bool from_peer = s->server ? (pid & 1) == 1 : (pid & 1) == 0;
    return from_peer ? kl_spdy_ping(s, pid) : 0;
  }
  case KL_SPDY_GOAWAY:
    if (len != 8) return -EPROTO;
    if (s->cb.on_goaway) s->cb.on_goaway(s, get32(p) & 0x7fffffff, get32(p + 4), s->arg);
    return 0;
  case KL_SPDY_HEADERS: {
    if (len < 4) return -EPROTO;
    struct kl_spdy_header *h;
    size_t n;
    int rc = decode_headers(s, p + 4, len - 4, &h, &n); /* keeps the zlib stream in step */
    if (rc == 0) free(h);
    return rc;
  }
  case KL_SPDY_WINDOW_UPDATE: return len == 8 ? 0 : -EPROTO;
  default: return 0; /* unknown control frames are ignored (draft 3, 2.2.1) */
  }
}

static int on_data_frame(struct kl_spdy *s, const unsigned char *f, size_t len)
{
  uint32_t id = get32(f) & 0x7fffffff;
  uint8_t flags = f[4];
  if (id == 0) return -EPROTO;
  struct stream *st = stream_find(s, id);
  if (!st) return kl_spdy_reset(s, id, KL_SPDY_INVALID_STREAM);
  if (st->remote_closed) return kl_spdy_reset(s, id, KL_SPDY_STREAM_ALREADY_CLOSED);
  if (flags & KL_SPDY_FLAG_FIN) st->remote_closed = true;
  if (len && s->cb.on_data) s->cb.on_data(s, id, f + FRAME_HEADER_BYTES, len, s->arg);
  if ((flags & KL_SPDY_FLAG_FIN) && stream_find(s, id)) {
    if (s->cb.on_fin) s->cb.on_fin(s, id, s->arg);
    stream_maybe_done(s, id);
  }
  return 0;
}

static int buffer_input(struct kl_spdy *s, const void *data, size_t len)
{
  if (len == 0) return 0;
  if (s->start && s->start + s->len + len > s->cap) {
    memmove(s->buf, s->buf + s->start, s->len);
    s->start = 0;
  }
  if (s->len + len > s->cap) {
    size_t cap = s->cap ? s->cap : 16384;
    while (cap < s->len + len) cap *= 2;
    unsigned char *n = xrealloc(s->buf, cap);
    if (!n) return -ENOMEM;
    s->buf = n;
    s->cap = cap;
  }
  memcpy(s->buf + s->start + s->len, data, len);
  s->len += len;
  return 0;
}

int kl_spdy_feed(struct kl_spdy *s, const void *data, size_t len)
{
  if (s->failed) return -EPROTO;
  int rc = buffer_input(s, data, len);
  if (rc < 0) return session_error(s, rc);
  while (s->len >= FRAME_HEADER_BYTES) {
    const unsigned char *f = s->buf + s->start;
    size_t flen = (size_t)f[5] << 16 | (size_t)f[6] << 8 | f[7];
    if (s->len < FRAME_HEADER_BYTES + flen) break;
    rc = (f[0] & 0x80) ? on_control(s, f, flen) : on_data_frame(s, f, flen);
    s->start += FRAME_HEADER_BYTES + flen;
    s->len -= FRAME_HEADER_BYTES + flen;
    if (rc == -EPIPE) return rc;
    if (rc < 0) return session_error(s, rc);
  }
  if (s->len == 0) s->start = 0;
  return 0;
}
