"""Interoperability: a third-party OAuth client (authlib) against Tollgate.

Nothing here is Tollgate code: authlib's requests-based OAuth2Session reads
the RFC 8414 metadata, obtains a token with the client credentials grant
(client_secret_basic, then client_secret_post), calls /v1 with it, and
introspects and revokes it with its own RFC 7662 / RFC 7009 helpers.

Usage: authlib_client_credentials.py BASE_URL BOOTSTRAP_API_KEY
"""

import sys

import requests
from authlib.integrations.requests_client import OAuth2Session

base, api_key = sys.argv[1], sys.argv[2]


def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")
    print(f"ok: {what}")


admin = requests.Session()
admin.headers["Authorization"] = f"Bearer {api_key}"
r = admin.post(f"{base}/v1/oauth-clients",
               json={"name": "authlib interop", "scopes": ["dial:check", "leads:read"]})
check(r.status_code == 201, f"client registered ({r.status_code})")
client_id = r.json()["client"]["client_id"]
client_secret = r.json()["client_secret"]

meta = requests.get(f"{base}/.well-known/oauth-authorization-server").json()
check(meta["issuer"] == base, "metadata issuer is the public URL")
token_url = meta["token_endpoint"]

# client_secret_basic, asking for a subset of the client's scopes.
session = OAuth2Session(client_id, client_secret, scope="dial:check",
                        token_endpoint_auth_method="client_secret_basic")
token = session.fetch_token(token_url, grant_type="client_credentials")
check(token["token_type"].lower() == "bearer", "token_type Bearer")
check(token["scope"] == "dial:check", "granted scope is the requested subset")
check(0 < token["expires_in"] <= 900, "expires_in within the default lifetime")
access = token["access_token"]

r = session.get(f"{base}/v1/org")
check(r.status_code == 200 and "name" in r.json(), f"GET /v1/org with the token ({r.status_code})")
r = session.get(f"{base}/v1/me")
check(r.json().get("actor_kind") == "oauth_client" and r.json().get("actor_id") == client_id,
      "/v1/me names the OAuth client")

# client_secret_post, all scopes.
post_session = OAuth2Session(client_id, client_secret,
                             token_endpoint_auth_method="client_secret_post")
token2 = post_session.fetch_token(token_url, grant_type="client_credentials")
check(set(token2["scope"].split()) == {"dial:check", "leads:read"}, "client_secret_post token has every scope")
check(post_session.get(f"{base}/v1/org").status_code == 200, "client_secret_post token works")

# A scope the client does not hold: authlib raises the RFC 6749 error.
try:
    OAuth2Session(client_id, client_secret, scope="audit:read").fetch_token(
        token_url, grant_type="client_credentials")
    check(False, "invalid_scope raised")
except Exception as e:  # authlib's OAuthError subclass
    check(getattr(e, "error", None) == "invalid_scope", f"invalid_scope raised ({e})")

# A wrong secret: invalid_client.
try:
    OAuth2Session(client_id, client_secret[:-3] + "aaa").fetch_token(
        token_url, grant_type="client_credentials")
    check(False, "invalid_client raised")
except Exception as e:
    check(getattr(e, "error", None) == "invalid_client", f"invalid_client raised ({e})")

# Introspection (RFC 7662) with authlib's helper.
r = session.introspect_token(meta["introspection_endpoint"], token=access)
body = r.json()
check(r.status_code == 200 and body["active"] is True, "introspection: active")
check(body["client_id"] == client_id and body["scope"] == "dial:check", "introspection: client and scope")

# Revocation (RFC 7009) with authlib's helper; the token stops working.
r = session.revoke_token(meta["revocation_endpoint"], token=access, token_type_hint="access_token")
check(r.status_code == 200, f"revocation answered 200 ({r.status_code})")
r = session.get(f"{base}/v1/org")
check(r.status_code == 401, f"revoked token refused on /v1 ({r.status_code})")
r = session.introspect_token(meta["introspection_endpoint"], token=access)
check(r.json() == {"active": False}, "introspection after revocation: inactive")
check(post_session.get(f"{base}/v1/org").status_code == 200, "the other token still works")

# Revoking the client ends its remaining token at once.
r = admin.delete(f"{base}/v1/oauth-clients/{client_id}")
check(r.status_code == 200, "client revoked by the admin")
check(post_session.get(f"{base}/v1/org").status_code == 401, "revoked client's token refused")

print("authlib interop: client credentials, /v1 call, introspection and revocation ok")
