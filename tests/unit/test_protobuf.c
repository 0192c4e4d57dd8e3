/*
 * test_protobuf.c - protobuf request bodies decoded through the schema
 * table.  Bodies are hand-encoded here, field by field, with the numbers of
 * upstream's generated.proto, the way client-go's typed clients send them;
 * each must decode to the JSON the same request would carry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "kube/json.h"
#include "api.h"
#include "protobuf.h"
#include "schema/schema.h"

static struct schema *builtin;

static int load_builtin(void **state)
{
  char err[256] = "";
  builtin = schema_load_builtin(err, sizeof err);
  if (!builtin) fprintf(stderr, "builtin schema: %s\n", err);
  return builtin ? 0 : -1;
}

static int free_builtin(void **state)
{
  schema_free(builtin);
  return 0;
}

/* ---- a tiny protobuf encoder ---- */

struct pb {
  unsigned char *b;
  size_t len, cap;
};

static void pb_raw(struct pb *p, const void *d, size_t n)
{
  if (p->len + n > p->cap) {
    p->cap = (p->len + n) * 2 + 16;
    p->b = realloc(p->b, p->cap);
    assert_non_null(p->b);
  }
  if (n) memcpy(p->b + p->len, d, n);
  p->len += n;
}

static void pb_varint(struct pb *p, uint64_t v)
{
  unsigned char c;
  do {
    c = v & 0x7f;
    v >>= 7;
    if (v) c |= 0x80;
    pb_raw(p, &c, 1);
  } while (v);
}

static void pb_bytes(struct pb *p, unsigned num, const void *d, size_t n)
{
  pb_varint(p, (uint64_t)num << 3 | 2);
  pb_varint(p, n);
  pb_raw(p, d, n);
}

static void pb_str(struct pb *p, unsigned num, const char *s) { pb_bytes(p, num, s, strlen(s)); }

/* int32 and int64 alike: negative values go out as 10-byte varints. */
static void pb_int(struct pb *p, unsigned num, int64_t v)
{
  pb_varint(p, (uint64_t)num << 3);
  pb_varint(p, (uint64_t)v);
}

/* Embeds sub as field num and frees it. */
static void pb_msg(struct pb *p, unsigned num, struct pb *sub)
{
  pb_bytes(p, num, sub->b, sub->len);
  free(sub->b);
  memset(sub, 0, sizeof *sub);
}

static void pb_map_entry(struct pb *p, unsigned num, const char *key, const char *val)
{
  struct pb e = {0};
  pb_str(&e, 1, key);
  pb_str(&e, 2, val);
  pb_msg(p, num, &e);
}

static void pb_quantity_entry(struct pb *p, unsigned num, const char *key, const char *val)
{
  struct pb q = {0}, e = {0};
  pb_str(&q, 1, val);
  pb_str(&e, 1, key);
  pb_msg(&e, 2, &q);
  pb_msg(p, num, &e);
}

static void pb_intstr_int(struct pb *p, unsigned num, int32_t v)
{
  struct pb s = {0};
  pb_int(&s, 1, 0);
  pb_int(&s, 2, v);
  pb_str(&s, 3, "");
  pb_msg(p, num, &s);
}

static void pb_intstr_str(struct pb *p, unsigned num, const char *v)
{
  struct pb s = {0};
  pb_int(&s, 1, 1);
  pb_int(&s, 2, 0);
  pb_str(&s, 3, v);
  pb_msg(p, num, &s);
}

static void pb_time(struct pb *p, unsigned num, int64_t secs, int32_t nanos)
{
  struct pb t = {0};
  pb_int(&t, 1, secs);
  pb_int(&t, 2, nanos);
  pb_msg(p, num, &t);
}

/* ObjectMeta as Go writes it: every plain field, zero or not. */
static void pb_meta(struct pb *p, unsigned num, const char *name, const char *ns)
{
  struct pb m = {0};
  pb_str(&m, 1, name);
  pb_str(&m, 2, "");
  pb_str(&m, 3, ns);
  pb_str(&m, 4, "");
  pb_str(&m, 5, "");
  pb_str(&m, 6, "");
  pb_int(&m, 7, 0);
  pb_time(&m, 8, 0, 0);
  pb_msg(p, num, &m);
}

/* The envelope around raw (freed): "k8s\0" + runtime.Unknown. */
static struct pb envelope(const char *api_version, const char *kind, struct pb *raw)
{
  struct pb out = {0}, tm = {0};
  pb_raw(&out, "k8s\0", 4);
  pb_str(&tm, 1, api_version);
  pb_str(&tm, 2, kind);
  pb_msg(&out, 1, &tm);
  pb_msg(&out, 2, raw);
  pb_str(&out, 3, "");
  pb_str(&out, 4, "");
  return out;
}

/* Single quotes stand for double quotes to keep the expectations legible. */
static json_t *expect(const char *text)
{
  char *s = strdup(text);
  for (char *q = s; *q; q++)
    if (*q == '\'') *q = '"';
  json_error_t e;
  json_t *j = json_loads(s, 0, &e);
  if (!j) fail_msg("bad expectation: %s: %s", e.text, s);
  free(s);
  return j;
}

static void assert_decodes(struct pb *body, const char *want)
{
  char err[512] = "";
  int code = -1;
  json_t *got = protobuf_decode(builtin, body->b, body->len, &code, err, sizeof err);
  free(body->b);
  if (!got) fail_msg("decode failed (%d): %s", code, err);
  json_t *exp = expect(want);
  if (!json_equal(got, exp)) {
    char *g = kj_dumps_flags(got, JSON_SORT_KEYS), *w = kj_dumps_flags(exp, JSON_SORT_KEYS);
    print_error("got:  %s\nwant: %s\n", g, w);
    free(g);
    free(w);
    json_decref(got);
    json_decref(exp);
    fail();
  }
  json_decref(got);
  json_decref(exp);
}

static void assert_refused(struct pb *body, int want_code, const char *const *needles)
{
  char err[512] = "";
  int code = -1;
  json_t *got = protobuf_decode(builtin, body->b, body->len, &code, err, sizeof err);
  free(body->b);
  if (got) {
    char *g = kj_dumps_flags(got, 0);
    print_error("unexpectedly decoded: %s\n", g);
    free(g);
    json_decref(got);
    fail();
  }
  assert_int_equal(code, want_code);
  for (; *needles; needles++)
    if (!strstr(err, *needles)) fail_msg("error \"%s\" does not mention \"%s\"", err, *needles);
}

/* ---- kinds ---- */

static void test_configmap(void **state)
{
  struct pb raw = {0}, m = {0};
  pb_str(&m, 1, "cfg");
  pb_str(&m, 3, "ns1");
  pb_map_entry(&m, 11, "app", "web");
  pb_map_entry(&m, 11, "empty", "");
  pb_str(&m, 2, "");
  pb_msg(&raw, 1, &m);
  pb_map_entry(&raw, 2, "k", "v");
  pb_map_entry(&raw, 2, "blank", "");
  pb_map_entry(&raw, 3, "bin", "v");
  pb_int(&raw, 4, 1);
  struct pb body = envelope("v1", "ConfigMap", &raw);
  assert_decodes(&body, "{'apiVersion':'v1','kind':'ConfigMap',"
                        "'metadata':{'name':'cfg','namespace':'ns1','labels':{'app':'web','empty':''}},"
                        "'data':{'k':'v','blank':''},'binaryData':{'bin':'dg=='},'immutable':true}");
}

static void test_secret_bytes(void **state)
{
  struct pb raw = {0}, e = {0};
  static const unsigned char bin[] = {0x00, 0xff, 0x10, 'a'};
  pb_meta(&raw, 1, "s", "");
  pb_str(&e, 1, "bin");
  pb_bytes(&e, 2, bin, sizeof bin);
  pb_msg(&raw, 2, &e);
  pb_map_entry(&raw, 2, "user", "admin");
  pb_str(&raw, 3, "Opaque");
  pb_map_entry(&raw, 4, "plain", "text");
  struct pb body = envelope("v1", "Secret", &raw);
  assert_decodes(&body, "{'apiVersion':'v1','kind':'Secret','metadata':{'name':'s'},"
                        "'data':{'bin':'AP8QYQ==','user':'YWRtaW4='},'type':'Opaque',"
                        "'stringData':{'plain':'text'}}");
}

/* Container{name, image, ports, resources} as kubectl create deployment
 * writes it, with the plain fields Go always sends. */
static void pb_container(struct pb *p, unsigned num, const char *name, const char *image)
{
  struct pb c = {0}, port = {0}, res = {0};
  pb_str(&c, 1, name);
  pb_str(&c, 2, image);
  pb_str(&c, 3, "sleep");
  pb_str(&c, 3, "10");
  pb_str(&c, 5, "");
  pb_str(&port, 1, "");
  pb_int(&port, 2, 0);
  pb_int(&port, 3, 80);
  pb_str(&port, 4, "TCP");
  pb_msg(&c, 6, &port);
  pb_quantity_entry(&res, 1, "cpu", "500m");
  pb_quantity_entry(&res, 2, "memory", "64Mi");
  pb_msg(&c, 8, &res);
  pb_int(&c, 16, 0);
  pb_int(&c, 18, 0);
  pb_msg(p, num, &c);
}

static void test_deployment(void **state)
{
  struct pb raw = {0}, spec = {0}, sel = {0}, tmpl = {0}, tm = {0}, ps = {0}, strat = {0}, ru = {0}, status = {0};
  pb_meta(&raw, 1, "web", "default");
  pb_int(&spec, 1, 0); /* replicas: a pointer, so 0 is kept */
  pb_map_entry(&sel, 1, "app", "web");
  pb_msg(&spec, 2, &sel);
  pb_map_entry(&tm, 11, "app", "web");
  pb_time(&tm, 8, 0, 0);
  pb_msg(&tmpl, 1, &tm);
  pb_container(&ps, 2, "nginx", "nginx:1.27");
  pb_msg(&tmpl, 2, &ps);
  pb_msg(&spec, 3, &tmpl);
  pb_str(&strat, 1, "RollingUpdate");
  pb_intstr_int(&ru, 1, 1);
  pb_intstr_str(&ru, 2, "25%");
  pb_msg(&strat, 2, &ru);
  pb_msg(&spec, 4, &strat);
  pb_int(&spec, 5, 0); /* minReadySeconds: omitempty */
  pb_int(&spec, 7, 0); /* paused: omitempty */
  pb_msg(&raw, 2, &spec);
  pb_int(&status, 1, 0);
  pb_msg(&raw, 3, &status);
  struct pb body = envelope("apps/v1", "Deployment", &raw);
  assert_decodes(&body, "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','namespace':'default'},"
                        "'spec':{'replicas':0,'selector':{'matchLabels':{'app':'web'}},"
                        "'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':[{'name':'nginx',"
                        "'image':'nginx:1.27','command':['sleep','10'],'ports':[{'containerPort':80,'protocol':'TCP'}],"
                        "'resources':{'limits':{'cpu':'500m'},'requests':{'memory':'64Mi'}}}]}},"
                        "'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxUnavailable':1,'maxSurge':'25%'}}}}");
}

static void pb_job_spec(struct pb *p, unsigned num, int64_t backoff)
{
  struct pb spec = {0}, tmpl = {0}, ps = {0}, c = {0};
  pb_int(&spec, 1, 2);       /* parallelism */
  pb_int(&spec, 7, backoff); /* backoffLimit */
  pb_str(&c, 1, "job");
  pb_str(&c, 2, "busybox");
  pb_str(&c, 3, "echo");
  pb_str(&c, 3, "hi");
  pb_msg(&ps, 2, &c);
  pb_str(&ps, 3, "Never");
  pb_msg(&tmpl, 2, &ps);
  pb_msg(&spec, 6, &tmpl);
  pb_msg(p, num, &spec);
}

static void test_job_negative_int32(void **state)
{
  struct pb raw = {0};
  pb_meta(&raw, 1, "j", "");
  pb_job_spec(&raw, 2, -1);
  struct pb body = envelope("batch/v1", "Job", &raw);
  assert_decodes(&body, "{'apiVersion':'batch/v1','kind':'Job','metadata':{'name':'j'},"
                        "'spec':{'parallelism':2,'backoffLimit':-1,'template':{'spec':{"
                        "'containers':[{'name':'job','image':'busybox','command':['echo','hi']}],"
                        "'restartPolicy':'Never'}}}}");
}

static void test_cronjob(void **state)
{
  struct pb raw = {0}, spec = {0}, jt = {0}, jm = {0}, owner = {0};
  pb_meta(&raw, 1, "cj", "");
  pb_str(&spec, 1, "*/5 * * * *");
  pb_str(&spec, 3, "Forbid");
  pb_int(&spec, 4, 0); /* suspend: a pointer, so false is kept */
  pb_str(&owner, 1, "CronJob");
  pb_str(&owner, 3, "cj");
  pb_str(&owner, 4, "uid-1");
  pb_str(&owner, 5, "batch/v1");
  pb_int(&owner, 6, 1);
  pb_msg(&jm, 13, &owner);
  pb_map_entry(&jm, 12, "cronjob.kubernetes.io/instantiate", "manual");
  pb_msg(&jt, 1, &jm);
  pb_job_spec(&jt, 2, 6);
  pb_msg(&spec, 5, &jt);
  pb_msg(&raw, 2, &spec);
  struct pb body = envelope("batch/v1", "CronJob", &raw);
  assert_decodes(&body, "{'apiVersion':'batch/v1','kind':'CronJob','metadata':{'name':'cj'},"
                        "'spec':{'schedule':'*/5 * * * *','concurrencyPolicy':'Forbid','suspend':false,"
                        "'jobTemplate':{'metadata':{'ownerReferences':[{'kind':'CronJob','name':'cj','uid':'uid-1',"
                        "'apiVersion':'batch/v1','controller':true}],"
                        "'annotations':{'cronjob.kubernetes.io/instantiate':'manual'}},"
                        "'spec':{'parallelism':2,'backoffLimit':6,'template':{'spec':{"
                        "'containers':[{'name':'job','image':'busybox','command':['echo','hi']}],"
                        "'restartPolicy':'Never'}}}}}}");
}

static void test_service_intstr(void **state)
{
  struct pb raw = {0}, spec = {0}, p1 = {0}, p2 = {0};
  pb_meta(&raw, 1, "svc", "");
  pb_str(&p1, 1, "http");
  pb_str(&p1, 2, "TCP");
  pb_int(&p1, 3, 80);
  pb_intstr_int(&p1, 4, 8080);
  pb_int(&p1, 5, 0);
  pb_msg(&spec, 1, &p1);
  pb_str(&p2, 1, "");
  pb_int(&p2, 3, 0); /* port has no omitempty: 0 is kept */
  pb_intstr_str(&p2, 4, "web");
  pb_msg(&spec, 1, &p2);
  pb_map_entry(&spec, 2, "app", "web");
  pb_str(&spec, 3, "None");
  pb_str(&spec, 4, "ClusterIP");
  pb_msg(&raw, 2, &spec);
  struct pb body = envelope("v1", "Service", &raw);
  assert_decodes(&body, "{'apiVersion':'v1','kind':'Service','metadata':{'name':'svc'},"
                        "'spec':{'ports':[{'name':'http','protocol':'TCP','port':80,'targetPort':8080},"
                        "{'port':0,'targetPort':'web'}],'selector':{'app':'web'},"
                        "'clusterIP':'None','type':'ClusterIP'}}");
}

static void test_priorityclass_zero_value(void **state)
{
  struct pb raw = {0};
  pb_meta(&raw, 1, "pc", "");
  pb_int(&raw, 2, 0);
  pb_int(&raw, 3, 0);
  pb_str(&raw, 4, "");
  struct pb body = envelope("scheduling.k8s.io/v1", "PriorityClass", &raw);
  assert_decodes(&body, "{'apiVersion':'scheduling.k8s.io/v1','kind':'PriorityClass',"
                        "'metadata':{'name':'pc'},'value':0}");
}

static void test_times(void **state)
{
  struct pb raw = {0}, m = {0}, spec = {0};
  pb_str(&m, 1, "lease");
  pb_time(&m, 8, 1700000000, 123456789); /* Time keeps seconds only */
  pb_time(&m, 9, 0, 0);                  /* the zero time is null: dropped */
  pb_msg(&raw, 1, &m);
  pb_str(&spec, 1, "holder");
  pb_time(&spec, 3, 1700000000, 123456789); /* MicroTime keeps microseconds */
  pb_msg(&raw, 2, &spec);
  struct pb body = envelope("coordination.k8s.io/v1", "Lease", &raw);
  assert_decodes(&body, "{'apiVersion':'coordination.k8s.io/v1','kind':'Lease',"
                        "'metadata':{'name':'lease','creationTimestamp':'2023-11-14T22:13:20Z'},"
                        "'spec':{'holderIdentity':'holder','acquireTime':'2023-11-14T22:13:20.123456Z'}}");
}

/* Volume embeds VolumeSource (field 2) inline, and ConfigMapVolumeSource
 * embeds LocalObjectReference (field 1): numbers two levels deep.  A
 * pointer message sent empty (emptyDir) stays as {}; packed int64s. */
static void test_pod_inline_and_packed(void **state)
{
  struct pb raw = {0}, spec = {0}, v1 = {0}, vs1 = {0}, ed = {0}, v2 = {0}, vs2 = {0}, cm = {0}, lor = {0}, sc = {0},
            packed = {0};
  pb_meta(&raw, 1, "p", "");
  pb_str(&v1, 1, "scratch");
  pb_msg(&vs1, 2, &ed);
  pb_msg(&v1, 2, &vs1);
  pb_msg(&spec, 1, &v1);
  pb_str(&v2, 1, "cfg");
  pb_str(&lor, 1, "my-config");
  pb_msg(&cm, 1, &lor);
  pb_int(&cm, 3, 420);
  pb_msg(&vs2, 19, &cm);
  pb_msg(&v2, 2, &vs2);
  pb_msg(&spec, 1, &v2);
  pb_varint(&packed, 1000);
  pb_varint(&packed, 2000);
  pb_bytes(&sc, 4, packed.b, packed.len);
  free(packed.b);
  pb_msg(&spec, 14, &sc);
  pb_msg(&raw, 2, &spec);
  struct pb body = envelope("v1", "Pod", &raw);
  assert_decodes(&body, "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},"
                        "'spec':{'volumes':[{'name':'scratch','emptyDir':{}},"
                        "{'name':'cfg','configMap':{'name':'my-config','defaultMode':420}}],"
                        "'securityContext':{'supplementalGroups':[1000,2000]}}}");
}

static void test_raw_extension(void **state)
{
  struct pb raw = {0}, ext = {0};
  pb_meta(&raw, 1, "rev", "");
  pb_str(&ext, 1, "{\"spec\":{\"template\":{\"a\":[1,2]}}}");
  pb_msg(&raw, 2, &ext);
  pb_int(&raw, 3, 7);
  struct pb body = envelope("apps/v1", "ControllerRevision", &raw);
  assert_decodes(&body, "{'apiVersion':'apps/v1','kind':'ControllerRevision','metadata':{'name':'rev'},"
                        "'data':{'spec':{'template':{'a':[1,2]}}},'revision':7}");
}

/* ---- refusals ---- */

static void test_unknown_fields(void **state)
{
  /* top level: named by number and message */
  struct pb raw = {0};
  pb_meta(&raw, 1, "cfg", "");
  pb_int(&raw, 99, 5);
  struct pb body = envelope("v1", "ConfigMap", &raw);
  assert_refused(&body, 400, (const char *const[]){"field 99", "k8s.io.api.core.v1.ConfigMap", NULL});

  /* nested: the message named is the one that lacks the number */
  struct pb spec = {0}, c = {0};
  pb_meta(&raw, 1, "p", "");
  pb_str(&c, 1, "app");
  pb_str(&c, 77, "surprise");
  pb_msg(&spec, 2, &c);
  pb_msg(&raw, 2, &spec);
  body = envelope("v1", "Pod", &raw);
  assert_refused(&body, 400, (const char *const[]){"field 77", "k8s.io.api.core.v1.Container", NULL});

  /* a zero value under an unknown number loses nothing: accepted */
  pb_meta(&raw, 1, "cfg", "");
  pb_str(&raw, 98, "");
  pb_int(&raw, 99, 0);
  body = envelope("v1", "ConfigMap", &raw);
  assert_decodes(&body, "{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'cfg'}}");
}

static void test_malformed(void **state)
{
  struct pb raw = {0};
  /* a string field sent as a varint */
  pb_int(&raw, 1, 3);
  struct pb body = envelope("v1", "ConfigMap", &raw);
  assert_refused(&body, 400, (const char *const[]){"wire type", NULL});

  /* truncated */
  pb_meta(&raw, 1, "cfg", "");
  body = envelope("v1", "ConfigMap", &raw);
  body.len -= 3;
  assert_refused(&body, 400, (const char *const[]){"malformed", NULL});

  /* not the envelope at all */
  body = (struct pb){0};
  pb_raw(&body, "{\"kind\":1}", 10);
  assert_refused(&body, 400, (const char *const[]){"protobuf", "[107 56 115 0]", NULL});

  /* invalid UTF-8 in a string */
  pb_bytes(&raw, 1, "\xff\xfe", 2);
  struct pb meta = {0};
  pb_msg(&meta, 1, &raw);
  body = envelope("v1", "ConfigMap", &meta);
  assert_refused(&body, 400, (const char *const[]){"UTF-8", NULL});
}

static void test_unknown_kind(void **state)
{
  struct pb raw = {0};
  pb_meta(&raw, 1, "x", "");
  struct pb body = envelope("example.com/v1", "Widget", &raw);
  assert_refused(&body, 415, (const char *const[]){"example.com/v1 Widget", NULL});
}

/* The entry point without a schema argument decodes the same way. */
static void test_legacy_entry_point(void **state)
{
  struct pb raw = {0};
  pb_meta(&raw, 1, "cfg", "");
  pb_map_entry(&raw, 2, "k", "v");
  struct pb body = envelope("v1", "ConfigMap", &raw);
  char err[256] = "";
  json_t *o = api_protobuf_decode((const char *)body.b, body.len, err, sizeof err);
  free(body.b);
  assert_non_null(o);
  json_t *exp = expect("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'cfg'},'data':{'k':'v'}}");
  assert_true(json_equal(o, exp));
  json_decref(o);
  json_decref(exp);
}

/* ---- the schema attributes ---- */

static void test_schema_proto_attributes(void **state)
{
  static const struct {
    const char *field_line, *err; /* err NULL: accepted */
  } cases[] = {
      {"  a string proto=1", NULL},
      {"  a string proto=2.5 ptr", NULL},
      {"  a int32 proto=3 noomit", NULL},
      {"  a string proto=0", "bad protobuf field number"},
      {"  a string proto=x", "bad protobuf field number"},
      {"  a string proto=1.", "bad protobuf field number"},
      {"  a string proto=-1", "bad protobuf field number"},
      {"  a string proto=536870912", "bad protobuf field number"},
      {"  a string proto=1.2.3.4.5", "bad protobuf field number"},
      {"  a string proto=7\n  b string proto=7", "clashes"},
      {"  a string proto=7\n  b string proto=7.1", "clashes"},
      {"  a string proto=7.1\n  b string proto=7.2", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char text[256], err[256] = "";
    snprintf(text, sizeof text, "package x.y\ntype T\n%s\n", cases[i].field_line);
    struct schema *s = schema_load_text(text, err, sizeof err);
    if (cases[i].err) {
      if (s || !strstr(err, cases[i].err))
        fail_msg("case %zu (%s): want error \"%s\", got \"%s\"", i, cases[i].field_line, cases[i].err, err);
    } else if (!s) {
      fail_msg("case %zu (%s): %s", i, cases[i].field_line, err);
    }
    schema_free(s);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_configmap),
      cmocka_unit_test(test_secret_bytes),
      cmocka_unit_test(test_deployment),
      cmocka_unit_test(test_job_negative_int32),
      cmocka_unit_test(test_cronjob),
      cmocka_unit_test(test_service_intstr),
      cmocka_unit_test(test_priorityclass_zero_value),
      cmocka_unit_test(test_times),
      cmocka_unit_test(test_pod_inline_and_packed),
      cmocka_unit_test(test_raw_extension),
      cmocka_unit_test(test_unknown_fields),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_unknown_kind),
      cmocka_unit_test(test_legacy_entry_point),
      cmocka_unit_test(test_schema_proto_attributes),
  };
  return cmocka_run_group_tests(tests, load_builtin, free_builtin);
}
