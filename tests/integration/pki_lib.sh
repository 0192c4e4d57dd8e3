# tests/integration/pki_lib.sh - a test PKI made with openssl under
# $WORK/pki (sourced after lib.sh), for the secure-port tests:
#   pki_ca [NAME [CN]]              a self-signed CA: $PKI/NAME.crt, .key (NAME ca)
#   client_cert NAME SUBJECT [CA]   a client certificate signed by CA (default ca):
#                                   $PKI/NAME.crt, $PKI/NAME.key; SUBJECT is
#                                   "/O=group/CN=user"
PKI=$WORK/pki
mkdir -p "$PKI"
ossl() { openssl "$@" >/dev/null 2>&1 || fail "openssl $*"; }
pki_ca() {
  local name=${1:-ca}
  ossl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -out "$PKI/$name.crt" -days 2 -subj "/CN=${2:-test-ca}"
}
client_cert() {
  local ca=${3:-ca}
  ossl req -newkey rsa:2048 -nodes -keyout "$PKI/$1.key" -out "$PKI/$1.csr" -subj "$2"
  ossl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial -out "$PKI/$1.crt" -days 1
}
