#!/usr/bin/env bash
# cognito.sh provisions a Cognito user pool in a running moto server for the
# auth tests and prints the environment they read, as shell export lines:
#
#   eval "$(.ci/cognito.sh)"
#
# Input:  FIELDSEAL_TEST_MOTO_URL (default http://127.0.0.1:5001), a moto server
#         started by .ci/aws-emulators.sh (or `moto_server -H 127.0.0.1 -p 5001`);
#         FIELDSEAL_TEST_REGION (from that script) or FIELDSEAL_TEST_COGNITO_REGION.
#         In CI:  eval "$(bash .ci/aws-emulators.sh)"; eval "$(bash .ci/cognito.sh)"
# Output: FIELDSEAL_TEST_COGNITO_{ENDPOINT,REGION,POOL_ID,CLIENT_ID,ISSUER,
#         JWKS_URL,USERNAME,PASSWORD,GROUP}. Everything else goes to stderr.
#
# Every run creates a fresh pool, so it is safe to run twice against one server.
set -euo pipefail

url="${FIELDSEAL_TEST_MOTO_URL:-http://127.0.0.1:5001}"
region="${FIELDSEAL_TEST_COGNITO_REGION:-${FIELDSEAL_TEST_REGION:-us-east-1}}"

# moto accepts any credentials; set dummy ones so boto3 never looks further
# (instance metadata, shared files) and so nothing real is ever used.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_DEFAULT_REGION="$region"

# boto3 comes with moto in the repository's tool cache (.ci/tools.sh).
. "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
tools_install moto

exec "$TOOLS_VENV/bin/python" - "$url" "$region" <<'PY'
import json, secrets, sys, urllib.request

import boto3

url, region = sys.argv[1], sys.argv[2]
idp = boto3.client("cognito-idp", endpoint_url=url, region_name=region)

# The emulator may still be starting: wait up to 30s for it to answer.
import time
deadline = time.monotonic() + 30
while True:
    try:
        idp.list_user_pools(MaxResults=1)
        break
    except Exception as e:  # connection refused while moto starts
        if time.monotonic() > deadline:
            sys.exit(f"cognito.sh: no Cognito API at {url}: {e}")
        time.sleep(0.5)

suffix = secrets.token_hex(4)
pool = idp.create_user_pool(
    PoolName=f"fieldseal-test-{suffix}",
    Policies={"PasswordPolicy": {"MinimumLength": 12}},
)["UserPool"]
pool_id = pool["Id"]

client = idp.create_user_pool_client(
    UserPoolId=pool_id,
    ClientName="fieldseal-billing",
    GenerateSecret=False,
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                       "ALLOW_REFRESH_TOKEN_AUTH"],
)["UserPoolClient"]
client_id = client["ClientId"]

group = "billing"
idp.create_group(UserPoolId=pool_id, GroupName=group)

username = "svc-billing"
password = "Fs-" + secrets.token_urlsafe(18) + "9a!"
idp.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password,
                            Permanent=True)
idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)

# Learn the issuer the way a relying party would: from a real token's iss
# claim (moto derives it from the request host, not from AWS's domain).
auth = idp.admin_initiate_auth(
    UserPoolId=pool_id, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
    AuthParameters={"USERNAME": username, "PASSWORD": password},
)["AuthenticationResult"]
import base64
payload = auth["AccessToken"].split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
issuer = claims["iss"]

# moto signs with the AWS-shaped issuer (https://cognito-idp.REGION.amazonaws.com/POOL)
# but serves the pool's JWKS itself, at URL/POOL/.well-known/jwks.json, so the
# verifier is given the JWKS URL explicitly (auth.Options.JWKSURL).
jwks_url = f"{url.rstrip('/')}/{pool_id}/.well-known/jwks.json"
with urllib.request.urlopen(jwks_url, timeout=10) as r:
    if not json.load(r).get("keys"):
        sys.exit(f"cognito.sh: no keys at {jwks_url}")
print("cognito.sh: access token claims: " + json.dumps(claims), file=sys.stderr)

def out(name, value):
    print(f"export {name}='{value}'")

out("FIELDSEAL_TEST_COGNITO_ENDPOINT", url)
out("FIELDSEAL_TEST_COGNITO_REGION", region)
out("FIELDSEAL_TEST_COGNITO_POOL_ID", pool_id)
out("FIELDSEAL_TEST_COGNITO_CLIENT_ID", client_id)
out("FIELDSEAL_TEST_COGNITO_ISSUER", issuer)
out("FIELDSEAL_TEST_COGNITO_JWKS_URL", jwks_url)
out("FIELDSEAL_TEST_COGNITO_USERNAME", username)
out("FIELDSEAL_TEST_COGNITO_PASSWORD", password)
out("FIELDSEAL_TEST_COGNITO_GROUP", group)
print(f"cognito.sh: pool {pool_id} client {client_id} issuer {issuer}", file=sys.stderr)
PY
