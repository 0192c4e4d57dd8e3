/*
 * json.c - path access and serialization helpers over jansson.
 *
 * A path is compiled into a short list of steps before it is walked: a step
 * is either an object key or an array index.  Keys are separated by dots;
 * "[N]" indexes an array; ["key"] names a key that contains dots, slashes
 * or brackets (label keys such as app.kubernetes.io/name), with \" and \\
 * escapes inside the quotes.  Readers return borrowed references and never
 * allocate beyond the step list; writers create intermediate objects (never
 * arrays) and treat an explicit JSON null like an absent member, because
 * clients routinely send "labels": null.
 */
#include "kube/json.h"
#include "kube/xalloc.h"
#include "json_internal.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kj_step {
  char *key; /* NULL for an index step */
  size_t index;
};

/* Paths are compiled on every access, so short ones (all of them in
 * practice) live on the stack: steps and key text in inline arrays, the
 * heap only past them. */
#define KJ_INLINE_STEPS 8
#define KJ_INLINE_TEXT 192

struct kj_path {
  struct kj_step *steps;
  size_t n, cap;
  struct kj_step inl[KJ_INLINE_STEPS];
  char text[KJ_INLINE_TEXT];
  size_t used;
};

static bool kj_key_inline(const struct kj_path *p, const char *key)
{
  return key >= p->text && key < p->text + KJ_INLINE_TEXT;
}

static void kj_path_free(struct kj_path *p)
{
  for (size_t i = 0; i < p->n; i++)
    if (p->steps[i].key && !kj_key_inline(p, p->steps[i].key)) free(p->steps[i].key);
  if (p->steps != p->inl) free(p->steps);
  p->steps = p->inl;
  p->n = 0;
  p->cap = KJ_INLINE_STEPS;
  p->used = 0;
}

/* Room for a key of len bytes plus its NUL, inline if it fits. */
static char *kj_path_key(struct kj_path *p, size_t len)
{
  if (KJ_INLINE_TEXT - p->used > len) {
    char *k = p->text + p->used;
    p->used += len + 1;
    return k;
  }
  return xmalloc(len + 1);
}

static void kj_path_key_drop(struct kj_path *p, char *key)
{
  if (!kj_key_inline(p, key)) free(key);
}

static int kj_path_push(struct kj_path *p, char *key, size_t index)
{
  if (p->n == p->cap) {
    size_t ncap = p->cap * 2;
    struct kj_step *s;
    if (p->steps == p->inl) {
      s = xmalloc(ncap * sizeof *s);
      if (s) memcpy(s, p->inl, p->n * sizeof *s);
    } else {
      s = xrealloc(p->steps, ncap * sizeof *s);
    }
    if (!s) {
      if (key) kj_path_key_drop(p, key);
      return -ENOMEM;
    }
    p->steps = s;
    p->cap = ncap;
  }
  p->steps[p->n].key = key;
  p->steps[p->n].index = index;
  p->n++;
  return 0;
}

/* Returns 0 or -EINVAL for a malformed path (empty segment, bad index,
 * unterminated quote). */
static int kj_path_compile(const char *path, struct kj_path *out)
{
  const char *p = path;
  out->steps = out->inl;
  out->n = 0;
  out->cap = KJ_INLINE_STEPS;
  out->used = 0;
  if (!path || !*path) return -EINVAL;
  for (;;) {
    if (*p == '[') {
      p++;
      if (*p == '"') {
        p++;
        size_t o = 0;
        char *key = kj_path_key(out, strlen(p));
        if (!key) goto nomem;
        while (*p && *p != '"') {
          if (*p == '\\' && p[1]) p++;
          key[o++] = *p++;
        }
        key[o] = '\0';
        if (p[0] != '"' || p[1] != ']') {
          kj_path_key_drop(out, key);
          goto bad;
        }
        p += 2;
        if (kj_path_push(out, key, 0) < 0) goto nomem;
      } else {
        if (*p < '0' || *p > '9') goto bad;
        size_t idx = 0;
        while (*p >= '0' && *p <= '9') {
          if (idx > (SIZE_MAX - 9) / 10) goto bad;
          idx = idx * 10 + (size_t)(*p++ - '0');
        }
        if (*p++ != ']') goto bad;
        if (kj_path_push(out, NULL, idx) < 0) goto nomem;
      }
    } else {
      size_t len = strcspn(p, ".[");
      if (len == 0) goto bad;
      char *key = kj_path_key(out, len);
      if (!key) goto nomem;
      memcpy(key, p, len);
      key[len] = '\0';
      if (kj_path_push(out, key, 0) < 0) goto nomem;
      p += len;
    }
    if (*p == '\0') return 0;
    if (*p == '.') {
      p++;
      if (*p == '\0' || *p == '.') goto bad;
    } else if (*p != '[') {
      goto bad;
    }
  }
bad:
  kj_path_free(out);
  return -EINVAL;
nomem:
  kj_path_free(out);
  return -ENOMEM;
}

static json_t *kj_step_get(const json_t *cur, const struct kj_step *s)
{
  if (s->key) return json_is_object(cur) ? json_object_get(cur, s->key) : NULL;
  return json_is_array(cur) ? json_array_get(cur, s->index) : NULL;
}

json_t *kj_get(const json_t *root, const char *path)
{
  struct kj_path p;
  if (!root || kj_path_compile(path, &p) < 0) return NULL;
  json_t *cur = (json_t *)root;
  for (size_t i = 0; i < p.n && cur; i++) cur = kj_step_get(cur, &p.steps[i]);
  kj_path_free(&p);
  return cur;
}

const char *kj_get_str(const json_t *root, const char *path)
{
  json_t *v = kj_get(root, path);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t kj_get_int(const json_t *root, const char *path, int64_t dflt)
{
  json_t *v = kj_get(root, path);
  if (json_is_integer(v)) return (int64_t)json_integer_value(v);
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (d >= -9.2e18 && d <= 9.2e18 && d == (double)(int64_t)d) return (int64_t)d;
  }
  return dflt;
}

bool kj_get_bool(const json_t *root, const char *path, bool dflt)
{
  json_t *v = kj_get(root, path);
  return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/*
 * Walks to the container holding the last step, creating objects on the
 * way.  Returns the parent (borrowed) or NULL with *rc set.
 */
static json_t *kj_walk_parent(json_t *root, const struct kj_path *p, int *rc)
{
  json_t *cur = root;
  for (size_t i = 0; i + 1 < p->n; i++) {
    const struct kj_step *s = &p->steps[i];
    json_t *next;
    if (s->key) {
      if (!json_is_object(cur)) {
        *rc = -EINVAL;
        return NULL;
      }
      next = json_object_get(cur, s->key);
      if (!next || json_is_null(next)) {
        /* The next step decides what we would need to create; only objects
         * can be made up, since an index into a fresh array is out of range. */
        if (!p->steps[i + 1].key) {
          *rc = -ENOENT;
          return NULL;
        }
        next = json_object();
        if (!next || json_object_set_new(cur, s->key, next) < 0) {
          *rc = -ENOMEM;
          return NULL;
        }
      }
    } else {
      if (!json_is_array(cur)) {
        *rc = -EINVAL;
        return NULL;
      }
      next = json_array_get(cur, s->index);
      if (!next) {
        *rc = -ENOENT;
        return NULL;
      }
    }
    cur = next;
  }
  return cur;
}

/* Stores value (stolen on every path) as the last step under parent. */
static int kj_put(json_t *parent, const struct kj_step *last, json_t *value)
{
  if (last->key) {
    if (!json_is_object(parent)) {
      json_decref(value);
      return -EINVAL;
    }
    return json_object_set_new(parent, last->key, value) < 0 ? -ENOMEM : 0;
  }
  if (!json_is_array(parent)) {
    json_decref(value);
    return -EINVAL;
  }
  size_t size = json_array_size(parent);
  if (last->index < size) return json_array_set_new(parent, last->index, value) < 0 ? -ENOMEM : 0;
  if (last->index == size) return json_array_append_new(parent, value) < 0 ? -ENOMEM : 0;
  json_decref(value);
  return -ENOENT;
}

int kj_set(json_t *root, const char *path, json_t *value)
{
  struct kj_path p;
  int rc = 0;
  if (!value) return -EINVAL;
  if (!root || (rc = kj_path_compile(path, &p)) < 0) {
    json_decref(value);
    return rc < 0 ? rc : -EINVAL;
  }
  json_t *parent = kj_walk_parent(root, &p, &rc);
  if (!parent) {
    json_decref(value);
    kj_path_free(&p);
    return rc;
  }
  rc = kj_put(parent, &p.steps[p.n - 1], value);
  kj_path_free(&p);
  return rc;
}

int kj_set_str(json_t *root, const char *path, const char *s)
{
  return kj_set(root, path, s ? json_string(s) : json_null());
}

int kj_set_int(json_t *root, const char *path, int64_t v) { return kj_set(root, path, json_integer((json_int_t)v)); }

int kj_default(json_t *root, const char *path, json_t *value)
{
  json_t *cur = kj_get(root, path);
  if (cur && !json_is_null(cur)) {
    json_decref(value);
    return 0;
  }
  int rc = kj_set(root, path, value);
  return rc < 0 ? rc : 1;
}

int kj_del(json_t *root, const char *path)
{
  struct kj_path p;
  int rc;
  if (!root || (rc = kj_path_compile(path, &p)) < 0) return -EINVAL;
  json_t *parent = root;
  for (size_t i = 0; i + 1 < p.n && parent; i++) parent = kj_step_get(parent, &p.steps[i]);
  const struct kj_step *last = &p.steps[p.n - 1];
  rc = -ENOENT;
  if (parent && last->key && json_is_object(parent)) rc = json_object_del(parent, last->key) == 0 ? 0 : -ENOENT;
  else if (parent && !last->key && json_is_array(parent))
    rc = json_array_remove(parent, last->index) == 0 ? 0 : -ENOENT;
  kj_path_free(&p);
  return rc;
}

static json_t *kj_container(json_t *root, const char *path, bool want_object)
{
  json_t *cur = kj_get(root, path);
  if (cur && !json_is_null(cur)) {
    if (want_object ? json_is_object(cur) : json_is_array(cur)) return cur;
    return NULL;
  }
  json_t *fresh = want_object ? json_object() : json_array();
  if (!fresh) return NULL;
  json_incref(fresh);
  if (kj_set(root, path, fresh) < 0) {
    json_decref(fresh);
    return NULL;
  }
  /* The tree now owns it; drop our extra hold and hand out a borrowed one. */
  json_decref(fresh);
  return fresh;
}

json_t *kj_obj(json_t *root, const char *path) { return kj_container(root, path, true); }

json_t *kj_arr(json_t *root, const char *path) { return kj_container(root, path, false); }

/*
 * Compact serialization, byte for byte what json_dumps(JSON_COMPACT |
 * JSON_ENCODE_ANY) writes (insertion order, the same escapes), but into
 * one growing buffer: jansson's dumper pays a formatted pointer key and a
 * hash table insertion per container for its cycle check, which costs more
 * than the output itself on the write path.  Trees deeper than
 * KJ_DUMP_MAX_DEPTH (a cycle, or hostile input) are left to jansson.
 */
#define KJ_DUMP_MAX_DEPTH 512

struct kj_buf {
  char *p;
  size_t len, cap;
};

static int kj_buf_grow(struct kj_buf *b, size_t need)
{
  size_t cap = b->cap ? b->cap : 1024;
  while (cap - b->len < need) cap *= 2;
  char *np = xrealloc(b->p, cap);
  if (!np) return -ENOMEM;
  b->p = np;
  b->cap = cap;
  return 0;
}

static inline int kj_buf_add(struct kj_buf *b, const char *s, size_t n)
{
  if (b->cap - b->len < n + 1 && kj_buf_grow(b, n + 1) < 0) return -ENOMEM;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  return 0;
}

static inline int kj_buf_ch(struct kj_buf *b, char c)
{
  if (b->cap - b->len < 2 && kj_buf_grow(b, 2) < 0) return -ENOMEM;
  b->p[b->len++] = c;
  return 0;
}

static int kj_dump_string(struct kj_buf *b, const char *s, size_t n)
{
  /* Plain runs are copied whole; room for the run plus an escape and the
   * closing quote is made once per run. */
  if (kj_buf_ch(b, '"') < 0) return -ENOMEM;
  size_t i = 0;
  for (;;) {
    size_t run = i;
    while (run < n) {
      unsigned char c = (unsigned char)s[run];
      if (c < 0x20 || c == '"' || c == '\\') break;
      run++;
    }
    size_t len = run - i;
    if (b->cap - b->len < len + 8 && kj_buf_grow(b, len + 8) < 0) return -ENOMEM;
    memcpy(b->p + b->len, s + i, len);
    b->len += len;
    if (run == n) break;
    unsigned char c = (unsigned char)s[run];
    char *o = b->p + b->len;
    *o++ = '\\';
    switch (c) {
    case '"': *o++ = '"'; break;
    case '\\': *o++ = '\\'; break;
    case '\b': *o++ = 'b'; break;
    case '\f': *o++ = 'f'; break;
    case '\n': *o++ = 'n'; break;
    case '\r': *o++ = 'r'; break;
    case '\t': *o++ = 't'; break;
    default: {
      static const char hex[] = "0123456789ABCDEF";
      *o++ = 'u';
      *o++ = '0';
      *o++ = '0';
      *o++ = hex[c >> 4];
      *o++ = hex[c & 15];
    }
    }
    b->len = (size_t)(o - b->p);
    i = run + 1;
  }
  b->p[b->len++] = '"';
  return 0;
}

static int kj_dump_value(struct kj_buf *b, const json_t *v, int depth)
{
  if (depth > KJ_DUMP_MAX_DEPTH) return -ELOOP;
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    if (kj_buf_ch(b, '{') < 0) return -ENOMEM;
    const char *k;
    size_t klen;
    json_t *m;
    bool first = true;
    json_object_keylen_foreach ((json_t *)v, k, klen, m) {
      if (!first && kj_buf_ch(b, ',') < 0) return -ENOMEM;
      first = false;
      int rc;
      if ((rc = kj_dump_string(b, k, klen)) < 0 || (rc = kj_buf_ch(b, ':')) < 0 ||
          (rc = kj_dump_value(b, m, depth + 1)) < 0)
        return rc;
    }
    return kj_buf_ch(b, '}');
  }
  case JSON_ARRAY: {
    if (kj_buf_ch(b, '[') < 0) return -ENOMEM;
    size_t n = json_array_size(v);
    for (size_t i = 0; i < n; i++) {
      int rc;
      if ((i && (rc = kj_buf_ch(b, ',')) < 0) || (rc = kj_dump_value(b, json_array_get(v, i), depth + 1)) < 0)
        return rc;
    }
    return kj_buf_ch(b, ']');
  }
  case JSON_STRING: return kj_dump_string(b, json_string_value(v), json_string_length(v));
  case JSON_INTEGER: {
    char num[32];
    int n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return kj_buf_add(b, num, (size_t)n);
  }
  case JSON_REAL: {
    /* rare: jansson's own shortest-form formatting */
    char *s = kj_dumps_flags(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) return -ENOMEM;
    int rc = kj_buf_add(b, s, strlen(s));
    free(s);
    return rc;
  }
  case JSON_TRUE: return kj_buf_add(b, "true", 4);
  case JSON_FALSE: return kj_buf_add(b, "false", 5);
  case JSON_NULL: return kj_buf_add(b, "null", 4);
  }
  return -EINVAL;
}

char *kj_dumps(const json_t *v)
{
  if (!v) return NULL;
  struct kj_buf b = {0};
  int rc = kj_dump_value(&b, v, 0);
  if (rc == -ELOOP) {
    free(b.p);
    return kj_dumps_flags(v, JSON_COMPACT | JSON_ENCODE_ANY);
  }
  if (rc < 0 || kj_buf_ch(&b, '\0') < 0) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

/* jansson's allocator, installed before main() and so before any jansson
 * value exists: the size-class chunks of json_alloc.c, or the process's
 * malloc (KUBE_ALLOCATOR other than "chunks", and the sanitizer build, so
 * that ASan sees every block), under the one out-of-memory policy
 * (kube/xalloc.h). */
static void *kj_alloc_checked(size_t n)
{
#ifdef KUBE_JSON_PLAIN_MALLOC
  void *p = malloc(n ? n : 1);
#else
  void *p = kj_alloc_malloc(n);
#endif
  if (!p) xalloc_oom(n);
  return p;
}

__attribute__((constructor)) static void kj_alloc_install(void)
{
#ifdef KUBE_JSON_PLAIN_MALLOC
  json_set_alloc_funcs(kj_alloc_checked, free);
#else
  json_set_alloc_funcs(kj_alloc_checked, kj_alloc_free);
#endif
}

char *kj_dumps_flags(const json_t *v, size_t flags)
{
  if (!v) return NULL;
  char small[512];
  size_t n = json_dumpb(v, small, sizeof(small), flags);
  if (n == 0) /* what json_dumps refuses */
    return NULL;
  char *out = xmalloc(n + 1);
  if (!out) return NULL;
  if (n <= sizeof(small)) memcpy(out, small, n);
  else if (json_dumpb(v, out, n, flags) != n) {
    free(out);
    return NULL;
  }
  out[n] = '\0';
  return out;
}

json_t *kj_deep_copy(const json_t *v)
{
  if (!v) return NULL;
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    json_t *o = json_object();
    const char *k;
    size_t klen;
    json_t *x;
    if (!o) return NULL;
    json_object_keylen_foreach ((json_t *)v, k, klen, x) {
      json_t *c = kj_deep_copy(x);
      if (!c || json_object_setn_new_nocheck(o, k, klen, c) < 0) {
        json_decref(o);
        return NULL;
      }
    }
    return o;
  }
  case JSON_ARRAY: {
    size_t n = json_array_size(v);
    json_t *a = json_array();
    if (!a) return NULL;
    for (size_t i = 0; i < n; i++) {
      json_t *c = kj_deep_copy(json_array_get(v, i));
      if (!c || json_array_append_new(a, c) < 0) {
        json_decref(a);
        return NULL;
      }
    }
    return a;
  }
  case JSON_STRING: return json_stringn_nocheck(json_string_value(v), json_string_length(v));
  case JSON_INTEGER: return json_integer(json_integer_value(v));
  case JSON_REAL: return json_real(json_real_value(v));
  default: return json_incref((json_t *)v); /* true, false, null */
  }
}

char *kj_dumps_canonical(const json_t *v) { return kj_dumps_flags(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY); }

bool kj_equal(const json_t *a, const json_t *b) { return json_equal(a, b) != 0; }

/*
 * Fast path of kj_loadb: a recursive-descent parser for the common case
 * (well-formed ASCII documents) building the same jansson tree json_loadb
 * would.  Anything it does not handle exactly like jansson - any syntax
 * error, non-ASCII or control bytes, \u escapes, integers past 18 digits,
 * real overflow, duplicate keys when rejected, deep nesting - makes it
 * give up, and jansson parses the document again and words the error.
 */
#define KJ_PARSE_MAX_DEPTH 1000

struct kj_parser {
  const char *p, *end;
  bool reject_dups;
  bool skip_managed; /* leave out every metadata.managedFields */
  bool in_metadata;  /* the object being entered is a "metadata" member */
  char strbuf[256];  /* an unescaped short string value */
};

static inline void kj_ws(struct kj_parser *ps)
{
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t')) ps->p++;
}

/* Scans a string body after its opening quote: plain ASCII with the simple
 * escapes only.  Returns its decoded length (0 allowed) or -1; *esc tells
 * whether it must be unescaped. */
static long kj_scan_string(struct kj_parser *ps, const char **start, size_t *rawlen, bool *esc)
{
  const char *s = ps->p, *q = s;
  long n = 0;
  *esc = false;
  while (q < ps->end) {
    unsigned char c = (unsigned char)*q;
    if (c == '"') {
      *start = s;
      *rawlen = (size_t)(q - s);
      ps->p = q + 1;
      return n;
    }
    if (c < 0x20 || c >= 0x80) return -1;
    if (c == '\\') {
      if (q + 1 >= ps->end) return -1;
      switch (q[1]) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't': break;
      default: return -1; /* \u and anything else: jansson */
      }
      *esc = true;
      q += 2;
      n++;
      continue;
    }
    q++;
    n++;
  }
  return -1;
}

static void kj_unescape(const char *s, size_t rawlen, char *out)
{
  for (size_t i = 0; i < rawlen; i++) {
    char c = s[i];
    if (c == '\\') {
      c = s[++i];
      switch (c) {
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'n': c = '\n'; break;
      case 'r': c = '\r'; break;
      case 't': c = '\t'; break;
      default: break;
      }
    }
    *out++ = c;
  }
}

static json_t *kj_parse_string(struct kj_parser *ps)
{
  const char *s;
  size_t raw;
  bool esc;
  long n = kj_scan_string(ps, &s, &raw, &esc);
  if (n < 0) return NULL;
  if (!esc) return json_stringn_nocheck(s, raw);
  char *buf = (size_t)n <= sizeof(ps->strbuf) ? ps->strbuf : xmalloc((size_t)n);
  if (!buf) return NULL;
  kj_unescape(s, raw, buf);
  json_t *v = json_stringn_nocheck(buf, (size_t)n);
  if (buf != ps->strbuf) free(buf);
  return v;
}

static json_t *kj_parse_number(struct kj_parser *ps)
{
  const char *s = ps->p, *q = s;
  bool neg = false, real = false;
  if (q < ps->end && *q == '-') {
    neg = true;
    q++;
  }
  const char *digits = q;
  if (q >= ps->end || *q < '0' || *q > '9') return NULL;
  if (*q == '0' && q + 1 < ps->end && q[1] >= '0' && q[1] <= '9') return NULL;
  while (q < ps->end && *q >= '0' && *q <= '9') q++;
  size_t ndig = (size_t)(q - digits);
  if (q < ps->end && *q == '.') {
    real = true;
    q++;
    if (q >= ps->end || *q < '0' || *q > '9') return NULL;
    while (q < ps->end && *q >= '0' && *q <= '9') q++;
  }
  if (q < ps->end && (*q == 'e' || *q == 'E')) {
    real = true;
    q++;
    if (q < ps->end && (*q == '+' || *q == '-')) q++;
    if (q >= ps->end || *q < '0' || *q > '9') return NULL;
    while (q < ps->end && *q >= '0' && *q <= '9') q++;
  }
  ps->p = q;
  if (!real) {
    if (ndig > 18) return NULL;
    json_int_t v = 0;
    for (const char *d = digits; d < q; d++) v = v * 10 + (*d - '0');
    return json_integer(neg ? -v : v);
  }
  char tmp[64];
  size_t len = (size_t)(q - s);
  if (len >= sizeof(tmp)) return NULL;
  memcpy(tmp, s, len);
  tmp[len] = '\0';
  double d = strtod(tmp, NULL);
  if (d == HUGE_VAL || d == -HUGE_VAL) return NULL;
  return json_real(d);
}

static json_t *kj_parse_value(struct kj_parser *ps, int depth);

/* After a member: 1 past a comma (another follows), 0 past the closing
 * bracket, -1 on anything else. */
static int kj_next_member(struct kj_parser *ps, char close)
{
  kj_ws(ps);
  if (ps->p >= ps->end) return -1;
  if (*ps->p == ',') {
    ps->p++;
    return 1;
  }
  if (*ps->p == close) {
    ps->p++;
    return 0;
  }
  return -1;
}

/* Steps over one array or object without building it (brackets matched,
 * strings scanned as the parser scans them). */
static int kj_skip_value(struct kj_parser *ps)
{
  char stack[64];
  int depth = 0;
  kj_ws(ps);
  if (ps->p >= ps->end || (*ps->p != '[' && *ps->p != '{')) return -1;
  do {
    if (ps->p >= ps->end) return -1;
    char ch = *ps->p;
    if (ch == '"') {
      const char *s;
      size_t raw;
      bool esc;
      ps->p++;
      if (kj_scan_string(ps, &s, &raw, &esc) < 0) return -1;
      continue;
    }
    if (ch == '{' || ch == '[') {
      if (depth == (int)sizeof(stack)) return -1;
      stack[depth++] = ch == '{' ? '}' : ']';
    } else if (ch == '}' || ch == ']') {
      if (stack[--depth] != ch) return -1;
    } else if ((unsigned char)ch < 0x20 && ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t') {
      return -1;
    }
    ps->p++;
  } while (depth > 0);
  return 0;
}

static json_t *kj_parse_object(struct kj_parser *ps, int depth)
{
  bool metadata = ps->in_metadata;
  ps->in_metadata = false;
  json_t *obj = json_object();
  if (!obj) return NULL;
  kj_ws(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
    return obj;
  }
  for (;;) {
    kj_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"') goto fail;
    ps->p++;
    const char *k;
    size_t raw;
    bool esc;
    long n = kj_scan_string(ps, &k, &raw, &esc);
    if (n < 0) goto fail;
    const char *key = k;
    char *kbuf = NULL;
    if (esc) {
      /* managedFields keys such as k:{"name":"c"} are escaped */
      kbuf = (size_t)n <= sizeof(ps->strbuf) ? ps->strbuf : xmalloc((size_t)n);
      if (!kbuf) goto fail;
      kj_unescape(k, raw, kbuf);
      key = kbuf;
      if (memchr(key, '\0', (size_t)n)) {
        if (kbuf != ps->strbuf) free(kbuf);
        goto fail;
      }
    }
    if (ps->reject_dups && json_object_getn(obj, key, (size_t)n)) {
      if (kbuf && kbuf != ps->strbuf) free(kbuf);
      goto fail;
    }
    /* The key is copied before the value is parsed: the value may reuse
     * the parser's string buffer. */
    char kshort[256];
    if (kbuf == ps->strbuf) {
      memcpy(kshort, kbuf, (size_t)n);
      key = kbuf = kshort;
    }
    kj_ws(ps);
    json_t *v = NULL;
    int rc = -1;
    if (ps->p < ps->end && *ps->p == ':') {
      ps->p++;
      if (metadata && n == 13 && memcmp(key, "managedFields", 13) == 0 && ps->skip_managed) {
        rc = kj_skip_value(ps);
      } else {
        ps->in_metadata = ps->skip_managed && n == 8 && memcmp(key, "metadata", 8) == 0;
        v = kj_parse_value(ps, depth + 1);
        ps->in_metadata = false;
        rc = v ? json_object_setn_new_nocheck(obj, key, (size_t)n, v) : -1;
      }
    }
    if (kbuf && kbuf != kshort) free(kbuf);
    if (rc < 0) goto fail;
    int more = kj_next_member(ps, '}');
    if (more < 0) goto fail;
    if (!more) return obj;
  }
fail:
  json_decref(obj);
  return NULL;
}

static json_t *kj_parse_array(struct kj_parser *ps, int depth)
{
  json_t *arr = json_array();
  if (!arr) return NULL;
  kj_ws(ps);
  if (ps->p < ps->end && *ps->p == ']') {
    ps->p++;
    return arr;
  }
  for (;;) {
    json_t *v = kj_parse_value(ps, depth + 1);
    if (!v || json_array_append_new(arr, v) < 0) goto fail;
    int more = kj_next_member(ps, ']');
    if (more < 0) goto fail;
    if (!more) return arr;
  }
fail:
  json_decref(arr);
  return NULL;
}

static bool kj_lit(struct kj_parser *ps, const char *lit, size_t n)
{
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0) return false;
  ps->p += n;
  return true;
}

static json_t *kj_parse_value(struct kj_parser *ps, int depth)
{
  if (depth > KJ_PARSE_MAX_DEPTH) return NULL;
  kj_ws(ps);
  if (ps->p >= ps->end) return NULL;
  switch (*ps->p) {
  case '{': ps->p++; return kj_parse_object(ps, depth);
  case '[':
    ps->p++;
    ps->in_metadata = false;
    return kj_parse_array(ps, depth);
  case '"': ps->p++; return kj_parse_string(ps);
  case 't': return kj_lit(ps, "true", 4) ? json_true() : NULL;
  case 'f': return kj_lit(ps, "false", 5) ? json_false() : NULL;
  case 'n': return kj_lit(ps, "null", 4) ? json_null() : NULL;
  default: return kj_parse_number(ps);
  }
}

static json_t *kj_fast_loadb(const char *buf, size_t len, bool reject_dups, bool skip_managed)
{
  struct kj_parser ps = {.p = buf, .end = buf + len, .reject_dups = reject_dups, .skip_managed = skip_managed};
  json_t *v = kj_parse_value(&ps, 0);
  if (!v) return NULL;
  kj_ws(&ps);
  if (ps.p != ps.end) {
    json_decref(v);
    return NULL;
  }
  return v;
}

json_t *kj_loadb(const char *buf, size_t len, bool reject_duplicates, char *err, size_t errlen)
{
  json_t *fast = buf ? kj_fast_loadb(buf, len, reject_duplicates, false) : NULL;
  if (fast) return fast;
  json_error_t je;
  size_t flags = JSON_DECODE_ANY;
  if (reject_duplicates) flags |= JSON_REJECT_DUPLICATES;
  json_t *v = json_loadb(buf, len, flags, &je);
  if (!v && err && errlen) snprintf(err, errlen, "line %d column %d: %s", je.line, je.column, je.text);
  return v;
}

/* What the fast path leaves out, on a tree jansson built: managedFields
 * of every object that is the value of a "metadata" member, at any depth. */
static void kj_strip_managed(json_t *v, int depth)
{
  if (depth > KJ_PARSE_MAX_DEPTH * 3) return;
  if (json_is_object(v)) {
    json_object_del(json_object_get(v, "metadata"), "managedFields");
    const char *k;
    json_t *m;
    json_object_foreach (v, k, m) kj_strip_managed(m, depth + 1);
  } else if (json_is_array(v)) {
    size_t i;
    json_t *m;
    json_array_foreach (v, i, m) kj_strip_managed(m, depth + 1);
  }
}

json_t *kj_loadb_without_managed_fields(const char *buf, size_t len, char *err, size_t errlen)
{
  json_t *v = buf ? kj_fast_loadb(buf, len, false, true) : NULL;
  if (v) return v;
  if (!(v = kj_loadb(buf, len, false, err, errlen))) return NULL;
  kj_strip_managed(v, 0); /* jansson parsed it whole */
  return v;
}

const char *kj_kind_name(const json_t *v)
{
  if (!v) return "null";
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "object";
  case JSON_ARRAY: return "array";
  case JSON_STRING: return "string";
  case JSON_INTEGER:
  case JSON_REAL: return "number";
  case JSON_TRUE:
  case JSON_FALSE: return "bool";
  default: return "null";
  }
}
