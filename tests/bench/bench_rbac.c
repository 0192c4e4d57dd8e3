/*
 * bench_rbac.c - time per RBAC authorization (apiserver/auth/rbac.c) with
 * many objects indexed: the bootstrap policy plus N namespaces each with
 * a Role and a RoleBinding (default N = 1000, so 1,000 Roles and 1,000
 * RoleBindings), each binding naming a user and a group.  Prints ns per
 * rbac_authorize call for an allowed request (a user's own RoleBinding),
 * a denied one (same user, a verb no rule grants: every applicable rule is
 * tried), a request allowed by a ClusterRoleBinding to a group, and a
 * denied request of a service account.  Prints figures; decides nothing.
 *
 *   bench_rbac [N] [iterations]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kube/json.h>

#include "auth/auth.h"
#include "auth/rbac_internal.h"

static double now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void load(struct rbac *r, int n)
{
  json_t *roles = rbac_bootstrap_cluster_roles(), *bindings = rbac_bootstrap_cluster_role_bindings();
  size_t i;
  json_t *o;
  json_array_foreach (roles, i, o) rbac_index_put(r, "ClusterRole", o);
  json_array_foreach (bindings, i, o) rbac_index_put(r, "ClusterRoleBinding", o);
  json_decref(roles);
  json_decref(bindings);
  for (int k = 0; k < n; k++) {
    char ns[32], user[32], group[32];
    snprintf(ns, sizeof ns, "ns-%d", k);
    snprintf(user, sizeof user, "user-%d", k);
    snprintf(group, sizeof group, "team-%d", k % 50);
    json_t *role = json_pack(
        "{s:{s:s,s:s},s:[{s:[s,s,s],s:[s],s:[s,s,s]},{s:[s],s:[s],s:[s],s:[s]},{s:[s,s],s:[s],s:[s,s]}]}", "metadata",
        "name", "app", "namespace", ns, "rules", "verbs", "get", "list", "watch", "apiGroups", "", "resources", "pods",
        "services", "configmaps", "verbs", "get", "apiGroups", "", "resources", "secrets", "resourceNames", "app-tls",
        "verbs", "create", "update", "apiGroups", "apps", "resources", "deployments", "deployments/scale");
    json_t *rb = json_pack("{s:{s:s,s:s},s:{s:s,s:s},s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}", "metadata", "name", "app",
                           "namespace", ns, "roleRef", "kind", "Role", "name", "app", "subjects", "kind", "User",
                           "name", user, "kind", "Group", "name", group, "kind", "ServiceAccount", "name", "deployer");
    rbac_index_put(r, "Role", role);
    rbac_index_put(r, "RoleBinding", rb);
    json_decref(role);
    json_decref(rb);
  }
}

static double per_call(struct rbac *r, const struct authz_attrs *a, long iters, enum authz_decision want)
{
  char reason[512];
  if (rbac_authorize(r, a, reason, sizeof reason) != want) {
    fprintf(stderr, "unexpected decision for %s %s (%s)\n", a->verb, a->resource ? a->resource : a->path, reason);
    exit(1);
  }
  double t0 = now_ns();
  for (long i = 0; i < iters; i++) rbac_authorize(r, a, reason, sizeof reason);
  return (now_ns() - t0) / (double)iters;
}

int main(int argc, char **argv)
{
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  long iters = argc > 2 ? atol(argv[2]) : 200000;
  struct rbac *r = rbac_new_empty();
  double t0 = now_ns();
  load(r, n);
  double load_ms = (now_ns() - t0) / 1e6;

  struct auth_user *u = auth_user_new("user-500");
  auth_user_add_group(u, "team-0");
  auth_user_add_group(u, "system:authenticated");
  struct authz_attrs allow = {.user = u,
                              .verb = "get",
                              .resource_request = true,
                              .api_group = "",
                              .api_version = "v1",
                              .resource = "pods",
                              .subresource = "",
                              .ns = "ns-500",
                              .name = "web-1"};
  struct authz_attrs deny = allow;
  deny.verb = "delete";
  struct auth_user *m = auth_user_new("admin");
  auth_user_add_group(m, "system:masters");
  auth_user_add_group(m, "system:authenticated");
  struct authz_attrs cluster = {.user = m,
                                .verb = "list",
                                .resource_request = true,
                                .api_group = "apps",
                                .api_version = "v1",
                                .resource = "deployments",
                                .subresource = "",
                                .ns = "",
                                .name = ""};
  struct auth_user *sa = auth_user_new("system:serviceaccount:ns-7:deployer");
  auth_user_add_group(sa, "system:serviceaccounts");
  auth_user_add_group(sa, "system:serviceaccounts:ns-7");
  auth_user_add_group(sa, "system:authenticated");
  struct authz_attrs sa_deny = {.user = sa,
                                .verb = "delete",
                                .resource_request = true,
                                .api_group = "apps",
                                .api_version = "v1",
                                .resource = "deployments",
                                .subresource = "",
                                .ns = "ns-7",
                                .name = "web"};

  printf("rbac_authorize: %zu ClusterRoles, %zu ClusterRoleBindings (bootstrap policy), %zu Roles, %zu RoleBindings; "
         "indexed in %.1f ms; %ld calls each\n",
         rbac_index_count(r, "ClusterRole"), rbac_index_count(r, "ClusterRoleBinding"), rbac_index_count(r, "Role"),
         rbac_index_count(r, "RoleBinding"), load_ms, iters);
  printf("  allowed (RoleBinding to the user):          %7.0f ns/call\n", per_call(r, &allow, iters, AUTHZ_ALLOW));
  printf("  denied (same user, verb not granted):       %7.0f ns/call\n", per_call(r, &deny, iters, AUTHZ_NO_OPINION));
  printf("  allowed (ClusterRoleBinding to a group):    %7.0f ns/call\n", per_call(r, &cluster, iters, AUTHZ_ALLOW));
  printf("  denied (service account, 3 groups):         %7.0f ns/call\n",
         per_call(r, &sa_deny, iters, AUTHZ_NO_OPINION));
  auth_user_free(u);
  auth_user_free(m);
  auth_user_free(sa);
  rbac_free(r);
  return 0;
}
