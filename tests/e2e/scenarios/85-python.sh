# 85-python: the official Python client (Debian's python3-kubernetes, for
# the system interpreter) drives the cluster: tests/e2e/python_client.py.
new_namespace
ok "python client" /usr/bin/python3 "$E2E_DIR/python_client.py" "$NS" "$ECHO_IMAGE_1"
echo "$OUT"
expect_match "every step" 'a read afterwards is a 404 NotFound Status' "$OUT"
