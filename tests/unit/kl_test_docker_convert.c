/*
 * kl_test_docker_convert.c - CRI messages to and from the Engine API:
 * names, labels (node scoping, annotations), the create bodies of
 * sandboxes and containers (namespaces, host network through a node
 * container, resources, security, mounts), list items and inspect answers
 * to statuses (StartError, OOMKilled, Completed, Error), times, image
 * references and the stdout/stderr framing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/json.h"
#include "runtime/docker_internal.h"

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad JSON in test: %s: %s", e.text, s);
  return v;
}

static const char sandbox_cfg[] =
    "{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns1\",\"uid\":\"u-1\",\"attempt\":2},\"hostname\":\"web\","
    "\"labels\":{\"app\":\"web\",\"io.kubernetes.pod.uid\":\"u-1\"},\"annotations\":{\"a\":\"b\"},"
    "\"dnsConfig\":{\"servers\":[\"10.96.0.10\"],\"searches\":[\"ns1.svc.cluster.local\"],\"options\":[\"ndots:5\"]},"
    "\"linux\":{\"cgroupParent\":\"/kubepods/burstable/podu-1\",\"securityContext\":{\"namespaceOptions\":"
    "{\"network\":\"POD\",\"pid\":\"POD\",\"ipc\":\"POD\"}},\"sysctls\":{\"net.core.somaxconn\":\"1024\"}}}";

static void test_names(void **state)
{
  json_t *sb = J(sandbox_cfg), *c = J("{\"metadata\":{\"name\":\"app\",\"attempt\":3}}"), *md = NULL;
  char *n = dk_sandbox_name(sb);
  assert_string_equal(n, "k8s_POD_web_ns1_u-1_2");
  assert_int_equal(dk_parse_name(n, true, &md), 0);
  assert_string_equal(kj_get_str(md, "uid"), "u-1");
  assert_int_equal(kj_get_int(md, "attempt", -1), 2);
  json_decref(md);
  free(n);
  n = dk_container_name(c, sb);
  assert_string_equal(n, "k8s_app_web_ns1_u-1_3");
  free(n);
  assert_int_equal(dk_parse_name("/k8s_app_web_ns1_u-1_3_a1b2c3d4", false, &md), 0); /* retried name */
  assert_string_equal(kj_get_str(md, "name"), "app");
  json_decref(md);
  assert_true(dk_parse_name("/not_ours", false, &md) < 0);
  assert_true(dk_parse_name("/k8s_app_web_ns1_u-1_3", true, &md) < 0); /* not a sandbox */
  json_decref(sb);
  json_decref(c);
}

static void test_labels(void **state)
{
  json_t *l = J("{\"app\":\"x\"}"), *a = J("{\"note\":\"y\"}");
  json_t *dl = dk_make_labels(l, a, DK_TYPE_CONTAINER, "node-7", "sb1");
  assert_string_equal(kj_get_str(dl, "app"), "x");
  assert_string_equal(json_string_value(json_object_get(dl, "annotation.note")), "y");
  assert_string_equal(json_string_value(json_object_get(dl, DK_LABEL_NODE)), "node-7");
  assert_string_equal(json_string_value(json_object_get(dl, DK_LABEL_SANDBOX_ID)), "sb1");
  json_t *l2, *a2;
  dk_split_labels(dl, &l2, &a2);
  assert_true(json_equal(l2, l));
  assert_true(json_equal(a2, a));
  json_decref(l2);
  json_decref(a2);
  json_decref(dl);
  json_decref(l);
  json_decref(a);
}

static void test_sandbox_body(void **state)
{
  json_t *sb = J(sandbox_cfg);
  json_t *b = dk_sandbox_create_body(sb, "pause:3.10", "node-7", "host", 0);
  assert_string_equal(kj_get_str(b, "Image"), "pause:3.10");
  assert_string_equal(kj_get_str(b, "Hostname"), "web");
  assert_string_equal(kj_get_str(b, "HostConfig.NetworkMode"), "none");
  assert_string_equal(kj_get_str(b, "HostConfig.IpcMode"), "shareable");
  assert_string_equal(kj_get_str(b, "HostConfig.CgroupParent"), "/kubepods/burstable/podu-1");
  assert_int_equal(kj_get_int(b, "HostConfig.OomScoreAdj", 1), 0); /* -998 clamped to the allowed minimum */
  assert_string_equal(json_string_value(json_object_get(kj_get(b, "HostConfig.Sysctls"), "net.core.somaxconn")),
                      "1024");
  assert_string_equal(json_string_value(json_object_get(kj_get(b, "Labels"), DK_LABEL_TYPE)), DK_TYPE_SANDBOX);
  json_decref(b);
  /* host network through the node's container */
  json_object_set_new(kj_obj(sb, "linux.securityContext.namespaceOptions"), "network", json_string("NODE"));
  b = dk_sandbox_create_body(sb, "pause:3.10", "node-7", "container:node-7-ctr", -1000);
  assert_string_equal(kj_get_str(b, "HostConfig.NetworkMode"), "container:node-7-ctr");
  assert_null(kj_get(b, "HostConfig.UTSMode"));
  assert_null(kj_get(b, "Hostname"));
  assert_int_equal(kj_get_int(b, "HostConfig.OomScoreAdj", 1), -998);
  json_decref(b);
  b = dk_sandbox_create_body(sb, "pause:3.10", "node-7", "host", -1000);
  assert_string_equal(kj_get_str(b, "HostConfig.NetworkMode"), "host");
  assert_string_equal(kj_get_str(b, "HostConfig.UTSMode"), "host");
  json_decref(b);
  json_decref(sb);
}

static void test_container_body(void **state)
{
  json_t *sb = J(sandbox_cfg);
  json_t *c = J("{\"metadata\":{\"name\":\"app\",\"attempt\":1},\"image\":{\"image\":\"busybox:1\"},"
                "\"command\":[\"sh\"],\"args\":[\"-c\",\"x\"],\"workingDir\":\"/w\","
                "\"envs\":[{\"key\":\"A\",\"value\":\"1\"}],"
                "\"mounts\":[{\"containerPath\":\"/c\",\"hostPath\":\"/"
                "h\",\"readonly\":true,\"propagation\":\"PROPAGATION_HOST_TO_CONTAINER\"}],"
                "\"labels\":{\"io.kubernetes.container.name\":\"app\"},\"annotations\":{},\"tty\":true,"
                "\"linux\":{\"resources\":{\"cpuShares\":256,\"cpuQuota\":50000,\"cpuPeriod\":100000,"
                "\"memoryLimitInBytes\":67108864,\"oomScoreAdj\":500},"
                "\"securityContext\":{\"namespaceOptions\":{\"pid\":\"POD\"},\"runAsUser\":{\"value\":1000},"
                "\"runAsGroup\":{\"value\":2000},\"readonlyRootfs\":true,\"noNewPrivs\":true,"
                "\"supplementalGroups\":[3000],\"capabilities\":{\"addCapabilities\":[\"NET_ADMIN\"],"
                "\"dropCapabilities\":[\"ALL\"]}}}}");
  json_t *b = dk_container_create_body(c, sb, "sbid", "node-7", "host");
  assert_string_equal(kj_get_str(b, "HostConfig.NetworkMode"), "container:sbid");
  assert_string_equal(kj_get_str(b, "HostConfig.IpcMode"), "container:sbid");
  assert_string_equal(kj_get_str(b, "HostConfig.PidMode"), "container:sbid");
  assert_string_equal(kj_get_str(b, "Entrypoint[0]"), "sh");
  assert_string_equal(kj_get_str(b, "Cmd[1]"), "x");
  assert_string_equal(kj_get_str(b, "Env[0]"), "A=1");
  assert_string_equal(kj_get_str(b, "WorkingDir"), "/w");
  assert_string_equal(kj_get_str(b, "User"), "1000:2000");
  assert_string_equal(kj_get_str(b, "HostConfig.Mounts[0].BindOptions.Propagation"), "rslave");
  assert_true(kj_get_bool(b, "HostConfig.Mounts[0].ReadOnly", false));
  assert_int_equal(kj_get_int(b, "HostConfig.Memory", 0), 67108864);
  assert_int_equal(kj_get_int(b, "HostConfig.MemorySwap", 0), 67108864);
  assert_int_equal(kj_get_int(b, "HostConfig.CpuQuota", 0), 50000);
  assert_int_equal(kj_get_int(b, "HostConfig.CpuShares", 0), 256);
  assert_int_equal(kj_get_int(b, "HostConfig.OomScoreAdj", 0), 500);
  assert_string_equal(kj_get_str(b, "HostConfig.CapDrop[0]"), "ALL");
  assert_string_equal(kj_get_str(b, "HostConfig.SecurityOpt[0]"), "no-new-privileges");
  assert_string_equal(kj_get_str(b, "HostConfig.SecurityOpt[1]"), "seccomp=unconfined");
  assert_string_equal(kj_get_str(b, "HostConfig.GroupAdd[0]"), "3000");
  assert_true(kj_get_bool(b, "HostConfig.ReadonlyRootfs", false));
  assert_true(kj_get_bool(b, "Tty", false));
  assert_string_equal(kj_get_str(b, "HostConfig.CgroupParent"), "/kubepods/burstable/podu-1");
  json_decref(b);
  json_decref(c);
  json_decref(sb);
}

static void test_statuses(void **state)
{
  const char *base =
      "{\"Id\":\"abc\",\"Name\":\"/k8s_app_web_ns1_u-1_2\",\"Created\":\"2024-05-01T10:00:00.123456789Z\","
      "\"Image\":\"sha256:ff\",\"Config\":{\"Image\":\"busybox:1\",\"Labels\":{\"io.kubernetes.container.name\":"
      "\"app\","
      "\"annotation.x\":\"y\"}},\"LogPath\":\"/l\",\"Mounts\":[{\"Source\":\"/h\",\"Destination\":\"/"
      "c\",\"RW\":false}],"
      "\"State\":%s}";
  struct {
    const char *state, *want_state, *reason;
    int64_t code;
  } t[] = {
      {"{\"Status\":\"running\",\"Running\":true,\"Pid\":7,\"StartedAt\":\"2024-05-01T10:00:01Z\",\"FinishedAt\":"
       "\"0001-01-01T00:00:00Z\"}",
       KL_CONTAINER_RUNNING, "", 0},
      {"{\"Status\":\"exited\",\"ExitCode\":0,\"StartedAt\":\"2024-05-01T10:00:01Z\",\"FinishedAt\":\"2024-05-01T10:00:"
       "02Z\"}",
       KL_CONTAINER_EXITED, "Completed", 0},
      {"{\"Status\":\"exited\",\"ExitCode\":2,\"StartedAt\":\"2024-05-01T10:00:01Z\",\"FinishedAt\":\"2024-05-01T10:00:"
       "02Z\"}",
       KL_CONTAINER_EXITED, "Error", 2},
      {"{\"Status\":\"exited\",\"ExitCode\":137,\"OOMKilled\":true,\"FinishedAt\":\"2024-05-01T10:00:02Z\"}",
       KL_CONTAINER_EXITED, "OOMKilled", 137},
      {"{\"Status\":\"created\",\"ExitCode\":127,\"Error\":\"exec: \\\"x\\\": executable file not found\"}",
       KL_CONTAINER_EXITED, "StartError", 128},
      {"{\"Status\":\"created\"}", KL_CONTAINER_CREATED, "", 0},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    char buf[2048];
    snprintf(buf, sizeof buf, base, t[i].state);
    json_t *in = J(buf), *st = dk_to_container_status(in);
    assert_non_null(st);
    assert_string_equal(kj_get_str(st, "status.state"), t[i].want_state);
    assert_string_equal(kj_get_str(st, "status.reason"), t[i].reason);
    assert_int_equal(kj_get_int(st, "status.exitCode", -1), t[i].code);
    assert_int_equal(kj_get_int(st, "status.createdAt", 0), 1714557600123456789LL);
    assert_string_equal(kj_get_str(st, "status.metadata.name"), "app");
    assert_int_equal(kj_get_int(st, "status.metadata.attempt", -1), 2);
    assert_string_equal(json_string_value(json_object_get(kj_get(st, "status.annotations"), "x")), "y");
    assert_true(kj_get_bool(st, "status.mounts[0].readonly", false));
    json_decref(st);
    json_decref(in);
  }
  json_t *item = J("{\"Id\":\"s1\",\"Names\":[\"/k8s_POD_web_ns1_u-1_0\"],\"State\":\"running\",\"Created\":1714557600,"
                   "\"Labels\":{\"io.kubernetes.pod.uid\":\"u-1\"}}");
  json_t *sb = dk_to_sandbox(item);
  assert_string_equal(kj_get_str(sb, "state"), KL_SANDBOX_READY);
  assert_int_equal(kj_get_int(sb, "createdAt", 0), 1714557600000000000LL);
  json_decref(sb);
  json_decref(item);
  json_t *in =
      J("{\"Id\":\"s1\",\"Name\":\"/k8s_POD_web_ns1_u-1_0\",\"State\":{\"Running\":true,\"Pid\":42},"
        "\"HostConfig\":{\"NetworkMode\":\"container:0123\",\"IpcMode\":\"shareable\"},\"ResolvConfPath\":\"/r\"}");
  json_t *st = dk_to_sandbox_status(in);
  assert_string_equal(kj_get_str(st, "status.linux.namespaces.options.network"), "NODE");
  assert_int_equal(kj_get_int(st, "info.pid", 0), 42);
  json_decref(st);
  json_decref(in);
}

static void test_misc(void **state)
{
  char repo[256], tag[128];
  struct {
    const char *in, *repo, *tag;
  } t[] = {
      {"busybox", "busybox", "latest"},
      {"busybox:1.36", "busybox", "1.36"},
      {"localhost:5000/a/b", "localhost:5000/a/b", "latest"},
      {"localhost:5000/a/b:v1", "localhost:5000/a/b", "v1"},
      {"x@sha256:abcd", "x", "sha256:abcd"},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    dk_split_image_ref(t[i].in, repo, sizeof repo, tag, sizeof tag);
    assert_string_equal(repo, t[i].repo);
    assert_string_equal(tag, t[i].tag);
  }
  json_t *dns = J("{\"servers\":[\"10.96.0.10\"],\"searches\":[\"a\",\"b\"],\"options\":[\"ndots:5\"]}");
  char *rc = dk_resolv_conf(dns);
  assert_string_equal(rc, "search a b\nnameserver 10.96.0.10\noptions ndots:5\n");
  free(rc);
  json_decref(dns);
  assert_int_equal(dk_time_ns("0001-01-01T00:00:00Z"), 0);
}

struct captured {
  char out[64], err[64];
};

static int capture(void *arg, int stream, const char *data, size_t len)
{
  struct captured *c = arg;
  strncat(stream == 2 ? c->err : c->out, data, len);
  return 0;
}

static void test_demux(void **state)
{
  const char frames[] = "\x01\0\0\0\0\0\0\x03out\x02\0\0\0\0\0\0\x03"
                        "err\x01\0\0\0\0\0\0\x05pa";
  struct captured c = {"", ""};
  bool stop = false;
  size_t used = dk_demux(frames, sizeof frames - 1, capture, &c, &stop);
  assert_int_equal(used, 22); /* the last frame is incomplete */
  assert_string_equal(c.out, "out");
  assert_string_equal(c.err, "err");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),          cmocka_unit_test(test_labels),   cmocka_unit_test(test_sandbox_body),
      cmocka_unit_test(test_container_body), cmocka_unit_test(test_statuses), cmocka_unit_test(test_misc),
      cmocka_unit_test(test_demux),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
