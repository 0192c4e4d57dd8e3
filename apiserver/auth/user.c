/*
 * user.c - struct auth_user (auth.h): who a request comes from.
 */
#define _GNU_SOURCE
#include "auth/auth.h"

#include <stdlib.h>
#include <string.h>

#include <kube/xalloc.h>

struct auth_user *auth_user_new(const char *name)
{
  struct auth_user *u = xcalloc(1, sizeof(*u));
  u->name = xstrdup(name);
  u->uid = xstrdup("");
  return u;
}

void auth_user_free(struct auth_user *u)
{
  if (!u) return;
  for (size_t i = 0; i < u->ngroups; i++) free(u->groups[i]);
  free(u->groups);
  free(u->name);
  free(u->uid);
  json_decref(u->extra);
  free(u);
}

bool auth_user_in_group(const struct auth_user *u, const char *group)
{
  for (size_t i = 0; u && i < u->ngroups; i++)
    if (!strcmp(u->groups[i], group)) return true;
  return false;
}

void auth_user_add_group(struct auth_user *u, const char *group)
{
  if (!group || !*group || auth_user_in_group(u, group)) return;
  u->groups = xrealloc(u->groups, (u->ngroups + 1) * sizeof(*u->groups));
  u->groups[u->ngroups++] = xstrdup(group);
}

json_t *auth_user_info(const struct auth_user *u)
{
  json_t *info = json_object(), *groups = json_array();
  json_object_set_new(info, "username", json_string(u->name));
  if (u->uid && *u->uid) json_object_set_new(info, "uid", json_string(u->uid));
  for (size_t i = 0; i < u->ngroups; i++) json_array_append_new(groups, json_string(u->groups[i]));
  json_object_set_new(info, "groups", groups);
  if (u->extra && json_object_size(u->extra)) json_object_set(info, "extra", u->extra);
  return info;
}
