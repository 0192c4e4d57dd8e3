/*
 * expectations.c - upstream's ControllerExpectations: a controller that
 * just issued creates or deletes does not act again on a cache that has
 * not seen them yet, until every write was observed (an informer event),
 * failed or was skipped (the executor lowers it), or 5 minutes passed (a
 * watch event can be lost; the relist then fixes the cache).
 *
 * Kept per controller key in a jansson object
 * {key: {"add": n, "del": n, "ts": seconds, "uids": {uid: true}}}; the
 * uid set makes a deletion observed once however many events show it.
 */
#include <stdlib.h>

#include "framework.h"
#include "kube/json.h"
#include "kube/xalloc.h"

struct cm_expectations {
  json_t *m;
};

struct cm_expectations *cm_expectations_new(void)
{
  struct cm_expectations *e = xcalloc(1, sizeof(*e));
  e->m = json_object();
  return e;
}

void cm_expectations_free(struct cm_expectations *e)
{
  if (!e) return;
  json_decref(e->m);
  free(e);
}

void cm_expect(struct cm_expectations *e, const char *key, int adds, int dels, int64_t now)
{
  json_object_set_new(e->m, key, json_pack("{s:i,s:i,s:I}", "add", adds, "del", dels, "ts", (json_int_t)now));
}

void cm_expect_creations(struct cm_expectations *e, const char *key, int adds, int64_t now)
{
  cm_expect(e, key, adds, 0, now);
}

static void exp_add(struct cm_expectations *e, const char *key, const char *field, int delta)
{
  json_t *x = json_object_get(e->m, key);
  if (!x) return;
  json_object_set_new(x, field, json_integer(json_integer_value(json_object_get(x, field)) + delta));
}

void cm_creation_observed(struct cm_expectations *e, const char *key) { exp_add(e, key, "add", -1); }
void cm_deletion_observed(struct cm_expectations *e, const char *key) { exp_add(e, key, "del", -1); }

void cm_expectations_raise(struct cm_expectations *e, const char *key, int adds, int dels)
{
  exp_add(e, key, "add", adds);
  exp_add(e, key, "del", dels);
}

bool cm_expectations_satisfied(const struct cm_expectations *e, const char *key, int64_t now)
{
  json_t *x = json_object_get(e->m, key);
  if (!x) return true;
  if (json_integer_value(json_object_get(x, "add")) <= 0 && json_integer_value(json_object_get(x, "del")) <= 0)
    return true;
  return now - json_integer_value(json_object_get(x, "ts")) > CM_EXPECTATIONS_TTL_S;
}

void cm_expectations_delete(struct cm_expectations *e, const char *key) { json_object_del(e->m, key); }

bool cm_expectations_get(const struct cm_expectations *e, const char *key, int *adds, int *dels)
{
  json_t *x = json_object_get(e->m, key);
  if (!x) return false;
  if (adds) *adds = (int)json_integer_value(json_object_get(x, "add"));
  if (dels) *dels = (int)json_integer_value(json_object_get(x, "del"));
  return true;
}

void cm_expect_deletion_uids(struct cm_expectations *e, const char *key, const json_t *uids, int64_t now)
{
  cm_expect(e, key, 0, (int)json_array_size(uids), now);
  json_t *set = json_object();
  size_t i;
  json_t *u;
  json_array_foreach (uids, i, u)
    if (json_is_string(u)) json_object_set_new(set, json_string_value(u), json_true());
  json_object_set_new(json_object_get(e->m, key), "uids", set);
}

void cm_deletion_uid_observed(struct cm_expectations *e, const char *key, const char *uid)
{
  json_t *x = json_object_get(e->m, key);
  json_t *set = x ? json_object_get(x, "uids") : NULL;
  if (!set || !uid || !json_object_get(set, uid)) return;
  json_object_del(set, uid);
  exp_add(e, key, "del", -1);
}

void cm_expect_writes(struct cm_expectations *e, const char *key, int adds, const json_t *del_uids, int64_t now)
{
  if (json_array_size(del_uids) > 0) {
    cm_expect_deletion_uids(e, key, del_uids, now);
    cm_expectations_raise(e, key, adds, 0);
  } else if (adds > 0) {
    cm_expect_creations(e, key, adds, now);
  }
}
