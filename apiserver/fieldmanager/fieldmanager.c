/*
 * fieldmanager.c - tracking of ordinary writes (Update) and the request
 * checks around server-side apply (options, body decoding, the default
 * manager name).
 *
 * An Update decodes the entries (from the new object when a client sent
 * usable ones, else from the stored object), compares the stored object
 * with the new one by schema (typed.c), gives the added and changed fields
 * to the writer's Update entry and takes them from every other entry,
 * drops removed fields everywhere, then writes the entries back
 * (managed.c).  With a status subresource the changes and the writer's
 * entry are limited to its side (.status, or everything else); other
 * managers' entries keep what they own on the other side.  Apply lives in apply.c.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/status.h>
#include <kube/timeutil.h>
#include <kube/yaml.h>

#include "fieldmanager/fm_int.h"
#include "schema/schema.h"

/* ---- Update ---- */

int fieldmanager_update(const struct fm_request *req, const json_t *old_obj, json_t *new_obj)
{
  if (!req || !req->manager || !json_is_object(new_obj)) return -EINVAL;
  struct fm_ctx c;
  fm_ctx_init(&c, req);
  const char *sub = req->subresource && *req->subresource ? req->subresource : NULL;

  struct fm_managed m = {0};
  json_t *meta = json_object_get(new_obj, "metadata");
  bool have = false;
  if (!sub) {
    have = fm_managed_decode(fm_managed_of(new_obj), &m) == 0 && (m.n > 0 || m.reset);
    if (!have) fm_managed_clear(&m);
  }
  if (!have && fm_managed_decode(fm_managed_of(old_obj), &m) < 0) memset(&m, 0, sizeof(m));

  json_t *old_s = fm_without_managed(old_obj);
  if (json_is_object(meta)) json_object_del(meta, "managedFields");
  struct fm_compare cmp;
  int rc = fm_typed_compare(c.ty, old_s, new_obj, old_obj == NULL, &cmp);
  json_decref(old_s);
  if (rc < 0) {
    fm_managed_clear(&m);
    return rc;
  }
  /* cmp.added is not read again: it becomes the changed set. */
  struct fm_set *changed = cmp.added;
  cmp.added = NULL;
  if (!changed || fm_set_union_into(changed, cmp.modified) < 0) {
    rc = -ENOMEM;
    goto out;
  }
  fm_filter_set(&c, changed);
  fm_filter_set(&c, cmp.removed);

  ssize_t own = fm_managed_find(&m, req->manager, FM_OP_UPDATE, req->api_version, sub);
  for (size_t i = 0; i < m.n; i++) {
    fm_set_subtract(m.e[i].set, cmp.removed);
    if ((ssize_t)i != own) fm_set_subtract(m.e[i].set, changed);
  }
  if (!fm_set_empty(changed)) {
    if (own < 0) {
      if (!fm_managed_add(&m, req->manager, FM_OP_UPDATE, req->api_version, sub)) {
        rc = -ENOMEM;
        goto out;
      }
      own = (ssize_t)m.n - 1;
    }
    if (fm_set_empty(m.e[own].set)) {
      /* A new entry (every create): take the set rather than copy it. */
      struct fm_set *t = m.e[own].set;
      m.e[own].set = changed;
      changed = t;
    } else if (fm_set_union_into(m.e[own].set, changed) < 0) {
      rc = -ENOMEM;
      goto out;
    }
    if (fm_set_time(&m.e[own], c.now) < 0) {
      rc = -ENOMEM;
      goto out;
    }
  }
  fm_filter_entries(&c, &m, own);
  fm_drop_empty_entries(&m, -1);
  if ((rc = fm_cap_update_managers(&m, req->api_version, c.now)) == 0) rc = fm_managed_encode(&m, new_obj);
out:
  fm_set_free(changed);
  fm_compare_clear(&cmp);
  fm_managed_clear(&m);
  return rc;
}

json_t *fieldmanager_decode_apply(const char *body, size_t len, json_t **status)
{
  char err[512] = "";
  *status = NULL;
  json_t *cfg = body && len ? kyaml_load(body, len, err, sizeof(err)) : NULL;
  /* An empty body (or only comments) is an empty configuration. */
  if (!cfg && (!*err || strcmp(err, "yaml: no document found") == 0)) cfg = json_object();
  if (!cfg) {
    *status = kstatus_bad_request("error decoding YAML: %s", err);
    return NULL;
  }
  if (json_is_null(cfg)) {
    json_decref(cfg);
    return json_object();
  }
  if (!json_is_object(cfg)) {
    *status = kstatus_bad_request("error decoding YAML: json: cannot unmarshal %s into Go value of "
                                  "type map[string]interface {}",
                                  json_is_array(cfg)    ? "array"
                                  : json_is_string(cfg) ? "string"
                                                        : "number");
    json_decref(cfg);
    return NULL;
  }
  return cfg;
}

json_t *fieldmanager_check_name(const json_t *obj, const char *url_name, const char *url_namespace)
{
  const char *name = fm_nz(kj_get_str(obj, "metadata.name"));
  const char *ns = fm_nz(kj_get_str(obj, "metadata.namespace"));
  if (strcmp(name, fm_nz(url_name)) != 0)
    return kstatus_bad_request("the name of the object (%s) does not match the name on the URL (%s)", name,
                               fm_nz(url_name));
  if (url_namespace && *url_namespace && *ns && strcmp(ns, url_namespace) != 0)
    return kstatus_bad_request("the namespace of the object (%s) does not match the namespace on the URL (%s)", ns,
                               url_namespace);
  return NULL;
}

/* ---- options ---- */

static void add_cause(json_t *causes, const char *reason, const char *msg, const char *field)
{
  json_t *c = json_object();
  json_object_set_new(c, "reason", json_string(reason));
  json_object_set_new(c, "message", json_string(msg));
  json_object_set_new(c, "field", json_string(field));
  json_array_append_new(causes, c);
}

json_t *fieldmanager_validate_options(const char *options_kind, const char *field_manager, bool is_apply,
                                      bool force_given)
{
  json_t *causes = json_array();
  if (!causes) return NULL;
  if (!is_apply && force_given)
    add_cause(causes, "FieldValueForbidden", "Forbidden: may not be specified for non-apply patch", "force");
  if (is_apply && (!field_manager || !*field_manager))
    add_cause(causes, "FieldValueRequired", "Required value: is required for apply patch", "fieldManager");
  if (field_manager && strlen(field_manager) > FM_MANAGER_NAME_MAX) {
    char msg[80];
    snprintf(msg, sizeof(msg), "Too long: may not be more than %d bytes", FM_MANAGER_NAME_MAX);
    add_cause(causes, "FieldValueTooLong", msg, "fieldManager");
  }
  for (const unsigned char *p = (const unsigned char *)fm_nz(field_manager); *p; p++) {
    if (*p < 0x20 || *p == 0x7f) {
      json_t *q = json_string(field_manager);
      char *qv = q ? kj_dumps_flags(q, JSON_ENCODE_ANY) : NULL, *msg = NULL;
      json_decref(q);
      if (asprintf(&msg, "Invalid value: %s: invalid character U+%04X (at position %zu)", fm_nz(qv), *p,
                   (size_t)(p - (const unsigned char *)field_manager)) >= 0) {
        add_cause(causes, "FieldValueInvalid", msg, "fieldManager");
        free(msg);
      }
      free(qv);
      break;
    }
  }
  if (json_array_size(causes) == 0) {
    json_decref(causes);
    return NULL;
  }
  return kstatus_invalid("meta.k8s.io", options_kind ? options_kind : "PatchOptions", "", causes);
}

char *fieldmanager_default_manager(const char *user_agent, char *out, size_t outlen)
{
  if (!out || outlen == 0) return out;
  const char *ua = fm_nz(user_agent);
  size_t n = strcspn(ua, "/");
  if (n > FM_MANAGER_NAME_MAX) n = FM_MANAGER_NAME_MAX;
  if (n >= outlen) n = outlen - 1;
  memcpy(out, ua, n);
  out[n] = '\0';
  return out;
}
