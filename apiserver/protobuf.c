/*
 * protobuf.c - decoding of request bodies sent as
 * application/vnd.kubernetes.protobuf.
 *
 * kubectl's typed clients (`kubectl create namespace|configmap|secret|
 * serviceaccount|deployment`, `kubectl run`) encode bodies in the Kubernetes protobuf envelope
 * and never fall back to JSON, so the server must read it.  The envelope is
 * the 4 magic bytes "k8s\0" then a runtime.Unknown message
 * {1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding,
 * 4: contentType}; `raw` is the object's own message.
 *
 * Decoding is driven by small tables (field number -> JSON name and
 * type) for the kinds listed below; Go's generated marshalers write every
 * non-pointer field, so zero values ("" / false / 0 / empty messages) are
 * dropped, which is what the JSON encoding's omitempty gives.  A non-zero
 * field missing from the tables fails the decode rather than being lost;
 * kinds without a table are refused with 415 by the caller.
 */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/timeutil.h>

/* PB_INT0: a pointer field in Go, so an explicit 0 is kept.
 * PB_MAP_SQ: map of resource.Quantity ({1: string}).
 * PB_SKIP: read and dropped (status, which a create resets anyway). */
enum pb_type { PB_SKIP, PB_STRING, PB_BYTES, PB_BOOL, PB_INT, PB_INT0, PB_MSG, PB_MAP_SS, PB_MAP_SB, PB_MAP_SQ, PB_TIME };

struct pb_msg;
struct pb_field {
  int num;
  const char *name;
  enum pb_type type;
  bool repeated;
  const struct pb_msg *sub;
};
struct pb_msg {
  const struct pb_field *fields;
  const char *name;
};

#define END {0, NULL, 0, false, NULL}

static const struct pb_field owner_ref_f[] = {
    {1, "kind", PB_STRING}, {3, "name", PB_STRING}, {4, "uid", PB_STRING},
    {5, "apiVersion", PB_STRING}, {6, "controller", PB_BOOL}, {7, "blockOwnerDeletion", PB_BOOL}, END};
static const struct pb_msg owner_ref = {owner_ref_f};

static const struct pb_field object_meta_f[] = {
    {1, "name", PB_STRING},          {2, "generateName", PB_STRING},
    {3, "namespace", PB_STRING},     {5, "uid", PB_STRING},
    {6, "resourceVersion", PB_STRING}, {7, "generation", PB_INT},
    {8, "creationTimestamp", PB_TIME}, {11, "labels", PB_MAP_SS},
    {12, "annotations", PB_MAP_SS},  {13, "ownerReferences", PB_MSG, true, &owner_ref},
    {14, "finalizers", PB_STRING, true}, END};
static const struct pb_msg object_meta = {object_meta_f};

static const struct pb_field ns_spec_f[] = {{1, "finalizers", PB_STRING, true}, END};
static const struct pb_msg ns_spec = {ns_spec_f};
static const struct pb_field ns_status_f[] = {{1, "phase", PB_STRING}, END};
static const struct pb_msg ns_status = {ns_status_f};
static const struct pb_field namespace_f[] = {
    {1, "metadata", PB_MSG, false, &object_meta}, {2, "spec", PB_MSG, false, &ns_spec},
    {3, "status", PB_MSG, false, &ns_status}, END};

static const struct pb_field configmap_f[] = {
    {1, "metadata", PB_MSG, false, &object_meta}, {2, "data", PB_MAP_SS},
    {3, "binaryData", PB_MAP_SB}, {4, "immutable", PB_BOOL}, END};

static const struct pb_field secret_f[] = {
    {1, "metadata", PB_MSG, false, &object_meta}, {2, "data", PB_MAP_SB}, {3, "type", PB_STRING},
    {4, "stringData", PB_MAP_SS}, {5, "immutable", PB_BOOL}, END};

static const struct pb_field object_ref_f[] = {
    {1, "kind", PB_STRING}, {2, "namespace", PB_STRING}, {3, "name", PB_STRING}, {4, "uid", PB_STRING},
    {5, "apiVersion", PB_STRING}, {6, "resourceVersion", PB_STRING}, {7, "fieldPath", PB_STRING}, END};
static const struct pb_msg object_ref = {object_ref_f};
static const struct pb_field local_ref_f[] = {{1, "name", PB_STRING}, END};
static const struct pb_msg local_ref = {local_ref_f};
static const struct pb_field serviceaccount_f[] = {
    {1, "metadata", PB_MSG, false, &object_meta}, {2, "secrets", PB_MSG, true, &object_ref},
    {3, "imagePullSecrets", PB_MSG, true, &local_ref}, {4, "automountServiceAccountToken", PB_BOOL}, END};

static const struct pb_field port_f[] = {
    {1, "name", PB_STRING}, {2, "hostPort", PB_INT}, {3, "containerPort", PB_INT},
    {4, "protocol", PB_STRING}, {5, "hostIP", PB_STRING}, END};
static const struct pb_msg port_m = {port_f, "ContainerPort"};
static const struct pb_field env_f[] = {{1, "name", PB_STRING}, {2, "value", PB_STRING}, END};
static const struct pb_msg env_m = {env_f, "EnvVar"};
static const struct pb_field resources_f[] = {{1, "limits", PB_MAP_SQ}, {2, "requests", PB_MAP_SQ}, END};
static const struct pb_msg resources_m = {resources_f, "ResourceRequirements"};
static const struct pb_field container_f[] = {
    {1, "name", PB_STRING}, {2, "image", PB_STRING}, {3, "command", PB_STRING, true},
    {4, "args", PB_STRING, true}, {5, "workingDir", PB_STRING}, {6, "ports", PB_MSG, true, &port_m},
    {7, "env", PB_MSG, true, &env_m}, {8, "resources", PB_MSG, false, &resources_m},
    {13, "terminationMessagePath", PB_STRING}, {14, "imagePullPolicy", PB_STRING},
    {16, "stdin", PB_BOOL}, {17, "stdinOnce", PB_BOOL}, {18, "tty", PB_BOOL},
    {20, "terminationMessagePolicy", PB_STRING}, END};
static const struct pb_msg container_m = {container_f, "Container"};
static const struct pb_field podspec_f[] = {
    {2, "containers", PB_MSG, true, &container_m}, {3, "restartPolicy", PB_STRING},
    {4, "terminationGracePeriodSeconds", PB_INT0}, {6, "dnsPolicy", PB_STRING},
    {7, "nodeSelector", PB_MAP_SS}, {8, "serviceAccountName", PB_STRING},
    {9, "serviceAccount", PB_STRING}, {10, "nodeName", PB_STRING}, {11, "hostNetwork", PB_BOOL},
    {15, "imagePullSecrets", PB_MSG, true, &local_ref}, {19, "schedulerName", PB_STRING},
    {20, "initContainers", PB_MSG, true, &container_m}, END};
static const struct pb_msg podspec_m = {podspec_f, "PodSpec"};
static const struct pb_field pod_f[] = {
    {1, "metadata", PB_MSG, false, &object_meta}, {2, "spec", PB_MSG, false, &podspec_m},
    {3, "status", PB_SKIP}, END};
static const struct pb_field template_f[] = {
    {1, "metadata", PB_MSG, false, &object_meta}, {2, "spec", PB_MSG, false, &podspec_m}, END};
static const struct pb_msg template_m = {template_f, "PodTemplateSpec"};
static const struct pb_field selreq_f[] = {
    {1, "key", PB_STRING}, {2, "operator", PB_STRING}, {3, "values", PB_STRING, true}, END};
static const struct pb_msg selreq_m = {selreq_f, "LabelSelectorRequirement"};
static const struct pb_field selector_f[] = {
    {1, "matchLabels", PB_MAP_SS}, {2, "matchExpressions", PB_MSG, true, &selreq_m}, END};
static const struct pb_msg selector_m = {selector_f, "LabelSelector"};
static const struct pb_field strategy_f[] = {{1, "type", PB_STRING}, END};
static const struct pb_msg strategy_m = {strategy_f, "DeploymentStrategy"};
static const struct pb_field depspec_f[] = {
    {1, "replicas", PB_INT0}, {2, "selector", PB_MSG, false, &selector_m},
    {3, "template", PB_MSG, false, &template_m}, {4, "strategy", PB_MSG, false, &strategy_m},
    {5, "minReadySeconds", PB_INT}, {6, "revisionHistoryLimit", PB_INT0}, {7, "paused", PB_BOOL},
    {9, "progressDeadlineSeconds", PB_INT0}, END};
static const struct pb_msg depspec_m = {depspec_f, "DeploymentSpec"};
static const struct pb_field deployment_f[] = {
    {1, "metadata", PB_MSG, false, &object_meta}, {2, "spec", PB_MSG, false, &depspec_m},
    {3, "status", PB_SKIP}, END};

static const struct {
  const char *api_version, *kind;
  struct pb_msg msg;
} KINDS[] = {
    {"v1", "Namespace", {namespace_f}},
    {"v1", "ConfigMap", {configmap_f}},
    {"v1", "Secret", {secret_f}},
    {"v1", "ServiceAccount", {serviceaccount_f}},
    {"v1", "Pod", {pod_f}},
    {"apps/v1", "Deployment", {deployment_f}},
};

/* ---- wire format ---- */

struct rd {
  const unsigned char *p, *end;
  bool bad;
};

static uint64_t rd_varint(struct rd *r)
{
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end) {
      r->bad = true;
      return 0;
    }
    unsigned char b = *r->p++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      return v;
  }
  r->bad = true;
  return 0;
}

/* Reads one field header and its payload (data and len for wire type 2). */
static bool rd_field(struct rd *r, int *num, int *wt, uint64_t *val, const unsigned char **data, size_t *len)
{
  if (r->p >= r->end)
    return false;
  uint64_t tag = rd_varint(r);
  *num = (int)(tag >> 3);
  *wt = (int)(tag & 7);
  switch (*wt) {
  case 0:
    *val = rd_varint(r);
    break;
  case 1:
    if (r->end - r->p < 8)
      r->bad = true;
    else
      r->p += 8;
    break;
  case 5:
    if (r->end - r->p < 4)
      r->bad = true;
    else
      r->p += 4;
    break;
  case 2: {
    uint64_t l = rd_varint(r);
    if (r->bad || l > (uint64_t)(r->end - r->p)) {
      r->bad = true;
      break;
    }
    *data = r->p;
    *len = (size_t)l;
    r->p += l;
    break;
  }
  default:
    r->bad = true;
  }
  return !r->bad;
}

static char *b64_std(const unsigned char *in, size_t len)
{
  static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
  if (!out)
    return NULL;
  for (size_t i = 0; i < len; i += 3) {
    unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);
    *o++ = T[v >> 18 & 63];
    *o++ = T[v >> 12 & 63];
    *o++ = i + 1 < len ? T[v >> 6 & 63] : '=';
    *o++ = i + 2 < len ? T[v & 63] : '=';
  }
  *o = '\0';
  return out;
}

static json_t *str_of(const unsigned char *d, size_t len)
{
  return json_stringn((const char *)d, len);
}


static json_t *decode_time(const unsigned char *d, size_t len)
{
  struct rd r = {d, d + len, false};
  int num, wt;
  uint64_t v = 0;
  const unsigned char *x;
  size_t xl;
  int64_t secs = 0;
  while (rd_field(&r, &num, &wt, &v, &x, &xl))
    if (num == 1 && wt == 0)
      secs = (int64_t)v;
  if (secs == 0 || r.bad)
    return NULL;
  char buf[40];
  return json_string(ktime_format((time_t)secs, buf));
}

static json_t *quantity_of(const unsigned char *d, size_t len)
{
  struct rd r = {d, d + len, false};
  int num, wt;
  uint64_t v = 0;
  const unsigned char *x;
  size_t xl;
  json_t *q = NULL;
  while (rd_field(&r, &num, &wt, &v, &x, &xl))
    if (num == 1 && wt == 2) {
      json_decref(q);
      q = str_of(x, xl);
    }
  return q;
}

static void map_entry(json_t *obj, const unsigned char *d, size_t len, enum pb_type t, bool *bad)
{
  struct rd r = {d, d + len, false};
  int num, wt;
  uint64_t v = 0;
  const unsigned char *x = NULL;
  size_t xl = 0;
  json_t *key = NULL, *val = NULL;
  while (rd_field(&r, &num, &wt, &v, &x, &xl)) {
    if (num == 1 && wt == 2) {
      json_decref(key);
      key = str_of(x, xl);
    } else if (num == 2 && wt == 2) {
      json_decref(val);
      if (t == PB_MAP_SQ) {
        val = quantity_of(x, xl);
      } else if (t == PB_MAP_SB) {
        char *b = b64_std(x, xl);
        val = b ? json_string(b) : NULL;
        free(b);
      } else {
        val = str_of(x, xl);
      }
    }
  }
  if (r.bad || !key) {
    *bad = *bad || r.bad || !key;
    json_decref(key);
    json_decref(val);
    return;
  }
  json_object_set_new(obj, json_string_value(key), val ? val : json_string(""));
  json_decref(key);
}

static void put(json_t *obj, const struct pb_field *f, json_t *v)
{
  if (!v)
    return;
  if (f->repeated) {
    json_t *a = json_object_get(obj, f->name);
    if (!a) {
      a = json_array();
      json_object_set_new(obj, f->name, a);
    }
    json_array_append_new(a, v);
  } else {
    json_object_set_new(obj, f->name, v);
  }
}

/* Field number and message of the first unsupported field (one process,
 * one loop: a scratch buffer is enough). */
static char unsupported[128];

static json_t *decode_msg(const struct pb_msg *m, const unsigned char *d, size_t len, bool *bad)
{
  json_t *obj = json_object();
  struct rd r = {d, d + len, false};
  int num, wt;
  uint64_t v = 0;
  const unsigned char *x = NULL;
  size_t xl = 0;
  while (rd_field(&r, &num, &wt, &v, &x, &xl)) {
    const struct pb_field *f = m->fields;
    while (f->name && f->num != num)
      f++;
    if (!f->name) {
      /* Go writes zero values of every plain field; anything else this
       * table does not know would be lost, so the body is refused. */
      if ((wt == 0 && v) || (wt == 2 && xl)) {
        snprintf(unsupported, 128, "field %d of %s", num, m->name ? m->name : "the object");
        *bad = true;
      }
      continue;
    }
    switch (f->type) {
    case PB_SKIP:
      break;
    case PB_STRING:
      if (wt == 2 && (xl || f->repeated))
        put(obj, f, str_of(x, xl));
      break;
    case PB_BYTES:
      if (wt == 2) {
        char *b = b64_std(x, xl);
        if (b && (xl || f->repeated))
          put(obj, f, json_string(b));
        free(b);
      }
      break;
    case PB_BOOL:
      if (wt == 0 && v)
        put(obj, f, json_true());
      break;
    case PB_INT:
    case PB_INT0:
      if (wt == 0 && (v || f->type == PB_INT0))
        put(obj, f, json_integer((json_int_t)(int64_t)v));
      break;
    case PB_TIME:
      if (wt == 2)
        put(obj, f, decode_time(x, xl));
      break;
    case PB_MAP_SS:
    case PB_MAP_SB:
    case PB_MAP_SQ:
      if (wt == 2) {
        json_t *mo = json_object_get(obj, f->name);
        if (!mo) {
          mo = json_object();
          json_object_set_new(obj, f->name, mo);
        }
        map_entry(mo, x, xl, f->type, bad);
      }
      break;
    case PB_MSG:
      if (wt == 2) {
        json_t *sub = decode_msg(f->sub, x, xl, bad);
        if (*bad) {
          json_decref(sub);
          break;
        }
        if (json_object_size(sub) || f->repeated)
          put(obj, f, sub);
        else
          json_decref(sub);
      }
      break;
    }
  }
  if (r.bad)
    *bad = true;
  return obj;
}

json_t *api_protobuf_decode(const char *buf, size_t len, char *err, size_t errlen)
{
  const unsigned char *d = (const unsigned char *)buf;
  if (len < 4 || memcmp(d, "k8s\0", 4) != 0) {
    snprintf(err, errlen, "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]");
    return NULL;
  }
  struct rd r = {d + 4, d + len, false};
  int num, wt;
  uint64_t v = 0;
  const unsigned char *x = NULL, *raw = NULL;
  size_t xl = 0, rawlen = 0;
  char api_version[128] = "", kind[128] = "";
  while (rd_field(&r, &num, &wt, &v, &x, &xl)) {
    if (num == 1 && wt == 2) {
      struct rd t = {x, x + xl, false};
      const unsigned char *y;
      size_t yl;
      int n2, w2;
      while (rd_field(&t, &n2, &w2, &v, &y, &yl)) {
        if (w2 != 2)
          continue;
        char *dst = n2 == 1 ? api_version : n2 == 2 ? kind : NULL;
        if (dst && yl < 128) {
          memcpy(dst, y, yl);
          dst[yl] = '\0';
        }
      }
    } else if (num == 2 && wt == 2) {
      raw = x;
      rawlen = xl;
    }
  }
  if (r.bad || !raw) {
    snprintf(err, errlen, "malformed protobuf envelope");
    return NULL;
  }
  for (size_t i = 0; i < sizeof(KINDS) / sizeof(KINDS[0]); i++) {
    if (strcmp(KINDS[i].kind, kind) != 0 || strcmp(KINDS[i].api_version, api_version) != 0)
      continue;
    bool bad = false;
    unsupported[0] = '\0';
    json_t *body = decode_msg(&KINDS[i].msg, raw, rawlen, &bad);
    if (bad) {
      json_decref(body);
      if (unsupported[0])
        snprintf(err, errlen, "the protobuf encoding of %s %s uses %s, which is not supported; send application/json",
                 api_version, kind, unsupported);
      else
        snprintf(err, errlen, "malformed protobuf message for %s", kind);
      return NULL;
    }
    json_t *obj = json_pack("{s:s,s:s}", "kind", kind, "apiVersion", api_version);
    json_object_update(obj, body);
    json_decref(body);
    return obj;
  }
  snprintf(err, errlen, "the protobuf encoding of %s %s is not supported; send application/json",
           api_version, kind);
  return NULL;
}
