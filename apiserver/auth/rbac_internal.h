/*
 * rbac_internal.h - the RBAC authorizer's parts shared by rbac.c (the
 * indexes), rbac_rules.c (rule matching and coverage), reviews.c (access
 * and rules reviews), bootstrap_policy.c and the escalation checks of
 * registry/rbac.c.
 *
 * A PolicyRule is parsed once, when its Role or ClusterRole is indexed,
 * into string vectors (struct rbac_rule); matching a request never looks
 * at JSON.  Rules are owned by their role; visitors only borrow them for
 * the duration of the visit.
 */
#ifndef APISERVER_RBAC_INTERNAL_H
#define APISERVER_RBAC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "auth/auth.h"

#define RBAC_GROUP "rbac.authorization.k8s.io"
#define RBAC_AUTOUPDATE_ANNOTATION "rbac.authorization.kubernetes.io/autoupdate"
#define SYSTEM_MASTERS "system:masters"

struct rbac_strv {
  char **v;
  size_t n;
};

/* rbac.authorization.k8s.io/v1 PolicyRule */
struct rbac_rule {
  struct rbac_strv verbs, groups, resources, names, urls;
};

struct rbac_rules {
  struct rbac_rule *v;
  size_t n;
};

/* ---- rbac_rules.c ---- */

/* Parses a JSON array of PolicyRules (borrowed; NULL or not an array =
 * none) into out; fields of the wrong type count as empty. */
void rbac_rules_parse(const json_t *rules, struct rbac_rules *out);
void rbac_rules_free(struct rbac_rules *r);
/* One PolicyRule as JSON (upstream field order, empty fields left out);
 * new reference. */
json_t *rbac_rule_json(const struct rbac_rule *rule);
/* Upstream's RuleAllows: does rule grant a? */
bool rbac_rule_allows(const struct rbac_rule *rule, const struct authz_attrs *a);
/* Upstream's Covers: every rule of servant is covered by one of the
 * owner rules.  When not, and missing is not NULL, *missing gets a new
 * malloc'd text listing the uncovered rules in upstream's compact form,
 * compacted and sorted, one per line. */
bool rbac_rules_cover(const struct rbac_rule *const *owner, size_t nowner, const struct rbac_rules *servant,
                      char **missing);
/* The broken-down servant rules (one verb, group, resource, name each)
 * no owner rule covers, as a new JSON array of PolicyRules: what
 * reconciliation adds to a bootstrap role. */
json_t *rbac_rules_uncovered(const struct rbac_rules *owner, const struct rbac_rules *servant);
/* Go's %q of a []string: ["a" "b"]; appended to a malloc'd buffer. */
void rbac_quote_strv(char **buf, size_t *len, const char *const *v, size_t n);

/* ---- rbac.c ---- */

/* Where a visited rule comes from: upstream's describers
 * (`ClusterRoleBinding "x" of ClusterRole "y" to User "z"`). */
struct rbac_binding;
struct rbac_source {
  const struct rbac_binding *binding;
};
/* Writes the source's description for user into buf. */
void rbac_source_describe(const struct rbac_source *src, const struct auth_user *user, char *buf, size_t len);

/* Called with each rule that applies to user in ns (rule != NULL), and
 * each error resolving a binding's role (rule == NULL, err set, e.g.
 * `clusterrole.rbac.authorization.k8s.io "x" not found`).  Return false
 * to stop. */
typedef bool (*rbac_visit_fn)(void *arg, const struct rbac_source *src, const struct rbac_rule *rule, const char *err);
/* ClusterRoleBindings first, then the RoleBindings of ns (when ns is not
 * empty), as upstream's resolver; only bindings whose subjects name the
 * user, one of its groups or its service account are looked at. */
void rbac_visit_rules_for(const struct rbac *r, const struct auth_user *user, const char *ns, rbac_visit_fn fn,
                          void *arg);
/* The rules of a binding's roleRef (kind "Role" or "ClusterRole") as
 * seen from namespace ns; NULL when the role does not exist (err gets
 * upstream's NotFound text). Borrowed until the indexes next change. */
const struct rbac_rules *rbac_role_rules(const struct rbac *r, const char *kind, const char *ns, const char *name,
                                         char *err, size_t errlen);

/* Indexes without storage (tests, benchmarks): rbac_new_empty, then feed
 * objects with rbac_index_put / rbac_index_del.  kind is "Role",
 * "ClusterRole", "RoleBinding" or "ClusterRoleBinding"; obj borrowed. */
struct rbac *rbac_new_empty(void);
void rbac_index_put(struct rbac *r, const char *kind, const json_t *obj);
void rbac_index_del(struct rbac *r, const char *kind, const char *ns, const char *name);
size_t rbac_index_count(const struct rbac *r, const char *kind);

/* ---- escalation (rbac_escalation.c) ---- */

/* Upstream's ConfirmNoEscalation: NULL when user's rules in ns cover
 * rules, else a new 403 Forbidden Status on resource (plural) / name
 * with `user "jane" (groups=[...]) is attempting to grant RBAC
 * permissions not currently held:\n...`. */
json_t *rbac_confirm_no_escalation(const struct rbac *r, const struct auth_user *user, const char *ns,
                                   const struct rbac_rules *rules, const char *resource, const char *name);
/* Upstream's EscalationAllowed: a member of system:masters. */
bool rbac_escalation_allowed(const struct auth_user *user);

/* ---- bootstrap_policy.c ---- */

/* Upstream's bootstrap ClusterRoles and ClusterRoleBindings (with the
 * controller roles of the controllers this build runs), each with the
 * bootstrapping label and the autoupdate annotation; new arrays. */
json_t *rbac_bootstrap_cluster_roles(void);
json_t *rbac_bootstrap_cluster_role_bindings(void);
/* The Roles and RoleBindings upstream bootstraps into kube-system and
 * kube-public (namespace_policy.go); new arrays. */
json_t *rbac_bootstrap_namespace_roles(void);
json_t *rbac_bootstrap_namespace_role_bindings(void);
/* Upstream's reconciliation of one bootstrap object (expected) against
 * what is stored (existing, may be NULL; both borrowed): returns a new
 * object to write, or NULL when nothing is to be done (up to date, or
 * autoupdate "false").  Rules and subjects missing are added, those
 * the user added are kept; labels and annotations merged. */
json_t *rbac_reconcile_role(const json_t *expected, const json_t *existing);
json_t *rbac_reconcile_binding(const json_t *expected, const json_t *existing);

#endif
