/*
 * bootstrap_policy.h - the bootstrap policy tables
 * (bootstrap_policy_data.c) that bootstrap_policy.c turns into objects.
 */
#ifndef APISERVER_BOOTSTRAP_POLICY_H
#define APISERVER_BOOTSTRAP_POLICY_H

/* Comma-separated lists; NULL = field absent ("" = the core group). */
struct bp_rule {
  const char *verbs, *groups, *resources, *names, *urls;
};

struct bp_role {
  const char *name;
  const char *label;           /* a label set to "true" (aggregate-to-*), or NULL */
  const char *agg;             /* aggregationRule matchLabels key (= "true"), or NULL */
  const struct bp_rule *rules; /* ended by verbs == NULL; NULL for aggregated roles */
};

struct bp_subject {
  const char *kind; /* User, Group, ServiceAccount; NULL ends */
  const char *name; /* ServiceAccount: "NAMESPACE:NAME" */
};

struct bp_binding {
  const char *name, *role;
  struct bp_subject subjects[3];
};

/* A Role or RoleBinding of namespace_policy.go, in namespace ns. */
struct bp_ns_role {
  const char *ns;
  struct bp_role role;
};
struct bp_ns_binding {
  const char *ns;
  struct bp_binding binding; /* role names a Role of the same namespace */
};

extern const struct bp_role bp_cluster_roles[];
extern const struct bp_binding bp_cluster_role_bindings[];
/* Named without the "system:controller:" prefix; bound to the
 * kube-system service account of the same name. */
extern const struct bp_role bp_controller_roles[];
/* Ended by ns == NULL. */
extern const struct bp_ns_role bp_namespace_roles[];
extern const struct bp_ns_binding bp_namespace_role_bindings[];

#endif
