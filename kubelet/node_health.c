/*
 * node_health.c - the inputs of the Node's conditions (see node_health.h).
 */
#include "node_health.h"

#include <stdio.h>
#include <string.h>

#include "kube/timeutil.h"
#include "kubelet.h"

bool kl_health_ready(struct kubelet *k, char *msg, size_t len)
{
  char errs[3][320];
  int n = 0;
  if (!k->runtime_version[0] && !k->runtime_error[0]) {
    snprintf(msg, len, "container runtime status check may not have completed yet");
    return false;
  }
  if (k->runtime_error[0]) snprintf(errs[n++], sizeof errs[0], "container runtime is down: %s", k->runtime_error);
  int64_t now = ktime_mono_ms();
  if (k->relist_ok_ms && now - k->relist_ok_ms > KL_RELIST_THRESHOLD_MS)
    snprintf(errs[n++], sizeof errs[0], "PLEG is not healthy: pleg was last seen active %llds ago; threshold is 3m0s",
             (long long)((now - k->relist_ok_ms) / 1000));
  if (k->network_error[0])
    snprintf(errs[n++], sizeof errs[0],
             "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:%s",
             k->network_error);
  if (!n) return true;
  msg[0] = 0;
  for (int i = 0; i < n; i++) snprintf(msg + strlen(msg), len - strlen(msg), "%s%s", i ? "," : "", errs[i]);
  return false;
}

bool kl_health_pressure(struct kubelet *k, const char *cond)
{
  if (!strcmp(cond, "MemoryPressure")) return k->pressure_memory;
  if (!strcmp(cond, "DiskPressure")) return k->pressure_disk;
  if (!strcmp(cond, "PIDPressure")) return k->pressure_pid;
  return false;
}

void kl_health_runtime_version(struct kubelet *k, char *out, size_t len)
{
  snprintf(out, len, "%s", k->runtime_version[0] ? k->runtime_version : "docker://unknown");
}

json_t *kl_health_node_images(struct kubelet *k, int max)
{
  if (!json_is_array(k->node_images)) return NULL;
  json_t *out = json_array();
  for (size_t i = 0; i < json_array_size(k->node_images) && (int)i < max; i++)
    json_array_append(out, json_array_get(k->node_images, i));
  return out;
}
