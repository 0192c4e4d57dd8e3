/*
 * http_request.c - the request side of the HTTP layer: storage of the
 * request line and headers as the parser hands them over, and the
 * accessors handlers use.
 *
 * http-parser delivers the URL, header names and values in pieces (a
 * piece ends wherever a read() ended).  They are appended to one arena,
 * each string NUL-terminated, addressed by offsets while the arena may
 * still grow.  When the header block is complete the offsets become
 * pointers, repeated headers are joined, and the URL is split into raw
 * path, decoded path and query.  Small requests live entirely inside the
 * request's own allocation.  Query parameters are decoded lazily, on the
 * first http_req_param call.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "kube/xalloc.h"

/* Freed requests kept for the next ones: a request is a few KB, and
 * allocating that much per request makes malloc sort and merge its bins on
 * every one.  Like the rest of the HTTP layer this runs on one thread at a
 * time (the event loop's), so the list needs no lock. */
#define HTTP_REQ_SPARE 64
static struct http_request *spare_reqs[HTTP_REQ_SPARE];
static int nspare_reqs;

struct http_request *http_req_new(struct http_conn *c)
{
  struct http_request *r = nspare_reqs > 0 ? spare_reqs[--nspare_reqs] : xmalloc(sizeof(*r));
  if (!r) return NULL;
  /* Only the head needs clearing; the inline arrays are written before read. */
  memset(r, 0, offsetof(struct http_request, inline_hdrs));
  r->conn = c;
  r->arena = r->inline_arena;
  r->arena_cap = sizeof(r->inline_arena);
  r->hdrs = r->inline_hdrs;
  r->hdrs_cap = HTTP_REQ_INLINE_HEADERS;
  r->last_cb = HTTP_CB_NONE;
  r->query = "";
  return r;
}

void http_req_free(struct http_request *r)
{
  if (!r) return;
  if (r->arena != r->inline_arena) free(r->arena);
  if (r->hdrs != r->inline_hdrs) free(r->hdrs);
  free(r->body);
  free(r->qbuf);
  free(r->params);
  for (unsigned i = 0; i < r->njoined; i++) free(r->joined[i]);
  free(r->joined);
  free(r->out_hdrs);
  if (nspare_reqs < HTTP_REQ_SPARE) spare_reqs[nspare_reqs++] = r;
  else free(r);
}

static int arena_reserve(struct http_request *r, size_t extra)
{
  if (r->arena_len + extra <= r->arena_cap) return 0;
  size_t cap = r->arena_cap * 2;
  while (cap < r->arena_len + extra) cap *= 2;
  if (cap > UINT32_MAX) return -1;
  char *a;
  if (r->arena == r->inline_arena) {
    a = xmalloc(cap);
    if (a) memcpy(a, r->arena, r->arena_len);
  } else {
    a = xrealloc(r->arena, cap);
  }
  if (!a) return -1;
  r->arena = a;
  r->arena_cap = cap;
  return 0;
}

int http_req_arena_append(struct http_request *r, const char *p, size_t n)
{
  if (arena_reserve(r, n + 1) < 0) return -1;
  memcpy(r->arena + r->arena_len, p, n);
  r->arena_len += n;
  return 0;
}

/* Ends the string that is growing and records it (URL, name or value). */
void http_req_terminate_string(struct http_request *r)
{
  if (r->last_cb == HTTP_CB_NONE) return;
  /* http_req_arena_append always leaves room for this byte. */
  r->arena[r->arena_len] = '\0';
  uint32_t len = (uint32_t)(r->arena_len - r->cur_off);
  r->arena_len++;
  if (r->last_cb == HTTP_CB_URL) {
    r->url_off = r->cur_off;
    r->url_len = len;
  } else if (r->last_cb == HTTP_CB_FIELD) {
    struct http_hdr *h = &r->hdrs[r->nhdrs - 1];
    h->name_off = r->cur_off;
    h->name_len = len;
  } else {
    struct http_hdr *h = &r->hdrs[r->nhdrs - 1];
    h->val_off = r->cur_off;
    h->val_len = len;
  }
  r->last_cb = HTTP_CB_NONE;
}

static int add_header_slot(struct http_request *r)
{
  if (r->nhdrs == r->hdrs_cap) {
    unsigned cap = r->hdrs_cap * 2;
    struct http_hdr *h;
    if (r->hdrs == r->inline_hdrs) {
      h = xmalloc(cap * sizeof(*h));
      if (h) memcpy(h, r->hdrs, r->nhdrs * sizeof(*h));
    } else {
      h = xrealloc(r->hdrs, cap * sizeof(*h));
    }
    if (!h) return -1;
    r->hdrs = h;
    r->hdrs_cap = cap;
  }
  struct http_hdr *h = &r->hdrs[r->nhdrs++];
  memset(h, 0, sizeof(*h));
  return 0;
}

/* Starts or continues the string of kind `kind` (called from the parser
 * callbacks with each piece). */
int http_req_piece(struct http_request *r, int kind, const char *p, size_t n)
{
  if (r->last_cb != kind) {
    http_req_terminate_string(r);
    if (kind == HTTP_CB_FIELD && add_header_slot(r) < 0) return -1;
    r->cur_off = (uint32_t)r->arena_len;
    r->last_cb = kind;
  }
  return http_req_arena_append(r, p, n);
}

static int hexval(int c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes src[0..n) into dst (which may equal src); returns the
 * decoded length.  Malformed escapes are kept as they are. */
static size_t percent_decode(char *dst, const char *src, size_t n, bool plus_is_space)
{
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = src[i];
    if (ch == '%' && i + 2 < n) {
      int hi = hexval((unsigned char)src[i + 1]), lo = hexval((unsigned char)src[i + 2]);
      if (hi >= 0 && lo >= 0) {
        dst[o++] = (char)(hi * 16 + lo);
        i += 2;
        continue;
      }
    } else if (ch == '+' && plus_is_space) {
      ch = ' ';
    }
    dst[o++] = ch;
  }
  dst[o] = '\0';
  return o;
}

int http_req_finalize_head(struct http_request *r)
{
  http_req_terminate_string(r);

  /* Split the URL: origin-form "/p?q", or absolute-form "http://h/p?q". */
  uint32_t path_off = r->url_off, path_len = r->url_len;
  char *url = r->arena + r->url_off;
  if (url[0] != '/' && url[0] != '*') {
    char *scheme_end = strstr(url, "://");
    if (scheme_end) {
      char *slash = strchr(scheme_end + 3, '/');
      uint32_t skip = slash ? (uint32_t)(slash - url) : path_len;
      path_off += skip;
      path_len -= skip;
    }
  }
  char *p = r->arena + path_off;
  uint32_t query_off = UINT32_MAX;
  char *hash = memchr(p, '#', path_len);
  if (hash) {
    *hash = '\0';
    path_len = (uint32_t)(hash - p);
  }
  char *q = memchr(p, '?', path_len);
  if (q) {
    *q = '\0';
    query_off = (uint32_t)(q + 1 - r->arena);
    path_len = (uint32_t)(q - p);
  }
  uint32_t decoded_off = path_off;
  if (path_len == 0) {
    /* "http://host" or "?x": the path is "/". */
    if (arena_reserve(r, 2) < 0) return -1;
    decoded_off = path_off = (uint32_t)r->arena_len;
    memcpy(r->arena + r->arena_len, "/", 2);
    r->arena_len += 2;
  } else if (memchr(p, '%', path_len)) {
    if (arena_reserve(r, path_len + 1) < 0) return -1;
    decoded_off = (uint32_t)r->arena_len;
    size_t n = percent_decode(r->arena + decoded_off, r->arena + path_off, path_len, false);
    r->arena_len += n + 1;
  }
  /* The arena does not move from here on. */
  r->raw_path = r->arena + path_off;
  r->path = r->arena + decoded_off;
  r->query = query_off == UINT32_MAX ? "" : r->arena + query_off;

  for (unsigned i = 0; i < r->nhdrs; i++) {
    struct http_hdr *h = &r->hdrs[i];
    h->name = r->arena + h->name_off;
    if (h->val_off == 0 && h->val_len == 0) {
      /* "Name:" with an empty value: the parser never called on_value. */
      h->value = "";
      continue;
    }
    char *v = r->arena + h->val_off;
    while (h->val_len > 0 && (v[h->val_len - 1] == ' ' || v[h->val_len - 1] == '\t')) v[--h->val_len] = '\0';
    h->value = v;
  }
  /* Repeated headers become one, joined with ", " (as Go's Header.Get
   * would show them once joined); quadratic, but n is small. */
  for (unsigned i = 0; i + 1 < r->nhdrs; i++) {
    struct http_hdr *h = &r->hdrs[i];
    if (!h->name) continue;
    for (unsigned j = i + 1; j < r->nhdrs; j++) {
      struct http_hdr *d = &r->hdrs[j];
      if (!d->name || d->name_len != h->name_len || strcasecmp(d->name, h->name) != 0) continue;
      size_t a = strlen(h->value), b = strlen(d->value);
      char *j2 = xmalloc(a + b + 3);
      char **nj = xrealloc(r->joined, (r->njoined + 1) * sizeof(*nj));
      if (!j2 || !nj) {
        free(j2);
        if (nj) r->joined = nj;
        return -1;
      }
      r->joined = nj;
      memcpy(j2, h->value, a);
      memcpy(j2 + a, ", ", 2);
      memcpy(j2 + a + 2, d->value, b + 1);
      r->joined[r->njoined++] = j2;
      h->value = j2;
      d->name = NULL;
    }
  }
  return 0;
}

/* --- accessors --- */

const char *http_req_method(const struct http_request *r) { return r->method; }
const char *http_req_path(const struct http_request *r) { return r->path; }
const char *http_req_raw_path(const struct http_request *r) { return r->raw_path; }
const char *http_req_query(const struct http_request *r) { return r->query; }
const char *http_req_peer(const struct http_request *r) { return r->conn->peer; }

void *http_req_ssl(const struct http_request *r) { return r->conn && r->conn->bev ? r->conn->ssl : NULL; }
void http_req_set_data(struct http_request *r, void *data) { r->data = data; }
void *http_req_data(const struct http_request *r) { return r->data; }

void http_req_on_close(struct http_request *r, http_close_fn cb, void *arg)
{
  r->on_close = cb;
  r->on_close_arg = arg;
}

const char *http_req_header(const struct http_request *r, const char *name)
{
  size_t n = strlen(name);
  for (unsigned i = 0; i < r->nhdrs; i++) {
    const struct http_hdr *h = &r->hdrs[i];
    if (h->name && h->name_len == n && strcasecmp(h->name, name) == 0) return h->value;
  }
  return NULL;
}

size_t http_req_header_count(const struct http_request *r) { return r->nhdrs; }

const char *http_req_header_at(const struct http_request *r, size_t i, const char **value)
{
  if (i >= r->nhdrs || !r->hdrs[i].name) return NULL;
  *value = r->hdrs[i].value;
  return r->hdrs[i].name;
}

const char *http_req_body(const struct http_request *r, size_t *len)
{
  if (len) *len = r->body_len;
  return r->body ? r->body : "";
}

static int parse_params(struct http_request *r)
{
  r->params_parsed = true;
  size_t qlen = strlen(r->query);
  if (qlen == 0) return 0;
  unsigned max = 1;
  for (size_t i = 0; i < qlen; i++) max += r->query[i] == '&';
  r->qbuf = xmalloc(qlen + 1);
  r->params = xmalloc(max * sizeof(*r->params));
  if (!r->qbuf || !r->params) return -1;
  memcpy(r->qbuf, r->query, qlen + 1);
  char *s = r->qbuf;
  while (s) {
    char *amp = strchr(s, '&');
    if (amp) *amp = '\0';
    if (*s) {
      char *eq = strchr(s, '=');
      char *v = "";
      if (eq) {
        *eq = '\0';
        v = eq + 1;
        percent_decode(v, v, strlen(v), true);
      }
      percent_decode(s, s, strlen(s), true);
      r->params[r->nparams].key = s;
      r->params[r->nparams].value = v;
      r->nparams++;
    }
    s = amp ? amp + 1 : NULL;
  }
  return 0;
}

const char *http_req_param(struct http_request *r, const char *key)
{
  if (!r->params_parsed && parse_params(r) < 0) return NULL;
  for (unsigned i = 0; i < r->nparams; i++)
    if (strcmp(r->params[i].key, key) == 0) return r->params[i].value;
  return NULL;
}
