"""MSAL Python 1.39 against the tokenhop emulator: every grant MSAL offers, CAE with
client_capabilities=["cp1"], over TLS, and MSAL's managed identity client on every host
it supports (IMDS, App Service, Service Fabric, Machine Learning, Azure Arc).

Run by `cargo xtask ci` (step interop-emulator) against a freshly started
`tokenhop-emulator serve --tls`. Usage:

    emulator_msal.py READY_JSON CONFIG_JSON

READY_JSON is the line `serve` printed; CONFIG_JSON the configuration it serves.
Every token is decoded, its RS256 signature checked against the emulator's JWKS, and
its claims compared with what the grant must produce. Exits non-zero on any failure.
"""

import base64
import json
import os
import sys

import msal
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

GRAPH = "https://graph.microsoft.com"
STORAGE = "https://storage.azure.com"
EXCHANGE = "api://AzureADTokenExchange"

ready = json.loads(sys.argv[1])
config = json.load(open(sys.argv[2]))
URL = ready["url"]
TENANT = ready["tenant_id"]
AUTHORITY = f"{URL}/{TENANT}"
ISSUER = f"{URL}/{TENANT}/v2.0"
# Entra issues an access token in the format its resource accepts: Microsoft's APIs
# (Graph, Storage) accept v1, so theirs are v1 whichever endpoint MSAL used; the
# tenant's own api:// apps get v2. Id tokens are always v2.
V1_RESOURCES = (GRAPH, STORAGE)
V1_ISSUER = f"https://sts.windows.net/{TENANT}/"
STATE_DIR = ready["state_dir"]

session = requests.Session()
session.verify = ready["ca_cert"]
session.trust_env = False

apps = {a["name"]: a for a in config["apps"]}
users = {u["name"]: u for u in config["users"]}
agents = {a["name"]: a for a in config["agent_identities"]}
identities = {i["name"]: i for i in config["managed_identities"]}

failures = []
passed = []


def check(name, condition, detail=""):
    (passed if condition else failures).append(name)
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {detail}"))


def b64(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwks_keys():
    keys = session.get(f"{AUTHORITY}/discovery/v2.0/keys").json()["keys"]
    return {k["kid"]: k for k in keys}


KEYS = jwks_keys()


def verified_claims(token):
    """The claims of an emulator token whose RS256 signature verifies with the JWKS."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(b64(header_b64))
    assert header["alg"] == "RS256", header
    jwk = KEYS[header["kid"]]
    key = rsa.RSAPublicNumbers(
        int.from_bytes(b64(jwk["e"]), "big"), int.from_bytes(b64(jwk["n"]), "big")
    ).public_key()
    key.verify(
        b64(signature_b64),
        f"{header_b64}.{payload_b64}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    return json.loads(b64(payload_b64))


def expect_token(name, result, aud, **claims):
    """Checks a result holds a verifying token for `aud` whose claims include `claims`,
    in the token format `aud` accepts (v1: no azp, no preferred_username)."""
    if "access_token" not in result:
        check(name, False, f"no token: {result.get('error')}: {result.get('error_description')}")
        return None
    try:
        decoded = verified_claims(result["access_token"])
    except Exception as error:  # a bad signature is a failure, with its reason
        check(name, False, f"signature: {error!r}")
        return None
    v1 = aud in V1_RESOURCES
    shape = {"iss": V1_ISSUER, "ver": "1.0"} if v1 else {"iss": ISSUER, "ver": "2.0"}
    expected = {**shape, "aud": aud, "tid": TENANT, **claims}
    wrong = {k: (decoded.get(k), v) for k, v in expected.items() if decoded.get(k) != v}
    present = [k for k in ("azp", "preferred_username") if v1 and k in decoded]
    check(name, not wrong and not present, f"claims (got, want): {wrong}; v2-only claims in a v1 token: {present}")
    return decoded


def counters():
    return session.get(f"{URL}/admin/counters").json()


def grant_count(grant):
    return counters()["grants"].get(grant, 0)


def confidential(app_name, credential):
    return msal.ConfidentialClientApplication(
        apps[app_name]["client_id"] if app_name in apps else agents[app_name]["client_id"],
        client_credential=credential,
        authority=AUTHORITY,
        http_client=session,
        instance_discovery=False,
    )


def certificate_credential(app_name):
    with open(os.path.join(STATE_DIR, f"{app_name}.key.pem")) as key, open(
        os.path.join(STATE_DIR, f"{app_name}.cert.pem")
    ) as cert:
        # No thumbprint: MSAL 1.39 then signs PS256 with x5t#S256.
        return {"private_key": key.read(), "public_certificate": cert.read()}


def app_tokens():
    secret_app = apps["confidential-secret"]
    cca = confidential("confidential-secret", secret_app["secret"])
    result = cca.acquire_token_for_client([f"{GRAPH}/.default"])
    expect_token(
        "client credentials with a secret",
        result,
        aud=GRAPH,
        appid=secret_app["client_id"],
        appidacr="1",
        idtyp="app",
    )
    again = cca.acquire_token_for_client([f"{GRAPH}/.default"])
    check("a second call is served from MSAL's cache", again.get("token_source") == "cache", again.get("token_source"))
    refused = confidential("confidential-secret", "wrong-secret").acquire_token_for_client([f"{GRAPH}/.default"])
    check(
        "a wrong secret is refused with AADSTS7000215",
        refused.get("error") == "invalid_client" and 7000215 in refused.get("error_codes", []),
        refused,
    )
    cert_app = apps["confidential-cert"]
    result = confidential("confidential-cert", certificate_credential("confidential-cert")).acquire_token_for_client(
        [f"{STORAGE}/.default"]
    )
    expect_token(
        "client credentials with MSAL's PS256 certificate assertion",
        result,
        aud=STORAGE,
        appid=cert_app["client_id"],
        appidacr="2",
        idtyp="app",
    )


def user_tokens():
    public = apps["public-client"]
    pca = msal.PublicClientApplication(
        public["client_id"], authority=AUTHORITY, http_client=session, instance_discovery=False
    )
    flow = pca.initiate_device_flow(scopes=["User.Read"])
    check("device flow starts", "user_code" in flow, flow)
    approve = session.post(
        f"{URL}/admin/device/approve",
        json={"user_code": flow["user_code"], "user": "alice", "after_polls": 1},
    )
    check("the admin API approves the code", approve.status_code == 204, approve.text)
    alice = users["alice"]
    result = pca.acquire_token_by_device_flow(flow)
    expect_token(
        "device flow approved after a pending poll",
        result,
        aud=GRAPH,
        appid=public["client_id"],
        appidacr="0",
        idtyp="user",
        oid=alice["object_id"],
        scp="User.Read",
        upn=alice["upn"],
        unique_name=alice["upn"],
    )
    id_claims = result.get("id_token_claims", {})
    check(
        "the id token names the user and the client",
        id_claims.get("aud") == public["client_id"] and id_claims.get("oid") == alice["object_id"],
        id_claims,
    )
    accounts = pca.get_accounts()
    check(
        "MSAL records the account",
        len(accounts) == 1 and accounts[0]["username"] == alice["upn"],
        accounts,
    )
    if not accounts:
        return
    before = grant_count("refresh_token")
    refreshed = pca.acquire_token_silent(["User.Read"], account=accounts[0], force_refresh=True)
    expect_token(
        "acquire_token_silent(force_refresh) uses the refresh token", refreshed, aud=GRAPH, oid=alice["object_id"]
    )
    check("exactly one refresh request", grant_count("refresh_token") == before + 1, counters())

    middle = apps["confidential-secret"]
    api_scope = f"api://{middle['client_id']}/access_as_user"
    for_api = pca.acquire_token_silent([api_scope], account=accounts[0])
    incoming = expect_token(
        "a user token for the middle tier's API",
        for_api or {},
        aud=f"api://{middle['client_id']}",
        oid=alice["object_id"],
    )
    if incoming:
        cca = confidential("confidential-secret", middle["secret"])
        obo = cca.acquire_token_on_behalf_of(for_api["access_token"], [f"{GRAPH}/User.Read"])
        expect_token(
            "on-behalf-of: the middle tier gets a Graph token for the same user",
            obo,
            aud=GRAPH,
            appid=middle["client_id"],
            idtyp="user",
            oid=alice["object_id"],
        )


def agent_chain():
    blueprint = apps["agent-blueprint"]
    agent = agents["agent-identity"]
    agent_user = users[agent["agent_user"]]
    hop1 = confidential("agent-blueprint", certificate_credential("agent-blueprint")).acquire_token_for_client(
        [f"{EXCHANGE}/.default"], fmi_path=agent["client_id"]
    )
    t1 = expect_token(
        "hop 1: the blueprint's token for the agent (fmi_path)",
        hop1,
        aud=EXCHANGE,
        azp=blueprint["client_id"],
        sub=f"/eid1/c/pub/t/{TENANT}/a/{blueprint['client_id']}/{agent['client_id']}",
    )
    if not t1:
        return
    agent_app = confidential("agent-identity", {"client_assertion": lambda: hop1["access_token"]})
    hop2 = agent_app.acquire_token_for_client([f"{EXCHANGE}/.default"])
    expect_token(
        "hop 2: the agent identity's exchange token (T1 as assertion)",
        hop2,
        aud=EXCHANGE,
        azp=agent["client_id"],
        xms_par_app_azp=blueprint["client_id"],
    )
    two_hop = agent_app.acquire_token_for_client([f"{GRAPH}/.default"])
    expect_token(
        "two-hop chain: an app token for Graph",
        two_hop,
        aud=GRAPH,
        appid=agent["client_id"],
        appidacr="2",
        idtyp="app",
        xms_act_fct="11",
    )
    if "access_token" not in hop2:
        return
    for how, kwargs in (
        ("object id", {"user_object_id": agent_user["object_id"]}),
        ("UPN", {"username": agent_user["upn"]}),
    ):
        hop3 = agent_app.acquire_token_by_user_federated_identity_credential(
            [f"{GRAPH}/.default"], hop2["access_token"], **kwargs
        )
        expect_token(
            f"hop 3: user_fic gives a delegated token for the agent user by {how}",
            hop3,
            aud=GRAPH,
            appid=agent["client_id"],
            idtyp="user",
            oid=agent_user["object_id"],
            xms_sub_fct="13",
            xms_par_app_azp=blueprint["client_id"],
        )
    wrong = agent_app.acquire_token_by_user_federated_identity_credential(
        [f"{GRAPH}/.default"], hop2["access_token"], user_object_id=agent_user["upn"]
    )
    check("a UPN sent as user_id is refused with AADSTS50000", 50000 in wrong.get("error_codes", []), wrong)


def cae():
    """MSAL with client_capabilities=["cp1"]: a CAE token, the challenge after a critical
    event, and the recovery with the challenge's claims."""
    me_url = f"{URL}/v1.0/me"
    bob = users["bob"]
    cca = msal.ConfidentialClientApplication(
        apps["confidential-secret"]["client_id"],
        client_credential=apps["confidential-secret"]["secret"],
        authority=AUTHORITY,
        http_client=session,
        instance_discovery=False,
        client_capabilities=["cp1"],
    )
    expect_token("cp1 client credentials get xms_cc", cca.acquire_token_for_client([f"{GRAPH}/.default"]), aud=GRAPH, xms_cc=["cp1"])
    pca = msal.PublicClientApplication(
        apps["public-client"]["client_id"],
        authority=AUTHORITY,
        http_client=session,
        instance_discovery=False,
        client_capabilities=["cp1"],
    )
    flow = pca.initiate_device_flow(scopes=["User.Read"])
    session.post(f"{URL}/admin/device/approve", json={"user_code": flow["user_code"], "user": "bob"})
    result = pca.acquire_token_by_device_flow(flow)
    decoded = expect_token("cp1: a CAE token for Graph", result, aud=GRAPH, xms_cc=["cp1"], oid=bob["object_id"])
    if not decoded:
        return
    lifetime = decoded["exp"] - decoded["iat"]
    check("the CAE token has the long CAE lifetime", lifetime == config["cae_token_lifetime_secs"], lifetime)
    bearer = lambda token: {"Authorization": f"Bearer {token}"}
    check("Graph accepts it", session.get(me_url, headers=bearer(result["access_token"])).status_code == 200)
    event = session.post(f"{URL}/admin/revoke", json={"user": "bob", "cae": True})
    check("a critical event for the user", event.status_code == 200, event.text)
    challenged = session.get(me_url, headers=bearer(result["access_token"]))
    header = challenged.headers.get("WWW-Authenticate", "")
    check(
        "Graph answers the older CAE token with insufficient_claims",
        challenged.status_code == 401 and 'error="insufficient_claims"' in header,
        f"{challenged.status_code} {header}",
    )
    encoded = header.split('claims="')[1].split('"')[0] if 'claims="' in header else ""
    claims = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    nbf = json.loads(claims)["access_token"]["nbf"]["value"]
    account = pca.get_accounts(username=bob["upn"])[0]
    before = grant_count("refresh_token")
    renewed = pca.acquire_token_silent(["User.Read"], account=account, claims_challenge=claims)
    fresh = expect_token("acquire_token_silent(claims_challenge) gets a new CAE token", renewed or {}, aud=GRAPH, xms_cc=["cp1"], oid=bob["object_id"])
    check("past MSAL's cache: one refresh with the claims", grant_count("refresh_token") == before + 1, counters())
    if fresh:
        check("the new token is issued after the event", fresh["nbf"] >= int(nbf), (fresh["nbf"], nbf))
        check("Graph accepts the new token", session.get(me_url, headers=bearer(renewed["access_token"])).status_code == 200)



MI_VARIABLES = (
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
)


def host_environment(**variables):
    """Leaves exactly one managed identity host's variables in the environment, where
    MSAL reads them on every call."""
    for name in MI_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(variables)


def mi_token(identity, resource):
    return msal.ManagedIdentityClient(identity, http_client=session).acquire_token_for_client(
        resource=resource
    )


def expect_host(name, source):
    found = msal.managed_identity.get_managed_identity_source()
    check(f"{name}: MSAL finds this host from its environment", found is source, found)


def mi_counter(endpoint):
    return counters()["endpoints"].get(endpoint, 0)


SYSTEM = identities["system-assigned"]
USER = identities["user-assigned"]
MI = msal.managed_identity


def managed_identity_imds():
    host_environment(AZURE_POD_IDENTITY_AUTHORITY_HOST=URL)
    expect_host("IMDS", MI.DEFAULT_TO_VM)
    expect_token(
        "IMDS (AZURE_POD_IDENTITY_AUTHORITY_HOST), system-assigned",
        mi_token(msal.SystemAssignedManagedIdentity(), GRAPH),
        aud=GRAPH,
        oid=SYSTEM["object_id"],
        appid=SYSTEM["client_id"],
        appidacr="2",
    )
    for how, kwargs in (
        ("client id", {"client_id": USER["client_id"]}),
        ("object id", {"object_id": USER["object_id"]}),
        ("resource id (msi_res_id)", {"resource_id": USER["resource_id"]}),
    ):
        expect_token(
            f"IMDS, user-assigned by {how}",
            mi_token(msal.UserAssignedManagedIdentity(**kwargs), STORAGE),
            aud=STORAGE,
            oid=USER["object_id"],
        )


def managed_identity_app_service():
    host_environment(IDENTITY_ENDPOINT=f"{URL}/msi/token", IDENTITY_HEADER=config["identity_header"])
    expect_host("App Service", MI.APP_SERVICE)
    expect_token(
        "App Service (X-IDENTITY-HEADER, 2019-08-01), system-assigned",
        mi_token(msal.SystemAssignedManagedIdentity(), GRAPH),
        aud=GRAPH,
        oid=SYSTEM["object_id"],
    )
    expect_token(
        "App Service, user-assigned by resource id (mi_res_id)",
        mi_token(msal.UserAssignedManagedIdentity(resource_id=USER["resource_id"]), STORAGE),
        aud=STORAGE,
        oid=USER["object_id"],
        appid=USER["client_id"],
    )


def managed_identity_service_fabric():
    host_environment(
        IDENTITY_ENDPOINT=ready["service_fabric_endpoint"],
        IDENTITY_HEADER=config["identity_header"],
        IDENTITY_SERVER_THUMBPRINT=ready["service_fabric_thumbprint"],
    )
    expect_host("Service Fabric", MI.SERVICE_FABRIC)
    expect_token(
        "Service Fabric (https pinned by IDENTITY_SERVER_THUMBPRINT, Secret, 2019-07-01-preview)",
        mi_token(msal.SystemAssignedManagedIdentity(), GRAPH),
        aud=GRAPH,
        oid=SYSTEM["object_id"],
    )
    before = mi_counter("service_fabric")
    os.environ["IDENTITY_SERVER_THUMBPRINT"] = "00" * 20
    try:
        outcome = mi_token(msal.SystemAssignedManagedIdentity(), STORAGE)
    except Exception as error:  # MSAL refuses the certificate: what must happen
        outcome = error
    check(
        "Service Fabric: MSAL refuses the emulator's certificate under another thumbprint",
        isinstance(outcome, Exception) and mi_counter("service_fabric") == before,
        outcome,
    )


def managed_identity_machine_learning():
    host_environment(MSI_ENDPOINT=f"{URL}/msi/auth", MSI_SECRET=config["msi_secret"])
    expect_host("Machine Learning", MI.MACHINE_LEARNING)
    expect_token(
        "Machine Learning (secret, 2017-09-01), system-assigned",
        mi_token(msal.SystemAssignedManagedIdentity(), GRAPH),
        aud=GRAPH,
        oid=SYSTEM["object_id"],
    )
    expect_token(
        "Machine Learning, user-assigned by client id (clientid)",
        mi_token(msal.UserAssignedManagedIdentity(client_id=USER["client_id"]), STORAGE),
        aud=STORAGE,
        oid=USER["object_id"],
    )


def managed_identity_azure_arc():
    host_environment(
        IDENTITY_ENDPOINT=f"{URL}/arc/metadata/identity/oauth2/token", IMDS_ENDPOINT=URL
    )
    expect_host("Azure Arc", MI.AZURE_ARC)
    # MSAL reads key files from the agent's fixed directory (/var/opt/azcmagent/tokens);
    # the emulator's agent writes them under its state dir.
    MI._supported_arc_platforms_and_their_prefixes["linux"] = ready["arc_token_dir"]
    before = mi_counter("arc")
    expect_token(
        "Azure Arc (401 challenge, key file, Authorization: Basic), system-assigned",
        mi_token(msal.SystemAssignedManagedIdentity(), GRAPH),
        aud=GRAPH,
        oid=SYSTEM["object_id"],
    )
    check("Azure Arc: the challenge, then the answer", mi_counter("arc") == before + 2, counters())


# MSAL Python 1.39's ManagedIdentityClient has no Cloud Shell: in Cloud Shell it points
# to PublicClientApplication.acquire_token_interactive(prompt="none"), which posts to the
# fixed http://localhost:50342, not to an endpoint the environment names.
MANAGED_IDENTITY_HOSTS = (
    managed_identity_imds,
    managed_identity_app_service,
    managed_identity_service_fabric,
    managed_identity_machine_learning,
    managed_identity_azure_arc,
)


for section in (app_tokens, user_tokens, agent_chain, cae, *MANAGED_IDENTITY_HOSTS):
    try:
        section()
    except Exception as error:  # report and go on: one broken section must not hide others
        check(section.__name__, False, repr(error))

print(f"{len(passed)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
