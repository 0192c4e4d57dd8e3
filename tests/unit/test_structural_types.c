/* Tests for schema/structural_types.h: a CRD schema as the field
 * manager's types - list-map keys, set and map types on the fields,
 * additionalProperties maps, int-or-string, ObjectMeta at metadata, and
 * preserve-unknown-fields parts left deduced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "schema/schema_int.h"
#include "schema/structural_types.h"

static void test_types(void **state)
{
  (void)state;
  json_t *schema = json_loads(
      "{\"type\":\"object\",\"properties\":{\"metadata\":{\"type\":\"object\"},\"spec\":{\"type\":\"object\","
      "\"x-kubernetes-map-type\":\"atomic\",\"properties\":{"
      "\"ports\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\",\"x-kubernetes-list-map-keys\":[\"name\","
      "\"protocol\"],\"items\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}},"
      "\"tags\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"set\",\"items\":{\"type\":\"string\"}},"
      "\"labels\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
      "\"port\":{\"x-kubernetes-int-or-string\":true},"
      "\"free\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}}}",
      0, NULL);
  assert_non_null(schema);
  struct stype meta = {.kind = ST_STRUCT};
  struct stype_set *set = NULL;
  const struct stype *root = structural_types_new(schema, &meta, &set);
  assert_non_null(root);
  assert_int_equal(root->kind, ST_STRUCT);
  const struct sfield *m = schema_find_field(root, "metadata");
  assert_ptr_equal(m->type, &meta); /* the built-in ObjectMeta */
  const struct sfield *spec = schema_find_field(root, "spec");
  assert_string_equal(spec->map_type, "atomic");
  assert_string_equal(spec->type->struct_type, "atomic");
  const struct sfield *ports = schema_find_field(spec->type, "ports");
  assert_int_equal(ports->type->kind, ST_ARRAY);
  assert_string_equal(ports->list_type, "map");
  assert_string_equal(ports->list_keys, "name,protocol");
  assert_int_equal(ports->type->elem->kind, ST_STRUCT);
  const struct sfield *tags = schema_find_field(spec->type, "tags");
  assert_string_equal(tags->list_type, "set");
  assert_int_equal(tags->type->elem->kind, ST_STRING);
  const struct sfield *labels = schema_find_field(spec->type, "labels");
  assert_int_equal(labels->type->kind, ST_MAP);
  assert_int_equal(labels->type->elem->kind, ST_STRING);
  assert_int_equal(schema_find_field(spec->type, "port")->type->kind, ST_INT_OR_STRING);
  assert_null(schema_find_field(spec->type, "free")->type); /* deduced */
  stype_set_free(set);
  json_decref(schema);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_types),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
