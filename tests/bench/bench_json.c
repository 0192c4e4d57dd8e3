/*
 * bench_json.c - what the fast JSON path (common/src/json.c) gains over
 * jansson alone, on the shapes the programs handle: a list of N pods as the
 * API server returns it (with managedFields), parsed whole, parsed without
 * managedFields (what informers do), and serialized.  Prints MB/s and the
 * ratio for each (CPU time of this process, so that other load on the
 * machine does not skew it); decides nothing.
 *   bench_json [PODS] [ROUNDS]   (defaults 2000 pods, 20 rounds)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "kube/json.h"

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: steady on a busy machine */
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char POD[] =
    "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web-%d\",\"namespace\":\"default\","
    "\"uid\":\"3f1c2a9e-8b7d-4c6e-9a5f-%012d\",\"resourceVersion\":\"%d\",\"creationTimestamp\":\"2026-12-07T10:00:"
    "00Z\","
    "\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"7c9f8d6b5\"},\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
    "\"kind\":\"ReplicaSet\",\"name\":\"web-7c9f8d6b5\",\"uid\":\"a1b2c3d4-0000-4000-8000-000000000001\","
    "\"controller\":true,"
    "\"blockOwnerDeletion\":true}],\"managedFields\":[{\"manager\":\"kube-controller-manager\",\"operation\":"
    "\"Update\","
    "\"apiVersion\":\"v1\",\"time\":\"2026-12-07T10:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":"
    "{\"f:labels\":{\".\":{},\"f:app\":{},\"f:pod-template-hash\":{}},\"f:ownerReferences\":{\".\":{},"
    "\"k:{\\\"uid\\\":\\\"a1b2c3d4-0000-4000-8000-000000000001\\\"}\":{}}},\"f:spec\":{\"f:containers\":"
    "{\"k:{\\\"name\\\":\\\"nginx\\\"}\":{\".\":{},\"f:image\":{},\"f:name\":{},\"f:resources\":{\"f:requests\":"
    "{\".\":{},\"f:cpu\":{},\"f:memory\":{}}}}}}}}]},\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1."
    "27\","
    "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}],\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":"
    "\"128Mi\"}},"
    "\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\",\"imagePullPolicy\":"
    "\"IfNotPresent\"}],\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":"
    "\"ClusterFirst\","
    "\"serviceAccountName\":\"default\",\"nodeName\":\"node-%d\",\"schedulerName\":\"default-scheduler\","
    "\"tolerations\":"
    "[{\"key\":\"node.kubernetes.io/"
    "not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}],"
    "\"priority\":0,\"enableServiceLinks\":true},\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\","
    "\"status\":\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":\"2026-12-07T10:00:05Z\"}],\"hostIP\":\"192.0.2."
    "%d\","
    "\"podIP\":\"10.244.%d.%d\",\"startTime\":\"2026-12-07T10:00:01Z\",\"qosClass\":\"Burstable\"}}";

static char *make_list(int n, size_t *len)
{
  size_t cap = (size_t)n * 4096 + 256, used = 0;
  char *buf = malloc(cap);
  used += (size_t)snprintf(
      buf, cap, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"%d\"},\"items\":[", n);
  for (int i = 0; i < n; i++) {
    if (i) buf[used++] = ',';
    used += (size_t)snprintf(buf + used, cap - used, POD, i, i, 1000 + i, i % 100, i % 250, i % 250, i % 200);
  }
  used += (size_t)snprintf(buf + used, cap - used, "]}");
  *len = used;
  return buf;
}

int main(int argc, char **argv)
{
  int pods = argc > 1 ? atoi(argv[1]) : 2000, rounds = argc > 2 ? atoi(argv[2]) : 20;
  size_t len;
  char *doc = make_list(pods, &len);
  double mb = (double)len * rounds / 1e6;
  printf("bench_json: a PodList of %d pods (%.1f KiB), %d rounds, one thread\n", pods, (double)len / 1024, rounds);

  double t = now_s();
  for (int r = 0; r < rounds; r++) json_decref(json_loadb(doc, len, 0, NULL));
  double jansson_parse = now_s() - t;
  t = now_s();
  for (int r = 0; r < rounds; r++) json_decref(kj_loadb(doc, len, false, NULL, 0));
  double fast_parse = now_s() - t;
  t = now_s();
  for (int r = 0; r < rounds; r++) json_decref(kj_loadb_without_managed_fields(doc, len, NULL, 0));
  double fast_nomf = now_s() - t;

  json_t *v = json_loadb(doc, len, 0, NULL);
  t = now_s();
  for (int r = 0; r < rounds; r++) free(kj_dumps_flags(v, JSON_COMPACT | JSON_PRESERVE_ORDER));
  double jansson_dump = now_s() - t;
  t = now_s();
  for (int r = 0; r < rounds; r++) free(kj_dumps(v));
  double fast_dump = now_s() - t;
  json_decref(v);

  printf("%-44s %9s %9s\n", "", "MB/s", "vs jansson");
  printf("%-44s %9.1f %9s\n", "parse: jansson json_loadb", mb / jansson_parse, "1.00x");
  printf("%-44s %9.1f %8.2fx\n", "parse: kj_loadb (fast path)", mb / fast_parse, jansson_parse / fast_parse);
  printf("%-44s %9.1f %8.2fx\n", "parse: kj_loadb_without_managed_fields", mb / fast_nomf, jansson_parse / fast_nomf);
  printf("%-44s %9.1f %9s\n", "serialize: jansson json_dumpb (compact)", mb / jansson_dump, "1.00x");
  printf("%-44s %9.1f %8.2fx\n", "serialize: kj_dumps", mb / fast_dump, jansson_dump / fast_dump);
  free(doc);
  return 0;
}
