/*
 * selector.c - label and field selectors with upstream's grammar and
 * error texts (k8s.io/apimachinery/pkg/labels and pkg/fields).
 *
 * Label selectors: the string is tokenized in one pass (identifiers end at
 * whitespace or one of "=!(),<>"), then a recursive-descent parser builds
 * one requirement per term.  As upstream, the words "in"/"notin" are
 * operators only where an operator is expected, so a label may be named
 * "in".  Requirements are validated (qualified-name keys, label values),
 * their values kept sorted and unique, and the list sorted by key, so that
 * labelsel_string() prints the canonical form upstream prints.
 *
 * Field selectors are a comma-separated list of field=value,
 * field==value and field!=value terms; "\," "\=" and "\\" escape those
 * characters in values.  An absent field compares as "".
 */
#define _GNU_SOURCE
#include "kube/selector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/names.h"
#include "kube/strconv.h"
#include "kube/xalloc.h"

enum lop { OP_EXISTS, OP_NOT_EXISTS, OP_EQ, OP_DEQ, OP_NEQ, OP_IN, OP_NOTIN, OP_GT, OP_LT };

struct lreq {
  char *key;
  enum lop op;
  char **vals;
  size_t nvals, cap;
};

struct labelsel {
  bool nothing;
  struct lreq *reqs;
  size_t n;
};

/* ---- tokens ---- */

enum tok { T_ID, T_DNE, T_EQ, T_DEQ, T_NEQ, T_IN, T_NOTIN, T_OPEN, T_CLOSE, T_COMMA, T_GT, T_LT, T_EOS };

struct token {
  enum tok t;
  char *lit;
};

struct parser {
  struct token *toks;
  size_t n, cap, pos;
  char *err;
  size_t errlen;
};

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static bool is_special(char c) { return c && strchr("=!(),<>", c) != NULL; }

static int lex_push(struct parser *p, enum tok t, const char *lit, size_t len)
{
  struct token *nt = p->toks;
  if (p->n == p->cap) { /* doubling: one realloc per token made long selectors quadratic */
    size_t cap = p->cap ? p->cap * 2 : 16;
    if (!(nt = xrealloc(p->toks, cap * sizeof *nt))) return -ENOMEM;
    p->toks = nt;
    p->cap = cap;
  }
  nt[p->n].t = t;
  nt[p->n].lit = xstrndup(lit, len);
  if (!nt[p->n].lit) return -ENOMEM;
  p->n++;
  return 0;
}

static int lex(struct parser *p, const char *s)
{
  while (*s) {
    if (is_ws(*s)) {
      s++;
      continue;
    }
    if (is_special(*s)) {
      enum tok t;
      size_t len = 1;
      switch (*s) {
      case '=':
        t = T_EQ;
        if (s[1] == '=') {
          t = T_DEQ;
          len = 2;
        }
        break;
      case '!':
        t = T_DNE;
        if (s[1] == '=') {
          t = T_NEQ;
          len = 2;
        }
        break;
      case '(': t = T_OPEN; break;
      case ')': t = T_CLOSE; break;
      case ',': t = T_COMMA; break;
      case '>': t = T_GT; break;
      default: t = T_LT; break;
      }
      if (lex_push(p, t, s, len) < 0) return -ENOMEM;
      s += len;
      continue;
    }
    const char *start = s;
    while (*s && !is_ws(*s) && !is_special(*s)) s++;
    size_t len = (size_t)(s - start);
    enum tok t = T_ID;
    if (len == 2 && memcmp(start, "in", 2) == 0) t = T_IN;
    else if (len == 5 && memcmp(start, "notin", 5) == 0) t = T_NOTIN;
    if (lex_push(p, t, start, len) < 0) return -ENOMEM;
  }
  return lex_push(p, T_EOS, "", 0);
}

/* values_ctx: "in"/"notin" are plain identifiers where a value is expected. */
static enum tok peek(struct parser *p, bool values_ctx, const char **lit)
{
  struct token *t = &p->toks[p->pos];
  if (lit) *lit = t->lit;
  if (values_ctx && (t->t == T_IN || t->t == T_NOTIN)) return T_ID;
  return t->t;
}

static enum tok next(struct parser *p, bool values_ctx, const char **lit)
{
  enum tok t = peek(p, values_ctx, lit);
  if (p->toks[p->pos].t != T_EOS) p->pos++;
  return t;
}

/* ---- requirements ---- */

static void lreq_clear(struct lreq *r)
{
  free(r->key);
  for (size_t i = 0; i < r->nvals; i++) free(r->vals[i]);
  free(r->vals);
  memset(r, 0, sizeof *r);
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Appends a value; repeats are dropped once all are in (lreq_dedup). */
static int lreq_add_val(struct lreq *r, const char *v)
{
  if (r->nvals == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 4;
    char **nv = xrealloc(r->vals, cap * sizeof *nv);
    if (!nv) return -ENOMEM;
    r->vals = nv;
    r->cap = cap;
  }
  if (!(r->vals[r->nvals] = xstrdup(v))) return -ENOMEM;
  r->nvals++;
  return 0;
}

struct val_pos {
  const char *v;
  size_t i;
};

static int val_pos_cmp(const void *a, const void *b)
{
  const struct val_pos *x = a, *y = b;
  int c = strcmp(x->v, y->v);
  return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Drops repeated values, keeping each first occurrence where it was (the
 * order error messages print).  Sorting copies instead of scanning on every
 * insert keeps a selector with a huge value list O(n log n): a quadratic
 * parse of one long ?labelSelector= would stall the event loop. */
static int lreq_dedup(struct lreq *r)
{
  if (r->nvals < 2) return 0;
  struct val_pos *vp = xmalloc(r->nvals * sizeof *vp);
  bool *dup = xcalloc(r->nvals, sizeof *dup);
  if (!vp || !dup) {
    free(vp);
    free(dup);
    return -ENOMEM;
  }
  for (size_t i = 0; i < r->nvals; i++) vp[i] = (struct val_pos){r->vals[i], i};
  qsort(vp, r->nvals, sizeof *vp, val_pos_cmp);
  for (size_t i = 1; i < r->nvals; i++)
    if (strcmp(vp[i].v, vp[i - 1].v) == 0) dup[vp[i].i] = true;
  size_t o = 0;
  for (size_t i = 0; i < r->nvals; i++) {
    if (dup[i]) free(r->vals[i]);
    else r->vals[o++] = r->vals[i];
  }
  r->nvals = o;
  free(vp);
  free(dup);
  return 0;
}

/* Appends Go's %#v of a []string, as field.Invalid prints a value list. */
static void go_string_slice(char *out, size_t len, const struct lreq *r)
{
  size_t o = (size_t)snprintf(out, len, "[]string{");
  for (size_t i = 0; i < r->nvals && o < len; i++)
    o += (size_t)snprintf(out + o, len - o, "%s\"%s\"", i ? ", " : "", r->vals[i]);
  if (o < len) snprintf(out + o, len - o, "}");
}

static void err_append(char *err, size_t errlen, int *count, const char *msg)
{
  size_t used = strlen(err);
  if (used < errlen) snprintf(err + used, errlen - used, "%s%s", *count ? ", " : "", msg);
  (*count)++;
}

/*
 * Upstream's NewRequirement checks; errors are aggregated like
 * field.ErrorList ("[a, b]" when several).  key_path is "key" when the
 * requirement comes from an API object and "<nil>" from a parsed string.
 */
static int lreq_validate(struct lreq *r, const char *key_path, bool check_key, char *err, size_t errlen)
{
  char buf[1024], msg[1400], vals[512];
  int count = 0;
  char agg[4096] = "";
  if (check_key && !names_is_qualified_name(r->key, buf, sizeof buf)) {
    snprintf(msg, sizeof msg, "%s: Invalid value: \"%s\": %s", key_path, r->key, buf);
    err_append(agg, sizeof agg, &count, msg);
  }
  go_string_slice(vals, sizeof vals, r);
  const char *vmsg = NULL;
  switch (r->op) {
  case OP_IN:
  case OP_NOTIN:
    if (r->nvals == 0) vmsg = "for 'in', 'notin' operators, values set can't be empty";
    break;
  case OP_EQ:
  case OP_DEQ:
  case OP_NEQ:
    if (r->nvals != 1) vmsg = "exact-match compatibility requires one single value";
    break;
  case OP_EXISTS:
  case OP_NOT_EXISTS:
    if (r->nvals != 0) vmsg = "values set must be empty for exists and does not exist";
    break;
  case OP_GT:
  case OP_LT:
    if (r->nvals != 1) vmsg = "for 'Gt', 'Lt' operators, exactly one value is required";
    break;
  }
  if (vmsg) {
    snprintf(msg, sizeof msg, "values: Invalid value: %s: %s", vals, vmsg);
    err_append(agg, sizeof agg, &count, msg);
  }
  for (size_t i = 0; (r->op == OP_GT || r->op == OP_LT) && i < r->nvals; i++) {
    int64_t dummy;
    if (kstr_parse_int64(r->vals[i], &dummy) < 0) {
      snprintf(msg, sizeof msg,
               "values[%zu]: Invalid value: \"%s\": for 'Gt', 'Lt' operators, the value must "
               "be an integer",
               i, r->vals[i]);
      err_append(agg, sizeof agg, &count, msg);
    }
  }
  for (size_t i = 0; i < r->nvals; i++) {
    if (!names_is_label_value(r->vals[i], buf, sizeof buf)) {
      snprintf(msg, sizeof msg, "values[%zu][%s]: Invalid value: \"%s\": %s", i, r->key, r->vals[i], buf);
      err_append(agg, sizeof agg, &count, msg);
    }
  }
  if (count == 0) return 0;
  if (count > 1) snprintf(err, errlen, "[%s]", agg);
  else snprintf(err, errlen, "%s", agg);
  return -EINVAL;
}

static int parse_values(struct parser *p, struct lreq *r)
{
  const char *lit;
  enum tok t = next(p, true, &lit);
  if (t != T_OPEN) {
    snprintf(p->err, p->errlen, "found '%s' expected: '('", lit);
    return -EINVAL;
  }
  t = peek(p, true, &lit);
  if (t == T_CLOSE) {
    next(p, true, NULL);
    return lreq_add_val(r, "");
  }
  if (t != T_ID && t != T_COMMA) {
    snprintf(p->err, p->errlen, "found '%s', expected: ',', ')' or identifier", lit);
    return -EINVAL;
  }
  for (;;) {
    const char *l2;
    t = next(p, true, &lit);
    if (t == T_ID) {
      if (lreq_add_val(r, lit) < 0) return -ENOMEM;
      enum tok t2 = peek(p, true, &l2);
      if (t2 == T_COMMA) continue;
      if (t2 == T_CLOSE) break;
      snprintf(p->err, p->errlen, "found '%s', expected: ',' or ')'", l2);
      return -EINVAL;
    } else if (t == T_COMMA) {
      /* "(," ",)" and ",," stand for empty values. */
      if (r->nvals == 0 && lreq_add_val(r, "") < 0) return -ENOMEM;
      enum tok t2 = peek(p, true, NULL);
      if (t2 == T_CLOSE) {
        if (lreq_add_val(r, "") < 0) return -ENOMEM;
        break;
      }
      if (t2 == T_COMMA) {
        next(p, true, NULL);
        if (lreq_add_val(r, "") < 0) return -ENOMEM;
      }
    } else {
      snprintf(p->err, p->errlen, "found '%s', expected: ',', or identifier", lit);
      return -EINVAL;
    }
  }
  t = next(p, true, &lit);
  if (t != T_CLOSE) {
    snprintf(p->err, p->errlen, "found '%s', expected: ')'", lit);
    return -EINVAL;
  }
  return 0;
}

static int parse_requirement(struct parser *p, struct lreq *r)
{
  const char *lit;
  enum tok t = next(p, true, &lit);
  bool dne = false;
  if (t == T_DNE) {
    dne = true;
    t = next(p, true, &lit);
  }
  if (t != T_ID) {
    snprintf(p->err, p->errlen, "found '%s', expected: identifier", lit);
    return -EINVAL;
  }
  char kmsg[1024];
  if (!names_is_qualified_name(lit, kmsg, sizeof kmsg)) {
    snprintf(p->err, p->errlen, "<nil>: Invalid value: \"%s\": %s", lit, kmsg);
    return -EINVAL;
  }
  if (!(r->key = xstrdup(lit))) return -ENOMEM;
  enum tok la = peek(p, true, NULL);
  if (dne || la == T_EOS || la == T_COMMA) {
    r->op = dne ? OP_NOT_EXISTS : OP_EXISTS;
    return 0;
  }
  t = next(p, false, &lit);
  switch (t) {
  case T_IN: r->op = OP_IN; break;
  case T_NOTIN: r->op = OP_NOTIN; break;
  case T_EQ: r->op = OP_EQ; break;
  case T_DEQ: r->op = OP_DEQ; break;
  case T_NEQ: r->op = OP_NEQ; break;
  case T_GT: r->op = OP_GT; break;
  case T_LT: r->op = OP_LT; break;
  default: snprintf(p->err, p->errlen, "found '%s', expected: in, notin, =, ==, !=, gt, lt", lit); return -EINVAL;
  }
  int rc;
  if (r->op == OP_IN || r->op == OP_NOTIN) {
    rc = parse_values(p, r);
  } else {
    la = peek(p, true, &lit);
    if (la == T_EOS || la == T_COMMA) {
      rc = lreq_add_val(r, "");
    } else if (next(p, true, &lit) == T_ID) {
      rc = lreq_add_val(r, lit);
    } else {
      snprintf(p->err, p->errlen, "found '%s', expected: identifier", lit);
      rc = -EINVAL;
    }
  }
  if (rc < 0 || (rc = lreq_dedup(r)) < 0) return rc;
  if (r->nvals > 1) qsort(r->vals, r->nvals, sizeof *r->vals, str_cmp);
  return lreq_validate(r, "<nil>", false, p->err, p->errlen);
}

static int lreq_key_cmp(const void *a, const void *b)
{
  const struct lreq *ra = a, *rb = b;
  int c = strcmp(ra->key, rb->key);
  /* Stable order for equal keys: qsort is not stable, so fall back on the
   * operator, which is deterministic for the canonical string. */
  return c ? c : (int)ra->op - (int)rb->op;
}

static int sel_push(struct labelsel *s, struct lreq *r)
{
  struct lreq *nr = xrealloc(s->reqs, (s->n + 1) * sizeof *nr);
  if (!nr) return -ENOMEM;
  s->reqs = nr;
  nr[s->n++] = *r;
  memset(r, 0, sizeof *r);
  return 0;
}

struct labelsel *labelsel_parse(const char *str, char *err, size_t errlen)
{
  struct parser p = {.err = err, .errlen = errlen};
  char scratch[8];
  if (!p.err || !p.errlen) {
    p.err = scratch;
    p.errlen = sizeof scratch;
  }
  p.err[0] = '\0';
  struct labelsel *s = xcalloc(1, sizeof *s);
  if (!s || lex(&p, str ? str : "") < 0) goto fail;
  for (;;) {
    const char *lit;
    enum tok t = peek(&p, true, &lit);
    if (t == T_EOS) break;
    if (t != T_ID && t != T_DNE) {
      snprintf(p.err, p.errlen, "found '%s', expected: !, identifier, or 'end of string'", lit);
      goto fail;
    }
    struct lreq r = {0};
    if (parse_requirement(&p, &r) < 0) {
      char inner[4096];
      snprintf(inner, sizeof inner, "%s", p.err);
      snprintf(p.err, p.errlen, "unable to parse requirement: %s", inner);
      lreq_clear(&r);
      goto fail;
    }
    if (sel_push(s, &r) < 0) {
      lreq_clear(&r);
      goto fail;
    }
    t = next(&p, true, &lit);
    if (t == T_EOS) break;
    if (t != T_COMMA) {
      snprintf(p.err, p.errlen, "found '%s', expected: ',' or 'end of string'", lit);
      goto fail;
    }
    t = peek(&p, true, &lit);
    if (t != T_ID && t != T_DNE) {
      snprintf(p.err, p.errlen, "found '%s', expected: identifier after ','", lit);
      goto fail;
    }
  }
  if (s->n > 1) qsort(s->reqs, s->n, sizeof *s->reqs, lreq_key_cmp);
  for (size_t i = 0; i < p.n; i++) free(p.toks[i].lit);
  free(p.toks);
  return s;
fail:
  for (size_t i = 0; i < p.n; i++) free(p.toks[i].lit);
  free(p.toks);
  labelsel_free(s);
  return NULL;
}

struct labelsel *labelsel_from_json(const json_t *ls, char *err, size_t errlen)
{
  char scratch[8];
  if (!err || !errlen) {
    err = scratch;
    errlen = sizeof scratch;
  }
  err[0] = '\0';
  struct labelsel *s = xcalloc(1, sizeof *s);
  if (!s) return NULL;
  if (!ls || json_is_null(ls)) {
    s->nothing = true;
    return s;
  }
  if (!json_is_object(ls)) {
    snprintf(err, errlen, "label selector must be an object");
    goto fail;
  }
  json_t *ml = json_object_get(ls, "matchLabels");
  json_t *me = json_object_get(ls, "matchExpressions");
  if (ml && !json_is_null(ml)) {
    const char *k;
    json_t *v;
    if (!json_is_object(ml)) {
      snprintf(err, errlen, "matchLabels must be an object");
      goto fail;
    }
    json_object_foreach (ml, k, v) {
      struct lreq r = {.op = OP_EQ};
      if (!json_is_string(v)) {
        snprintf(err, errlen, "matchLabels[%s] must be a string", k);
        goto fail;
      }
      if (!(r.key = xstrdup(k)) || lreq_add_val(&r, json_string_value(v)) < 0 ||
          lreq_validate(&r, "key", true, err, errlen) < 0 || sel_push(s, &r) < 0) {
        lreq_clear(&r);
        goto fail;
      }
    }
  }
  if (me && !json_is_null(me)) {
    size_t i;
    json_t *e;
    if (!json_is_array(me)) {
      snprintf(err, errlen, "matchExpressions must be an array");
      goto fail;
    }
    json_array_foreach (me, i, e) {
      struct lreq r = {0};
      const char *key = json_string_value(json_object_get(e, "key"));
      const char *op = json_string_value(json_object_get(e, "operator"));
      json_t *vals = json_object_get(e, "values");
      if (!op) op = "";
      if (strcmp(op, "In") == 0) r.op = OP_IN;
      else if (strcmp(op, "NotIn") == 0) r.op = OP_NOTIN;
      else if (strcmp(op, "Exists") == 0) r.op = OP_EXISTS;
      else if (strcmp(op, "DoesNotExist") == 0) r.op = OP_NOT_EXISTS;
      else {
        snprintf(err, errlen, "\"%s\" is not a valid label selector operator", op);
        goto fail;
      }
      if (!(r.key = xstrdup(key ? key : ""))) goto fail;
      size_t j;
      json_t *v;
      json_array_foreach (vals, j, v) {
        if (lreq_add_val(&r, json_is_string(v) ? json_string_value(v) : "") < 0) {
          lreq_clear(&r);
          goto fail;
        }
      }
      if (lreq_dedup(&r) < 0 || lreq_validate(&r, "key", true, err, errlen) < 0 || sel_push(s, &r) < 0) {
        lreq_clear(&r);
        goto fail;
      }
    }
  }
  for (size_t k = 0; k < s->n; k++)
    if (s->reqs[k].nvals > 1) qsort(s->reqs[k].vals, s->reqs[k].nvals, sizeof(char *), str_cmp);
  if (s->n > 1) qsort(s->reqs, s->n, sizeof *s->reqs, lreq_key_cmp);
  return s;
fail:
  labelsel_free(s);
  return NULL;
}

static bool has_val(const struct lreq *r, const char *v)
{
  for (size_t i = 0; i < r->nvals; i++)
    if (strcmp(r->vals[i], v) == 0) return true;
  return false;
}

static bool lreq_matches(const struct lreq *r, const char *v)
{
  switch (r->op) {
  case OP_EXISTS: return v != NULL;
  case OP_NOT_EXISTS: return v == NULL;
  case OP_EQ:
  case OP_DEQ:
  case OP_IN: return v && has_val(r, v);
  case OP_NEQ:
  case OP_NOTIN: return !v || !has_val(r, v);
  case OP_GT:
  case OP_LT: {
    int64_t have, want;
    if (!v || r->nvals != 1 || kstr_parse_int64(v, &have) < 0 || kstr_parse_int64(r->vals[0], &want) < 0) return false;
    return r->op == OP_GT ? have > want : have < want;
  }
  }
  return false;
}

bool labelsel_matches_fn(const struct labelsel *s, ksel_get_fn get, void *arg)
{
  if (!s || s->nothing) return false;
  for (size_t i = 0; i < s->n; i++)
    if (!lreq_matches(&s->reqs[i], get(arg, s->reqs[i].key))) return false;
  return true;
}

static const char *json_label_get(void *arg, const char *key)
{
  const json_t *labels = arg;
  return json_string_value(json_object_get(labels, key));
}

bool labelsel_matches(const struct labelsel *s, const json_t *labels)
{
  return labelsel_matches_fn(s, json_label_get, (void *)labels);
}

bool labelsel_is_empty(const struct labelsel *s) { return s && !s->nothing && s->n == 0; }

bool labelsel_is_nothing(const struct labelsel *s) { return !s || s->nothing; }

char *labelsel_string(const struct labelsel *s)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  for (size_t i = 0; s && i < s->n; i++) {
    const struct lreq *r = &s->reqs[i];
    if (i) fputc(',', f);
    switch (r->op) {
    case OP_EXISTS: fprintf(f, "%s", r->key); break;
    case OP_NOT_EXISTS: fprintf(f, "!%s", r->key); break;
    case OP_EQ: fprintf(f, "%s=%s", r->key, r->nvals ? r->vals[0] : ""); break;
    case OP_DEQ: fprintf(f, "%s==%s", r->key, r->nvals ? r->vals[0] : ""); break;
    case OP_NEQ: fprintf(f, "%s!=%s", r->key, r->nvals ? r->vals[0] : ""); break;
    case OP_GT: fprintf(f, "%s>%s", r->key, r->nvals ? r->vals[0] : ""); break;
    case OP_LT: fprintf(f, "%s<%s", r->key, r->nvals ? r->vals[0] : ""); break;
    case OP_IN:
    case OP_NOTIN:
      fprintf(f, "%s %s (", r->key, r->op == OP_IN ? "in" : "notin");
      for (size_t j = 0; j < r->nvals; j++) fprintf(f, "%s%s", j ? "," : "", r->vals[j]);
      fputc(')', f);
      break;
    }
  }
  fclose(f);
  return buf;
}

void labelsel_free(struct labelsel *s)
{
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) lreq_clear(&s->reqs[i]);
  free(s->reqs);
  free(s);
}

/* ---- field selectors ---- */

struct fterm {
  char *field;
  bool neq;
  char *value;
};

struct fieldsel {
  struct fterm *terms;
  size_t n;
};

/* Splits on commas not preceded by an escaping backslash. */
static char **split_terms(const char *s, size_t *count)
{
  char **parts = NULL;
  size_t n = 0;
  const char *start = s;
  bool esc = false;
  for (const char *p = s;; p++) {
    if (*p == '\0' || (*p == ',' && !esc)) {
      char **np = xrealloc(parts, (n + 1) * sizeof *np);
      if (!np) goto fail;
      parts = np;
      if (!(parts[n] = xstrndup(start, (size_t)(p - start)))) goto fail;
      n++;
      if (*p == '\0') break;
      start = p + 1;
      continue;
    }
    esc = !esc && *p == '\\';
  }
  *count = n;
  return parts;
fail:
  for (size_t i = 0; i < n; i++) free(parts[i]);
  free(parts);
  return NULL;
}

static int unescape_value(const char *in, char **out, char *err, size_t errlen)
{
  size_t n = strlen(in), o = 0;
  char *buf = xmalloc(n + 1);
  if (!buf) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    char c = in[i];
    if (c == '\\') {
      char e = in[i + 1];
      if (e == '\\' || e == ',' || e == '=') {
        buf[o++] = e;
        i++;
        continue;
      }
      if (e == '\0') snprintf(err, errlen, "invalid field selector: invalid escape sequence: \\");
      else snprintf(err, errlen, "invalid field selector: invalid escape sequence: \\%c", e);
      free(buf);
      return -EINVAL;
    }
    if (c == ',' || c == '=') {
      snprintf(err, errlen, "invalid field selector: unescaped character in value: %d", c);
      free(buf);
      return -EINVAL;
    }
    buf[o++] = c;
  }
  buf[o] = '\0';
  *out = buf;
  return 0;
}

struct fieldsel *fieldsel_parse(const char *str, char *err, size_t errlen)
{
  char scratch[8];
  size_t nparts = 0;
  if (!err || !errlen) {
    err = scratch;
    errlen = sizeof scratch;
  }
  err[0] = '\0';
  if (!str) str = "";
  struct fieldsel *s = xcalloc(1, sizeof *s);
  char **parts = s ? split_terms(str, &nparts) : NULL;
  if (!parts) {
    free(s);
    return NULL;
  }
  qsort(parts, nparts, sizeof *parts, str_cmp);
  for (size_t i = 0; i < nparts; i++) {
    const char *part = parts[i];
    if (!*part) continue;
    const char *op = NULL;
    size_t oplen = 0;
    for (const char *p = part; *p && !op; p++) {
      if (strncmp(p, "!=", 2) == 0 || strncmp(p, "==", 2) == 0) op = p, oplen = 2;
      else if (*p == '=') op = p, oplen = 1;
    }
    if (!op) {
      snprintf(err, errlen, "invalid selector: '%s'; can't understand '%s'", str, part);
      goto fail;
    }
    struct fterm t = {.neq = op[0] == '!'};
    if (unescape_value(op + oplen, &t.value, err, errlen) < 0) goto fail;
    struct fterm *nt = xrealloc(s->terms, (s->n + 1) * sizeof *nt);
    if (!nt || !(t.field = xstrndup(part, (size_t)(op - part)))) {
      if (nt) s->terms = nt;
      free(t.value);
      goto fail;
    }
    s->terms = nt;
    nt[s->n++] = t;
  }
  for (size_t i = 0; i < nparts; i++) free(parts[i]);
  free(parts);
  return s;
fail:
  for (size_t i = 0; i < nparts; i++) free(parts[i]);
  free(parts);
  fieldsel_free(s);
  return NULL;
}

bool fieldsel_matches_fn(const struct fieldsel *s, ksel_get_fn get, void *arg)
{
  for (size_t i = 0; s && i < s->n; i++) {
    const char *v = get(arg, s->terms[i].field);
    bool eq = strcmp(v ? v : "", s->terms[i].value) == 0;
    if (eq == s->terms[i].neq) return false;
  }
  return true;
}

size_t fieldsel_count(const struct fieldsel *s) { return s ? s->n : 0; }

void fieldsel_term(const struct fieldsel *s, size_t i, const char **field, const char **op, const char **value)
{
  const struct fterm *t = &s->terms[i];
  if (field) *field = t->field;
  if (op) *op = t->neq ? "!=" : "=";
  if (value) *value = t->value;
}

void fieldsel_free(struct fieldsel *s)
{
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) {
    free(s->terms[i].field);
    free(s->terms[i].value);
  }
  free(s->terms);
  free(s);
}
