/*
 * schema.c - parser of the schema table, type lookup, strict field
 * validation and the strategic-merge-patch metadata lookup.
 *
 * The table is line-oriented text (the format is documented at the top of
 * apiserver/schema/00-meta.schema):
 *
 *   package io.k8s.api.core.v1
 *   alias meta io.k8s.apimachinery.pkg.apis.meta.v1
 *   type PodSpec
 *     containers  []Container  required merge=name strategy=merge list=map keys=name
 *     nodeSelector  map[string]string  map=atomic
 *   kind v1 Pod
 *
 * The embedded text holds every .schema file; the build puts a marker line
 * `#@file NAME` before each so errors can name the file and line.
 *
 * Loading is three passes: parse every line into types whose named
 * references are placeholders, sort the named types and resolve every
 * placeholder to the type it names (an unknown name is an error with the
 * line that used it), then attach the `kind` lines and add KIND+"List" for
 * every kind that does not declare its own list type.  After that the table
 * is read-only; lookups follow pointers.
 *
 * Strict validation walks a JSON body along its type and reports every key a
 * struct type does not declare, with upstream's path syntax
 * (`spec.containers[0].foo`); free-form types accept anything.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema_int.h"
#include "kube/xalloc.h"

extern const char schema_text[];

#define META_PKG "io.k8s.apimachinery.pkg.apis.meta.v1"

/* Types the format names by keyword that are named definitions upstream. */
static const struct {
  const char *keyword, *name, *format, *desc;
  enum st_kind kind;
} builtin_named[] = {
    {"IntOrString", "io.k8s.apimachinery.pkg.util.intstr.IntOrString", "int-or-string",
     "An integer or a string (such as a port number or name, or a percentage).", ST_INT_OR_STRING},
    {"Quantity", "io.k8s.apimachinery.pkg.api.resource.Quantity", NULL,
     "A fixed-point number with an optional suffix, such as 100m, 1.5Gi or 2e3.", ST_QUANTITY},
    {"Time", META_PKG ".Time", "date-time", "A time stamp in RFC 3339 form, to the second.", ST_TIME},
    {"MicroTime", META_PKG ".MicroTime", "date-time", "A time stamp in RFC 3339 form with microseconds.", ST_TIME},
    {"RawExtension", "io.k8s.apimachinery.pkg.runtime.RawExtension", NULL, "An embedded object of any kind.",
     ST_FREEFORM},
    {"FieldsV1", META_PKG ".FieldsV1", NULL, "The set of fields a manager owns, in the fieldsV1 trie format.",
     ST_FREEFORM},
};

static const struct {
  const char *keyword, *format;
  enum st_kind kind;
} primitives[] = {
    {"string", NULL, ST_STRING},   {"bytes", "byte", ST_BYTES},     {"boolean", NULL, ST_BOOLEAN},
    {"integer", NULL, ST_INTEGER}, {"int32", "int32", ST_INTEGER},  {"int64", "int64", ST_INTEGER},
    {"number", NULL, ST_NUMBER},   {"double", "double", ST_NUMBER}, {"object", NULL, ST_FREEFORM},
};

struct alias {
  char *short_name, *full;
};

struct pending_kind {
  char *group, *version, *kind, *type;
  const char *file;
  int line;
};

struct parser {
  struct schema *s;
  const char *file;
  int line;
  char *pkg;
  struct alias *aliases;
  size_t naliases;
  struct pending_kind *kinds;
  size_t nkinds;
  struct stype *cur;
  char *err;
  size_t errlen;
};

static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *p, const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (p->err && p->errlen) snprintf(p->err, p->errlen, "%s:%d: %s", p->file, p->line, msg);
  return -EINVAL;
}

static void *grow(void *arr, size_t *cap, size_t n, size_t elem)
{
  if (n < *cap) return arr;
  size_t nc = *cap ? *cap * 2 : 16;
  void *r = xrealloc(arr, nc * elem);
  if (!r) abort();
  *cap = nc;
  return r;
}

/* A copy of s, or NULL for NULL. */
static char *sdup(const char *s) { return s ? xstrdup(s) : NULL; }

static struct stype *type_new(struct schema *s, enum st_kind kind)
{
  struct stype *t = xcalloc(1, sizeof *t);
  if (!t) abort();
  t->kind = kind;
  s->pool = grow(s->pool, &s->cappool, s->npool, sizeof *s->pool);
  s->pool[s->npool++] = t;
  return t;
}

static void add_named(struct schema *s, struct stype *t)
{
  s->named = grow(s->named, &s->capnamed, s->nnamed, sizeof *s->named);
  s->named[s->nnamed++] = t;
}

static int named_cmp(const void *a, const void *b)
{
  return strcmp((*(struct stype *const *)a)->name, (*(struct stype *const *)b)->name);
}

struct stype *schema_find_type(const struct schema *s, const char *name)
{
  size_t lo = 0, hi = s->nnamed;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(name, s->named[mid]->name);
    if (c == 0) return s->named[mid];
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  return NULL;
}

const struct stype *schema_named(const struct schema *s, const char *name)
{
  return s && name ? schema_find_type(s, name) : NULL;
}

const struct sfield *schema_find_field(const struct stype *t, const char *name)
{
  if (!t || t->kind != ST_STRUCT) return NULL;
  for (size_t i = 0; i < t->nfields; i++)
    if (strcmp(t->fields[i].name, name) == 0) return &t->fields[i];
  return NULL;
}

/* Splits a line into whitespace-separated tokens; a token that starts with
 * a double quote runs to the closing quote, with \" and \\ unescaped.  The
 * line is modified in place.  Returns the token count or -1 on an
 * unterminated string. */
static int tokenize(char *line, char **tok, int max)
{
  int n = 0;
  char *q = line;
  while (*q) {
    while (*q == ' ' || *q == '\t') q++;
    if (!*q) break;
    if (n == max) return -2;
    if (*q == '"') {
      /* the token keeps its leading quote as the mark of a description */
      char *w = q + 1, *r = q + 1;
      tok[n++] = q;
      for (;;) {
        if (!*r) return -1;
        if (*r == '\\' && (r[1] == '"' || r[1] == '\\')) {
          *w++ = r[1];
          r += 2;
          continue;
        }
        if (*r == '"') break;
        *w++ = *r++;
      }
      char *after = r + 1;
      *w = '\0';
      if (*after && *after != ' ' && *after != '\t') return -1;
      q = after;
    } else {
      tok[n++] = q;
      while (*q && *q != ' ' && *q != '\t') q++;
      if (*q) *q++ = '\0';
    }
  }
  return n;
}

static bool valid_ident(const char *s)
{
  if (!*s) return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-' && *s != '$') return false;
  return true;
}

/* The full name a reference written in the current package means. */
static char *qualify(struct parser *p, const char *ref)
{
  const char *dot = strchr(ref, '.');
  char *out = NULL;
  if (!dot) {
    if (!p->pkg) return NULL;
    if (asprintf(&out, "%s.%s", p->pkg, ref) < 0) abort();
    return out;
  }
  for (size_t i = 0; i < p->naliases; i++) {
    size_t l = strlen(p->aliases[i].short_name);
    if ((size_t)(dot - ref) == l && strncmp(ref, p->aliases[i].short_name, l) == 0) {
      if (asprintf(&out, "%s%s", p->aliases[i].full, dot) < 0) abort();
      return out;
    }
  }
  return sdup(ref);
}

static struct stype *parse_type(struct parser *p, const char *str)
{
  struct schema *s = p->s;
  if (strncmp(str, "[]", 2) == 0 || strncmp(str, "map[string]", 11) == 0) {
    bool arr = str[0] == '[';
    struct stype *elem = parse_type(p, str + (arr ? 2 : 11));
    if (!elem) return NULL;
    struct stype *t = type_new(s, arr ? ST_ARRAY : ST_MAP);
    t->elem = elem;
    return t;
  }
  if (strncmp(str, "map[", 4) == 0 || str[0] == '[') {
    perr(p, "bad type \"%s\": maps are written map[string]TYPE, lists []TYPE", str);
    return NULL;
  }
  for (size_t i = 0; i < sizeof primitives / sizeof *primitives; i++)
    if (strcmp(str, primitives[i].keyword) == 0) {
      struct stype *t = type_new(s, primitives[i].kind);
      t->format = primitives[i].format;
      return t;
    }
  const char *full = NULL;
  for (size_t i = 0; i < sizeof builtin_named / sizeof *builtin_named; i++)
    if (strcmp(str, builtin_named[i].keyword) == 0) full = builtin_named[i].name;
  if (!full && !valid_ident(str)) {
    perr(p, "bad type \"%s\"", str);
    return NULL;
  }
  struct stype *t = type_new(s, ST_REF);
  t->name = full ? sdup(full) : qualify(p, str);
  if (!t->name) {
    perr(p, "type \"%s\" used before any package line", str);
    return NULL;
  }
  t->file = (char *)p->file;
  t->line = p->line;
  return t;
}

static bool known_value(const char *v, const char *const *allowed)
{
  for (; *allowed; allowed++)
    if (strcmp(v, *allowed) == 0) return true;
  return false;
}

/* "N" or "N.M..." (inline-embedded structs), each 1..2^29-1. */
static int parse_proto_path(struct sfield *f, const char *v)
{
  f->nproto = 0;
  for (;;) {
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (!isdigit((unsigned char)*v) || end == v || errno || n == 0 || n >= (1UL << 29) ||
        f->nproto == SCHEMA_PROTO_DEPTH)
      return -EINVAL;
    f->proto[f->nproto++] = (unsigned)n;
    if (*end == '\0') return 0;
    if (*end != '.') return -EINVAL;
    v = end + 1;
  }
}

/* Two fields of one type clash when one number path equals or prefixes the
 * other: the decoder could not tell which JSON field a wire field means. */
static bool proto_paths_clash(const struct sfield *a, const struct sfield *b)
{
  if (!a->nproto || !b->nproto) return false;
  unsigned n = a->nproto < b->nproto ? a->nproto : b->nproto;
  for (unsigned i = 0; i < n; i++)
    if (a->proto[i] != b->proto[i]) return false;
  return true;
}

static int parse_field(struct parser *p, char **tok, int n)
{
  static const char *const strategies[] = {"merge", "replace", "retainKeys", "merge,retainKeys", NULL};
  static const char *const list_types[] = {"atomic", "set", "map", NULL};
  static const char *const map_types[] = {"atomic", "granular", NULL};
  struct stype *t = p->cur;
  if (!t || t->kind != ST_STRUCT) return perr(p, "field line outside a type");
  if (n < 2) return perr(p, "field \"%s\" has no type", tok[0]);
  if (tok[0][0] == '"' || !valid_ident(tok[0])) return perr(p, "bad field name \"%s\"", tok[0]);
  if (schema_find_field(t, tok[0])) return perr(p, "field \"%s\" declared twice in %s", tok[0], t->name);
  struct stype *ft = parse_type(p, tok[1]);
  if (!ft) return -EINVAL;
  t->fields = grow(t->fields, &t->capfields, t->nfields, sizeof *t->fields);
  struct sfield *f = &t->fields[t->nfields++];
  memset(f, 0, sizeof *f);
  f->name = sdup(tok[0]);
  f->type = ft;
  for (int i = 2; i < n; i++) {
    const char *a = tok[i], *v = strchr(a, '=');
    if (a[0] == '"') {
      if (i != n - 1) return perr(p, "the description must come last");
      f->desc = sdup(a + 1);
    } else if (strcmp(a, "required") == 0) {
      f->required = true;
    } else if (strcmp(a, "ptr") == 0) {
      f->ptr = true;
    } else if (strcmp(a, "noomit") == 0) {
      f->noomit = true;
    } else if (strncmp(a, "proto=", 6) == 0) {
      if (parse_proto_path(f, a + 6) < 0) return perr(p, "bad protobuf field number \"%s\"", a + 6);
    } else if (!v || !v[1]) {
      return perr(p, "unknown attribute \"%s\"", a);
    } else if (strncmp(a, "merge=", 6) == 0) {
      f->merge_key = sdup(v + 1);
    } else if (strncmp(a, "strategy=", 9) == 0) {
      if (!known_value(v + 1, strategies)) return perr(p, "unknown patch strategy \"%s\"", v + 1);
      f->strategy = sdup(v + 1);
    } else if (strncmp(a, "list=", 5) == 0) {
      if (!known_value(v + 1, list_types)) return perr(p, "unknown list type \"%s\"", v + 1);
      f->list_type = sdup(v + 1);
    } else if (strncmp(a, "keys=", 5) == 0) {
      f->list_keys = sdup(v + 1);
    } else if (strncmp(a, "map=", 4) == 0) {
      if (!known_value(v + 1, map_types)) return perr(p, "unknown map type \"%s\"", v + 1);
      f->map_type = sdup(v + 1);
    } else {
      return perr(p, "unknown attribute \"%s\"", a);
    }
  }
  if ((f->merge_key || f->list_keys) && ft->kind != ST_ARRAY)
    return perr(p, "field \"%s\": merge= and keys= apply to lists only", f->name);
  for (size_t i = 0; f->nproto && i + 1 < t->nfields; i++)
    if (proto_paths_clash(&t->fields[i], f))
      return perr(p, "field \"%s\": protobuf number clashes with field \"%s\"", f->name, t->fields[i].name);
  return 0;
}

static int parse_type_line(struct parser *p, char **tok, int n)
{
  if (n < 2 || tok[1][0] == '"' || !valid_ident(tok[1])) return perr(p, "type line needs a name");
  struct stype *t = type_new(p->s, ST_STRUCT);
  t->name = qualify(p, tok[1]);
  if (!t->name) return perr(p, "type \"%s\" declared before any package line", tok[1]);
  t->file = (char *)p->file;
  t->line = p->line;
  for (size_t i = 0; i < p->s->nnamed; i++)
    if (strcmp(p->s->named[i]->name, t->name) == 0) return perr(p, "type \"%s\" declared twice", t->name);
  add_named(p->s, t);
  p->cur = t;
  for (int i = 2; i < n; i++) {
    if (tok[i][0] == '"') {
      if (i != n - 1) return perr(p, "the description must come last");
      t->desc = sdup(tok[i] + 1);
    } else if (strcmp(tok[i], "object") == 0) {
      t->kind = ST_FREEFORM;
      p->cur = NULL;
    } else if (strncmp(tok[i], "struct=", 7) == 0) {
      free(t->struct_type);
      t->struct_type = sdup(tok[i] + 7);
    } else {
      return perr(p, "unknown type attribute \"%s\"", tok[i]);
    }
  }
  return 0;
}

static int parse_kind_line(struct parser *p, char **tok, int n)
{
  if (n < 3 || n > 4) return perr(p, "kind line is: kind APIVERSION KIND [TYPE]");
  const char *av = tok[1], *slash = strchr(av, '/');
  p->kinds = xrealloc(p->kinds, (p->nkinds + 1) * sizeof *p->kinds);
  if (!p->kinds) abort();
  struct pending_kind *k = &p->kinds[p->nkinds++];
  memset(k, 0, sizeof *k);
  k->group = slash ? xstrndup(av, (size_t)(slash - av)) : sdup("");
  k->version = sdup(slash ? slash + 1 : av);
  k->kind = sdup(tok[2]);
  k->type = qualify(p, n == 4 ? tok[3] : tok[2]);
  k->file = p->file;
  k->line = p->line;
  if (!k->type) return perr(p, "kind line before any package line");
  if (!k->version[0] || strchr(k->version, '/')) return perr(p, "bad apiVersion \"%s\"", av);
  return 0;
}

static int parse_line(struct parser *p, char *line)
{
  bool indented = line[0] == ' ' || line[0] == '\t';
  char *tok[32];
  int n = tokenize(line, tok, 32);
  if (n == -1) return perr(p, "unterminated description string");
  if (n < 0) return perr(p, "too many words on one line");
  if (n == 0) return 0;
  if (indented) return parse_field(p, tok, n);
  p->cur = NULL;
  if (strcmp(tok[0], "type") == 0) return parse_type_line(p, tok, n);
  if (strcmp(tok[0], "kind") == 0) return parse_kind_line(p, tok, n);
  if (strcmp(tok[0], "package") == 0) {
    if (n != 2 || !valid_ident(tok[1])) return perr(p, "package line is: package NAME");
    free(p->pkg);
    p->pkg = sdup(tok[1]);
    return 0;
  }
  if (strcmp(tok[0], "alias") == 0) {
    if (n != 3 || strchr(tok[1], '.') || !valid_ident(tok[2]))
      return perr(p, "alias line is: alias SHORT FULL.PACKAGE");
    p->aliases = xrealloc(p->aliases, (p->naliases + 1) * sizeof *p->aliases);
    if (!p->aliases) abort();
    p->aliases[p->naliases].short_name = sdup(tok[1]);
    p->aliases[p->naliases].full = sdup(tok[2]);
    p->naliases++;
    return 0;
  }
  return perr(p, "unknown statement \"%s\"", tok[0]);
}

static struct stype *resolve(struct parser *p, struct stype *t, int *rc)
{
  if (!t || t->kind != ST_REF) return t;
  struct stype *r = schema_find_type(p->s, t->name);
  if (!r && *rc == 0) {
    p->file = t->file;
    p->line = t->line;
    *rc = perr(p, "unknown type \"%s\"", t->name);
  }
  return r ? r : t;
}

static int resolve_all(struct parser *p)
{
  struct schema *s = p->s;
  int rc = 0;
  for (size_t i = 0; i < s->npool && rc == 0; i++) {
    struct stype *t = s->pool[i];
    t->elem = resolve(p, t->elem, &rc);
    for (size_t j = 0; j < t->nfields; j++) t->fields[j].type = resolve(p, t->fields[j].type, &rc);
  }
  return rc;
}

static void add_kind(struct schema *s, const char *g, const char *v, const char *k, struct stype *t)
{
  s->kinds = grow(s->kinds, &s->capkinds, s->nkinds, sizeof *s->kinds);
  struct skind *sk = &s->kinds[s->nkinds++];
  sk->group = sdup(g);
  sk->version = sdup(v);
  sk->kind = sdup(k);
  sk->type = t;
}

static struct sfield *add_field(struct stype *t, const char *name, struct stype *ft, bool required)
{
  t->fields = grow(t->fields, &t->capfields, t->nfields, sizeof *t->fields);
  struct sfield *f = &t->fields[t->nfields++];
  memset(f, 0, sizeof *f);
  f->name = sdup(name);
  f->type = ft;
  f->required = required;
  return f;
}

/* KIND+"List" as upstream shapes every list: apiVersion, items, kind,
 * metadata (ListMeta). */
static struct stype *make_list_type(struct schema *s, const char *name, struct stype *item, struct stype *list_meta)
{
  struct stype *t = type_new(s, ST_STRUCT);
  t->name = sdup(name);
  if (asprintf(&t->desc, "A list of %s objects.", strrchr(item->name, '.') + 1) < 0) abort();
  add_field(t, "apiVersion", type_new(s, ST_STRING), false);
  struct stype *arr = type_new(s, ST_ARRAY);
  arr->elem = item;
  add_field(t, "items", arr, true);
  add_field(t, "kind", type_new(s, ST_STRING), false);
  add_field(t, "metadata", list_meta, false);
  add_named(s, t);
  return t;
}

/* Lookup while list types are being appended: only the first `sorted`
 * entries are in order, the rest are scanned. */
static struct stype *find_partly_sorted(struct schema *s, const char *name, size_t sorted)
{
  size_t total = s->nnamed;
  s->nnamed = sorted;
  struct stype *t = schema_find_type(s, name);
  s->nnamed = total;
  for (size_t j = sorted; !t && j < total; j++)
    if (strcmp(s->named[j]->name, name) == 0) t = s->named[j];
  return t;
}

static int attach_kinds(struct parser *p)
{
  struct schema *s = p->s;
  struct stype *list_meta = schema_find_type(s, META_PKG ".ListMeta");
  size_t before = s->nnamed;
  for (size_t i = 0; i < p->nkinds; i++) {
    struct pending_kind *k = &p->kinds[i];
    p->file = k->file;
    p->line = k->line;
    struct stype *t = find_partly_sorted(s, k->type, before);
    if (!t || t->kind != ST_STRUCT) return perr(p, "kind %s: unknown type \"%s\"", k->kind, k->type);
    if (schema_kind(s, k->group, k->version, k->kind)) return perr(p, "kind %s declared twice", k->kind);
    add_kind(s, k->group, k->version, k->kind, t);
    char *lname, *lkind;
    if (asprintf(&lname, "%sList", k->type) < 0 || asprintf(&lkind, "%sList", k->kind) < 0) abort();
    struct stype *lt = find_partly_sorted(s, lname, before);
    if (!lt) {
      if (!list_meta) {
        free(lname);
        free(lkind);
        return perr(p, "kind %s: the table has no %s.ListMeta for its list", k->kind, META_PKG);
      }
      lt = make_list_type(s, lname, t, list_meta);
    }
    add_kind(s, k->group, k->version, lkind, lt);
    free(lname);
    free(lkind);
  }
  qsort(s->named, s->nnamed, sizeof *s->named, named_cmp);
  return 0;
}

static void parser_free(struct parser *p)
{
  free(p->pkg);
  for (size_t i = 0; i < p->naliases; i++) {
    free(p->aliases[i].short_name);
    free(p->aliases[i].full);
  }
  free(p->aliases);
  for (size_t i = 0; i < p->nkinds; i++) {
    free(p->kinds[i].group);
    free(p->kinds[i].version);
    free(p->kinds[i].kind);
    free(p->kinds[i].type);
  }
  free(p->kinds);
}

static void add_builtins(struct schema *s)
{
  for (size_t i = 0; i < sizeof builtin_named / sizeof *builtin_named; i++) {
    struct stype *t = type_new(s, builtin_named[i].kind);
    t->name = sdup(builtin_named[i].name);
    t->format = builtin_named[i].format;
    t->desc = sdup(builtin_named[i].desc);
    add_named(s, t);
  }
}

static const char *intern_file(struct schema *s, const char *name, size_t len)
{
  s->files = xrealloc(s->files, (s->nfiles + 1) * sizeof *s->files);
  if (!s->files) abort();
  s->files[s->nfiles] = xstrndup(name, len);
  if (!s->files[s->nfiles]) abort();
  return s->files[s->nfiles++];
}

struct schema *schema_load_text(const char *text, char *err, size_t errlen)
{
  struct schema *s = xcalloc(1, sizeof *s);
  if (!s) return NULL;
  struct parser p = {.s = s, .file = "schema", .err = err, .errlen = errlen};
  int rc = 0;
  add_builtins(s);
  const char *q = text;
  char *line = NULL;
  size_t cap = 0;
  while (*q && rc == 0) {
    const char *e = strchr(q, '\n');
    size_t len = e ? (size_t)(e - q) : strlen(q);
    p.line++;
    if (len + 1 > cap) {
      cap = len + 64;
      line = xrealloc(line, cap);
      if (!line) abort();
    }
    memcpy(line, q, len);
    line[len] = '\0';
    if (len && line[len - 1] == '\r') line[--len] = '\0';
    if (strncmp(line, "#@file ", 7) == 0) {
      p.file = intern_file(s, line + 7, len - 7);
      p.line = 0;
      p.cur = NULL;
      free(p.pkg);
      p.pkg = NULL;
    } else {
      size_t i = 0;
      while (line[i] == ' ' || line[i] == '\t') i++;
      if (line[i] != '#') rc = parse_line(&p, line);
    }
    q = e ? e + 1 : q + len;
  }
  free(line);
  if (rc == 0) qsort(s->named, s->nnamed, sizeof *s->named, named_cmp);
  if (rc == 0) rc = resolve_all(&p);
  if (rc == 0) rc = attach_kinds(&p);
  parser_free(&p);
  if (rc) {
    schema_free(s);
    return NULL;
  }
  return s;
}

struct schema *schema_load_builtin(char *err, size_t errlen) { return schema_load_text(schema_text, err, errlen); }

void schema_free(struct schema *s)
{
  if (!s) return;
  for (size_t i = 0; i < s->npool; i++) {
    struct stype *t = s->pool[i];
    for (size_t j = 0; j < t->nfields; j++) {
      struct sfield *f = &t->fields[j];
      free(f->name);
      free(f->merge_key);
      free(f->strategy);
      free(f->list_type);
      free(f->list_keys);
      free(f->map_type);
      free(f->desc);
    }
    free(t->fields);
    free(t->name);
    free(t->desc);
    free(t->struct_type);
    free(t);
  }
  for (size_t i = 0; i < s->nkinds; i++) {
    free(s->kinds[i].group);
    free(s->kinds[i].version);
    free(s->kinds[i].kind);
  }
  for (size_t i = 0; i < s->nfiles; i++) free(s->files[i]);
  free(s->files);
  free(s->kinds);
  free(s->pool);
  free(s->named);
  free(s);
}

const struct stype *schema_kind(const struct schema *s, const char *group, const char *version, const char *kind)
{
  if (!s || !kind) return NULL;
  for (size_t i = 0; i < s->nkinds; i++) {
    const struct skind *k = &s->kinds[i];
    if (strcmp(k->kind, kind) == 0 && strcmp(k->group, group ? group : "") == 0 &&
        strcmp(k->version, version ? version : "") == 0)
      return k->type;
  }
  return NULL;
}

/* ---- strict field validation ---- */

struct pathbuf {
  char *b;
  size_t len, cap;
};

static void path_append(struct pathbuf *pb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void path_append(struct pathbuf *pb, const char *fmt, ...)
{
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(pb->b + pb->len, pb->cap - pb->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (pb->len + (size_t)n < pb->cap) {
      pb->len += (size_t)n;
      return;
    }
    pb->cap = (pb->len + (size_t)n + 1) * 2;
    pb->b = xrealloc(pb->b, pb->cap);
    if (!pb->b) abort();
  }
}

static void path_key(struct pathbuf *pb, const char *key)
{
  if (pb->len) path_append(pb, ".%s", key);
  else path_append(pb, "%s", key);
}

static size_t check(const struct stype *t, const json_t *v, struct pathbuf *pb, json_t *out)
{
  size_t found = 0, mark = pb->len;
  if (!t || !v) return 0;
  switch (t->kind) {
  case ST_STRUCT: {
    if (!json_is_object(v)) return 0;
    const char *key;
    json_t *val;
    json_object_foreach ((json_t *)v, key, val) {
      const struct sfield *f = schema_find_field(t, key);
      path_key(pb, key);
      if (!f) {
        json_array_append_new(out, json_sprintf("unknown field \"%s\"", pb->b));
        found++;
      } else {
        found += check(f->type, val, pb, out);
      }
      pb->len = mark;
      pb->b[mark] = '\0';
    }
    return found;
  }
  case ST_ARRAY: {
    if (!json_is_array(v)) return 0;
    size_t i;
    json_t *val;
    json_array_foreach (v, i, val) {
      path_append(pb, "[%zu]", i);
      found += check(t->elem, val, pb, out);
      pb->len = mark;
      pb->b[mark] = '\0';
    }
    return found;
  }
  case ST_MAP: {
    if (!json_is_object(v)) return 0;
    const char *key;
    json_t *val;
    json_object_foreach ((json_t *)v, key, val) {
      path_key(pb, key);
      found += check(t->elem, val, pb, out);
      pb->len = mark;
      pb->b[mark] = '\0';
    }
    return found;
  }
  default: return 0;
  }
}

size_t schema_unknown_fields(const struct schema *s, const struct stype *t, const json_t *obj, json_t *out)
{
  if (!t || !obj || !json_is_array(out)) return 0;
  struct pathbuf pb = {.b = xmalloc(128), .cap = 128};
  if (!pb.b) return 0;
  pb.b[0] = '\0';
  size_t n = check(t, obj, &pb, out);
  free(pb.b);
  return n;
}

/* ---- strategic merge patch metadata ---- */

const void *schema_smp_lookup(void *arg, const void *type, const char *name, struct smp_field *out)
{
  const struct stype *t = type;
  if (out) memset(out, 0, sizeof *out);
  if (!t || !name) return NULL;
  if (t->kind == ST_MAP) {
    /* keys of a map all share the value type */
    const struct stype *e = t->elem;
    if (e && e->kind == ST_ARRAY) {
      if (out) out->is_list = 1;
      return e->elem;
    }
    return e && e->kind != ST_FREEFORM ? e : NULL;
  }
  const struct sfield *f = schema_find_field(t, name);
  if (!f) return NULL;
  const struct stype *ft = f->type;
  if (out) {
    out->merge_key = f->merge_key;
    out->strategy = f->strategy;
    out->is_list = ft->kind == ST_ARRAY;
  }
  if (ft->kind == ST_ARRAY) ft = ft->elem;
  return ft->kind == ST_FREEFORM ? NULL : ft;
}
