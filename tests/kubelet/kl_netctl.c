/*
 * kl_netctl - drives the kl_net interface (kubelet/network/network.h) from
 * shell tests, one call per run, in the namespace it is started in:
 *
 *   kl_netctl [--root DIR] [--bridge NAME] [--cluster-cidr CIDR] [--no-hairpin] COMMAND ...
 *     node POD_CIDR             kl_net_set_pod_cidr
 *     setup POD_CIDR UID NETNS  kl_net_set_pod_cidr, then kl_net_setup_pod; prints the IP
 *     teardown UID              kl_net_teardown_pod
 *     ip UID                    kl_net_pod_ip; prints the IP
 *     gc UID...                 kl_net_gc keeping the UIDs listed; prints the count
 *     routes [CIDR=VIA]...      kl_net_sync_routes
 *     down                      kl_net_teardown_node
 * Exit status 0 on success; the error message on stderr otherwise.
 */
#include "network.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct keep {
  char **uids;
  int count;
};

static bool alive(const char *uid, void *arg)
{
  struct keep *k = arg;
  for (int i = 0; i < k->count; i++)
    if (strcmp(k->uids[i], uid) == 0) return true;
  return false;
}

static int routes(struct kl_net *n, int argc, char **argv, char *err, size_t errlen)
{
  struct kl_net_route r[64];
  if (argc > 64) return -E2BIG;
  for (int i = 0; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    if (!eq) return -EINVAL;
    *eq = '\0';
    r[i].cidr = argv[i];
    r[i].via = eq + 1;
  }
  return kl_net_sync_routes(n, r, (size_t)argc, err, errlen);
}

static int run(struct kl_net *n, const char *cmd, int argc, char **argv, char *err, size_t errlen)
{
  char ip[64];
  int rc = -EINVAL;
  if (strcmp(cmd, "node") == 0 && argc == 1) {
    rc = kl_net_set_pod_cidr(n, argv[0], err, errlen);
  } else if (strcmp(cmd, "setup") == 0 && argc == 3) {
    rc = kl_net_set_pod_cidr(n, argv[0], err, errlen);
    if (rc == 0) rc = kl_net_setup_pod(n, argv[1], argv[2], ip, sizeof ip, err, errlen);
    if (rc == 0) printf("%s\n", ip);
  } else if (strcmp(cmd, "teardown") == 0 && argc == 1) {
    rc = kl_net_teardown_pod(n, argv[0], err, errlen);
  } else if (strcmp(cmd, "ip") == 0 && argc == 1) {
    rc = kl_net_pod_ip(n, argv[0], ip, sizeof ip);
    if (rc == 0) printf("%s\n", ip);
  } else if (strcmp(cmd, "gc") == 0) {
    struct keep k = {argv, argc};
    rc = kl_net_gc(n, alive, &k);
    if (rc >= 0) printf("%d\n", rc);
    rc = rc < 0 ? rc : 0;
  } else if (strcmp(cmd, "routes") == 0) {
    rc = routes(n, argc, argv, err, errlen);
  } else if (strcmp(cmd, "down") == 0 && argc == 0) {
    rc = kl_net_teardown_node(n, err, errlen);
  } else {
    snprintf(err, errlen, "unknown command or wrong arguments: %s", cmd);
  }
  return rc;
}

int main(int argc, char **argv)
{
  struct kl_net_config cfg = {.root_dir = "/var/lib/kubelet", .hairpin = true};
  int i = 1;
  for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    if (strcmp(argv[i], "--root") == 0) cfg.root_dir = argv[++i];
    else if (strcmp(argv[i], "--bridge") == 0) cfg.bridge_name = argv[++i];
    else if (strcmp(argv[i], "--cluster-cidr") == 0) cfg.cluster_cidr = argv[++i];
    else if (strcmp(argv[i], "--no-hairpin") == 0) cfg.hairpin = false;
    else {
      fprintf(stderr, "unknown flag: %s\n", argv[i]);
      return 2;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "usage: kl_netctl [flags] COMMAND ...\n");
    return 2;
  }
  char err[512] = "";
  struct kl_net *n = kl_net_new(&cfg, err, sizeof err);
  if (!n) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  int rc = run(n, argv[i], argc - i - 1, argv + i + 1, err, sizeof err);
  kl_net_free(n);
  if (rc < 0) fprintf(stderr, "error: %s (%s)\n", err[0] ? err : "failed", strerror(-rc));
  return rc < 0 ? 1 : 0;
}
