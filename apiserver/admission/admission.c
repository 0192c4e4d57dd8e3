/*
 * admission.c - the admission chain and the helpers its plugins share.
 *
 * The chain is a fixed table in upstream's default plugin order: the
 * mutating plugins run first so that the validating ones see the final
 * object (LimitRanger's defaults before ResourceQuota counts requests).
 * The first plugin that refuses ends the request with its Status.
 */
#define _GNU_SOURCE
#include "admission/admission.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/status.h>

#include "apiserver.h"
#include "registry/registry.h"
#include "storage/storage.h"

static const admission_fn MUTATING[] = {
    admission_limit_ranger_mutate,
    admission_service_account,
    admission_default_toleration_seconds,
    admission_priority,
};

static const admission_fn VALIDATING[] = {
    admission_limit_ranger_validate,
    admission_pvc_resize,
    admission_resource_quota,
};

bool adm_main_resource(const struct reg_request *rq) { return !rq->subresource || !*rq->subresource; }

json_t *admission_run(struct reg_request *rq, const struct resource *res, json_t *obj, const json_t *old)
{
  json_t *nst = admission_node_restriction(rq, res, obj, old);
  if (nst) return nst;
  if (!adm_main_resource(rq) || !rq->srv || !rq->srv->storage) return NULL;
  for (size_t i = 0; i < sizeof(MUTATING) / sizeof(MUTATING[0]); i++) {
    json_t *st = MUTATING[i](rq, res, obj, old);
    if (st) return st;
  }
  for (size_t i = 0; i < sizeof(VALIDATING) / sizeof(VALIDATING[0]); i++) {
    json_t *st = VALIDATING[i](rq, res, obj, old);
    if (st) return st;
  }
  return NULL;
}

json_t *adm_forbidden(const struct resource *res, const char *name, const char *fmt, ...)
{
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  char gr[300];
  if (*res->group) snprintf(gr, sizeof(gr), "%s.%s", res->plural, res->group);
  else snprintf(gr, sizeof(gr), "%s", res->plural);
  json_t *st = kstatus_forbidden("%s \"%s\" is forbidden: %s", gr, name ? name : "", msg);
  kstatus_set_details(st, name ? name : "", res->group, res->plural);
  return st;
}

json_t *adm_get(struct apiserver *srv, const char *key)
{
  struct kv *kv = storage_get(srv->storage, key);
  return kv ? kj_loadb(kv->bytes, kv->len, false, NULL, 0) : NULL;
}

static int list_visit(void *arg, struct kv *kv)
{
  json_t *o = kj_loadb(kv->bytes, kv->len, false, NULL, 0);
  if (o) json_array_append_new(arg, o);
  return 0;
}

static json_t *list_prefix(struct apiserver *srv, const char *base, const char *ns)
{
  char prefix[600];
  if (ns && *ns) snprintf(prefix, sizeof(prefix), "%s/%s/", base, ns);
  else snprintf(prefix, sizeof(prefix), "%s/", base);
  json_t *out = json_array();
  storage_list(srv->storage, prefix, 0, NULL, list_visit, out);
  return out;
}

json_t *adm_list(struct apiserver *srv, const char *plural, const char *ns)
{
  char base[300];
  snprintf(base, sizeof(base), "/registry/%s", plural);
  return list_prefix(srv, base, ns);
}

json_t *adm_list_res(struct apiserver *srv, const struct resource *res, const char *ns)
{
  return list_prefix(srv, res->storage_prefix, ns);
}
