"""tokenhop reuses an Azure CLI sign-in that MSAL Python 1.39 wrote, and MSAL finds what
tokenhop wrote back. The Azure CLI's files are laid out as `az login` leaves them
(facts: the Azure CLI's source, `azure/cli/core/_profile.py` and `_identity.py`): the
MSAL cache `msal_token_cache.json` written as the CLI's client id after a device code
sign-in, `azureProfile.json` in UTF-8 with a BOM and two subscriptions in two tenants,
`clouds.config` naming the emulator as a custom cloud, and for a service principal
`service_principal_entries.json`.

Run by `cargo xtask ci` (step interop-azure-cli). Usage:

    azure_cli_msal.py READY_JSON CONFIG_JSON TOKENHOP_BIN WORK_DIR

Counts the emulator's token requests around every tokenhop call: a hit makes none, a
refresh exactly one.
"""

import base64
import json
import os
import subprocess
import sys

import msal
import requests

ready = json.loads(sys.argv[1])
config = json.load(open(sys.argv[2]))
TOKENHOP = sys.argv[3]
WORK = sys.argv[4]
URL = ready["url"]
TENANT = ready["tenant_id"]
OTHER_TENANT = config["other_tenants"][0]["tenant_id"]
AZURE_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
ARM = "https://management.core.windows.net//.default"
GRAPH = "https://graph.microsoft.com/.default"

session = requests.Session()
session.verify = ready["ca_cert"]
session.trust_env = False
failures = []


SECRET_KEYS = {"access_token", "accessToken", "refresh_token", "secret"}


def shown(detail):
    """The detail of a failed check without tokens: tokenhop's JSON carries one."""
    if isinstance(detail, dict):
        return {k: ("***" if k in SECRET_KEYS else shown(v)) for k, v in detail.items()}
    if isinstance(detail, (list, tuple)):
        return [shown(v) for v in detail]
    return detail


def check(name, condition, detail=""):
    if not condition:
        failures.append(name)
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {shown(detail)}"))


def token_requests():
    return session.get(f"{URL}/admin/counters").json()["endpoints"].get("token", 0)


def claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def cache_of(directory):
    cache = msal.SerializableTokenCache()
    path = os.path.join(directory, "msal_token_cache.json")
    if os.path.exists(path):
        cache.deserialize(open(path).read())
    return cache


def save(directory, cache):
    with open(os.path.join(directory, "msal_token_cache.json"), "w") as f:
        f.write(cache.serialize())


def cli_app(directory, tenant, cache):
    return msal.PublicClientApplication(
        AZURE_CLI,
        authority=f"{URL}/{tenant}",
        http_client=session,
        instance_discovery=False,
        token_cache=cache,
    )


def write_profile(directory, subscriptions):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "azureProfile.json"), "w", encoding="utf-8-sig") as f:
        json.dump({"installationId": "6f0b8d3e-0000-4000-8000-000000000001", "subscriptions": subscriptions}, f)
    with open(os.path.join(directory, "clouds.config"), "w") as f:
        f.write(f"[Emulator]\nendpoint_active_directory = {URL}\n")


def subscription(sub_id, name, tenant, default, user, kind="user"):
    return {
        "id": sub_id, "name": name, "state": "Enabled", "isDefault": default, "tenantId": tenant,
        "environmentName": "Emulator", "homeTenantId": tenant, "managedByTenants": [],
        "user": {"name": user, "type": kind},
    }


def tokenhop(directory, *args):
    env = {"PATH": os.environ.get("PATH", ""), "AZURE_CONFIG_DIR": directory}
    done = subprocess.run(
        [TOKENHOP, "--no-cache", "--ca-cert", ready["ca_cert"], "--json", "token", "--flow", "azure-cli", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip()}
    return json.loads(done.stdout)


# `az login` as alice: device code, the CLI's client id, Resource Manager.
user_dir = os.path.join(WORK, "user")
os.makedirs(user_dir, exist_ok=True)
cache = cache_of(user_dir)
pca = cli_app(user_dir, TENANT, cache)
flow = pca.initiate_device_flow(scopes=[ARM])
session.post(f"{URL}/admin/device/approve", json={"user_code": flow["user_code"], "user": "alice", "after_polls": 0})
login = pca.acquire_token_by_device_flow(flow)
check("MSAL signs alice in as the Azure CLI", "access_token" in login, login.get("error_description"))
save(user_dir, cache)
alice = login["id_token_claims"]["preferred_username"]
write_profile(user_dir, [
    subscription("11111111-0000-4000-8000-000000000001", "Contoso Dev", TENANT, True, alice),
    subscription("22222222-0000-4000-8000-000000000002", "Northwind Prod", OTHER_TENANT, False, alice),
])

before = token_requests()
hit = tokenhop(user_dir, "--scope", ARM)
check("tokenhop finds MSAL's token with no request",
      hit.get("access_token") == login["access_token"] and token_requests() == before, hit)

before = token_requests()
graph = tokenhop(user_dir, "--scope", GRAPH)
check("another scope: exactly one request, by the refresh token",
      "access_token" in graph and token_requests() == before + 1, graph)

before = token_requests()
reader = cli_app(user_dir, TENANT, cache_of(user_dir))
account = reader.get_accounts(username=alice)[0]
silent = reader.acquire_token_silent([GRAPH], account=account)
check("MSAL, as the CLI, finds tokenhop's refreshed token silently",
      silent and silent.get("access_token") == graph.get("access_token") and token_requests() == before,
      silent and {k: silent.get(k) for k in ("token_source", "error")})

northwind = tokenhop(user_dir, "--subscription", "Northwind Prod", "--scope", ARM)
check("--subscription picks the second subscription's tenant",
      "access_token" in northwind and claims(northwind["access_token"])["tid"] == OTHER_TENANT, northwind)
before = token_requests()
other = cli_app(user_dir, OTHER_TENANT, cache_of(user_dir))
silent = other.acquire_token_silent([ARM], account=other.get_accounts(username=alice)[0])
check("MSAL finds the other tenant's token tokenhop wrote",
      silent and silent.get("access_token") == northwind.get("access_token") and token_requests() == before,
      silent and silent.get("error"))

# `az login --service-principal`: its token and its secret where the CLI keeps them.
sp_dir = os.path.join(WORK, "service-principal")
app = next(a for a in config["apps"] if a["name"] == "confidential-secret")
write_profile(sp_dir, [subscription("33333333-0000-4000-8000-000000000003", "Automation", TENANT, True, app["client_id"], "servicePrincipal")])
with open(os.path.join(sp_dir, "service_principal_entries.json"), "w") as f:
    json.dump([{"client_id": app["client_id"], "tenant": TENANT, "client_secret": app["secret"]}], f)
sp_cache = cache_of(sp_dir)
cca = msal.ConfidentialClientApplication(
    app["client_id"], client_credential=app["secret"], authority=f"{URL}/{TENANT}",
    http_client=session, instance_discovery=False, token_cache=sp_cache,
)
sp_login = cca.acquire_token_for_client([ARM])
save(sp_dir, sp_cache)
before = token_requests()
sp = tokenhop(sp_dir, "--scope", ARM)
check("the service principal's token from the CLI's cache, no request",
      sp.get("access_token") == sp_login.get("access_token") and token_requests() == before, sp)
sp_graph = tokenhop(sp_dir, "--scope", GRAPH)
check("the service principal by its stored secret",
      "access_token" in sp_graph and claims(sp_graph["access_token"])["appid"] == app["client_id"], sp_graph)

nobody = tokenhop(os.path.join(WORK, "nobody"), "--scope", ARM)
check("nobody signed in: says to run az login", "az login" in nobody.get("error", ""), nobody)

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
