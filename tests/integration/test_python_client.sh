#!/usr/bin/env bash
# The official Python client (Debian's python3-kubernetes) lists, creates,
# watches and deletes against the real API server.
source "$(dirname "$0")/lib.sh"
start_apiserver
# pods run as the namespace's default service account, which the
# controller-manager (not running here) would create
kube create sa default >/dev/null
ok "python client" /usr/bin/python3 "$(dirname "$0")/python_client.py" "$KUBECONFIG"
echo "$OUT"
done_testing
