"""MSAL Python 1.39 reads a token cache that tokenhop's flows wrote, and finds every
token silently: app tokens (secret, certificate), the Agent ID hop-1 token under its
fmi_path extended key, and the agent user's delegated token with its account.

Run by `cargo xtask ci` (step interop-flows) after the `msal_interop` example wrote the
cache against the same emulator. Usage:

    flows_cache_msal.py READY_JSON CONFIG_JSON CACHE_FILE TOKENS_JSON MSAL_CACHE MSAL_TOKENS

Fails if MSAL makes any token request (the emulator's counters must not move) or finds
a different token than the one tokenhop got. Then MSAL signs alice in by device code
into a cache of its own, written to MSAL_CACHE (and its token to MSAL_TOKENS) for
tokenhop to read.
"""

import json
import sys

import msal
import requests

ready = json.loads(sys.argv[1])
config = json.load(open(sys.argv[2]))
cache = msal.SerializableTokenCache()
cache.deserialize(open(sys.argv[3]).read())
tokens = json.load(open(sys.argv[4]))
URL = ready["url"]
AUTHORITY = f"{URL}/{ready['tenant_id']}"
GRAPH = "https://graph.microsoft.com/.default"

session = requests.Session()
session.verify = ready["ca_cert"]
session.trust_env = False

apps = {a["name"]: a for a in config["apps"]}
agents = {a["name"]: a for a in config["agent_identities"]}
users = {u["name"]: u for u in config["users"]}
failures = []


def check(name, condition, detail=""):
    if not condition:
        failures.append(name)
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {detail}"))


def token_requests():
    return session.get(f"{URL}/admin/counters").json()["endpoints"].get("token", 0)


def app(client_id, credential):
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=AUTHORITY,
        http_client=session,
        instance_discovery=False,
        token_cache=cache,
    )


def unused_assertion():
    raise AssertionError("MSAL asked for an assertion: it went to the network")


before = token_requests()

secret_app = apps["confidential-secret"]
result = app(secret_app["client_id"], secret_app["secret"]).acquire_token_for_client([GRAPH])
check(
    "the secret client's app token comes from tokenhop's cache",
    result.get("token_source") == "cache" and result.get("access_token") == tokens["secret"],
    {k: result.get(k) for k in ("token_source", "error", "error_description")},
)

cert_app = apps["confidential-cert"]
result = app(cert_app["client_id"], {"client_assertion": unused_assertion}).acquire_token_for_client(
    ["https://storage.azure.com/.default"]
)
check(
    "the certificate client's app token comes from tokenhop's cache",
    result.get("token_source") == "cache" and result.get("access_token") == tokens["certificate"],
    {k: result.get(k) for k in ("token_source", "error")},
)

agent = agents["agent-identity"]
blueprint = apps["agent-blueprint"]
result = app(blueprint["client_id"], {"client_assertion": unused_assertion}).acquire_token_for_client(
    ["api://AzureADTokenExchange/.default"], fmi_path=agent["client_id"]
)
check(
    "hop 1's token is found under its fmi_path extended key",
    result.get("token_source") == "cache",
    {k: result.get(k) for k in ("token_source", "error")},
)

agent_app = app(agent["client_id"], {"client_assertion": unused_assertion})
agent_user = users[agent["agent_user"]]
accounts = agent_app.get_accounts(username=agent_user["upn"])
check("MSAL lists the agent user's account", len(accounts) == 1, accounts)
if accounts:
    result = agent_app.acquire_token_silent([GRAPH], account=accounts[0])
    check(
        "acquire_token_silent finds the agent user's delegated token",
        (result or {}).get("access_token") == tokens["agent_user"],
        result,
    )

public = apps["public-client"]
pca = msal.PublicClientApplication(
    public["client_id"],
    authority=AUTHORITY,
    http_client=session,
    instance_discovery=False,
    token_cache=cache,
)
accounts = pca.get_accounts(username=users["alice"]["upn"])
check("MSAL lists the user tokenhop signed in by device code", len(accounts) == 1, pca.get_accounts())
if accounts:
    result = pca.acquire_token_silent(["User.Read"], account=accounts[0])
    check(
        "acquire_token_silent finds tokenhop's token for that user",
        (result or {}).get("access_token") == tokens["public"],
        result,
    )

check("MSAL made no token request", token_requests() == before, (before, token_requests()))

# MSAL's own cache, for tokenhop to read.
own_cache = msal.SerializableTokenCache()
pca = msal.PublicClientApplication(
    public["client_id"],
    authority=AUTHORITY,
    http_client=session,
    instance_discovery=False,
    token_cache=own_cache,
)
flow = pca.initiate_device_flow(scopes=["User.Read"])
session.post(f"{URL}/admin/device/approve", json={"user_code": flow["user_code"], "user": "alice"})
result = pca.acquire_token_by_device_flow(flow)
check("MSAL signs alice in by device code", "access_token" in result, result)
with open(sys.argv[5], "w") as out:
    out.write(own_cache.serialize())
with open(sys.argv[6], "w") as out:
    json.dump({"public": result.get("access_token")}, out)
print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
