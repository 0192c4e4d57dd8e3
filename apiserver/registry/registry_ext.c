/*
 * registry_ext.c - the table of the extended kinds (kinds_ext.h), in the
 * order discovery lists them; the registry merges it into its own table.
 */
#include "registry/customresources.h"
#include "registry/kinds_ext.h"

static const struct resource *const ext_table[] = {
    &reg_replicationcontrollers,
    &reg_podtemplates,
    &reg_persistentvolumes,
    &reg_persistentvolumeclaims,
    &reg_limitranges,
    &reg_resourcequotas,
    &reg_statefulsets,
    &reg_daemonsets,
    &reg_controllerrevisions,
    &reg_jobs,
    &reg_cronjobs,
    &reg_horizontalpodautoscalers,
    &reg_ingresses,
    &reg_ingressclasses,
    &reg_networkpolicies,
    &reg_poddisruptionbudgets,
    &reg_priorityclasses,
    &reg_storageclasses,
    &reg_roles,
    &reg_rolebindings,
    &reg_clusterroles,
    &reg_clusterrolebindings,
    &reg_mutatingwebhookconfigurations,
    &reg_validatingwebhookconfigurations,
    &reg_customresourcedefinitions,
    &reg_certificatesigningrequests,
    &reg_localsubjectaccessreviews,
    &reg_selfsubjectaccessreviews,
    &reg_selfsubjectrulesreviews,
    &reg_subjectaccessreviews,
    &reg_tokenreviews,
    &reg_selfsubjectreviews,
};

const struct resource *const *registry_ext_all(size_t *n)
{
  *n = sizeof(ext_table) / sizeof(ext_table[0]);
  return ext_table;
}
