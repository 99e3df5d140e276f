#!/usr/bin/env bash
# TEST-ONLY credentials for apns-gateway's tests, benchmarks and local demo.
# Never use them for anything else: the private keys are public in this repository.
#
#   test-ca.pem / test-ca.key         a throwaway certificate authority
#   localhost.pem / localhost.key     a server certificate for localhost, 127.0.0.1 and ::1, signed by the CA
#   other-ca.pem                      an unrelated CA, for tests that expect verification to fail
#   client.pem / client.key / client.p12 (password "test")  a client certificate, for certificate auth tests
#   AuthKey_TESTKEY123.p8             an ES256 provider key in PKCS#8 PEM (key id TESTKEY123)
#   AuthKey_TESTKEY123.pub.pem        its public key, which the mock APNs uses to verify JWTs
set -euo pipefail
cd "$(dirname "$0")"
days=3650
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout test-ca.key -out test-ca.pem \
  -days $days -subj "/CN=apns-gateway TEST-ONLY CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-ca.key -out other-ca.pem \
  -days $days -subj "/CN=apns-gateway TEST-ONLY unrelated CA" -addext "basicConstraints=critical,CA:TRUE"
rm -f other-ca.key
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout localhost.key -out localhost.csr \
  -subj "/CN=localhost"
openssl x509 -req -in localhost.csr -CA test-ca.pem -CAkey test-ca.key -CAcreateserial -out localhost.pem \
  -days $days -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n')
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key -out client.csr \
  -subj "/CN=apns-gateway TEST-ONLY client"
openssl x509 -req -in client.csr -CA test-ca.pem -CAkey test-ca.key -CAcreateserial -out client.pem \
  -days $days -extfile <(printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n')
openssl pkcs12 -export -in client.pem -inkey client.key -out client.p12 -passout pass:test
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | openssl pkcs8 -topk8 -nocrypt -out AuthKey_TESTKEY123.p8
openssl pkey -in AuthKey_TESTKEY123.p8 -pubout -out AuthKey_TESTKEY123.pub.pem
chmod 600 AuthKey_TESTKEY123.p8
rm -f localhost.csr client.csr test-ca.srl
echo "TEST-ONLY credentials written to $(pwd)"
