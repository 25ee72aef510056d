"""MSAL Python 1.39 and tokenhop share a token cache, both ways.

    python cache_roundtrip.py read-tokenhop FILE      MSAL reads a cache tokenhop wrote
    python cache_roundtrip.py write-msal FILE ANSWERS MSAL writes a cache and its answers

No network: MSAL gets an in-process fake HTTP client that answers discovery and
queued token responses, and fails the run if MSAL tries to go to the network when a
cache hit is expected.
"""
import base64
import json
import sys
import time

import msal

TENANT = "7f1c3a8e-2b4d-4e6f-9a0b-1c2d3e4f5a6b"
AUTHORITY = "https://login.microsoftonline.com/" + TENANT
PUBLIC = "51f81489-12ee-4a9e-aaae-a2591f45987d"
CONFIDENTIAL = "a0e4b1c2-3d4e-4f50-8a6b-7c8d9e0f1a2b"
FAILURES = []


def check(label, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + label + ("" if ok else "  " + detail))
    if not ok:
        FAILURES.append(label)


def b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


class NetworkNeeded(Exception):
    pass


class Resp:
    def __init__(self, body):
        self.status_code, self.text, self.headers = 200, json.dumps(body), {}

    def raise_for_status(self):
        pass


class FakeIdp:
    def __init__(self):
        self.queue = []

    def get(self, url, **kw):
        if "openid-configuration" in url:
            base = url.split("/v2.0/.well-known")[0]
            return Resp({"authorization_endpoint": base + "/oauth2/v2.0/authorize",
                         "token_endpoint": base + "/oauth2/v2.0/token",
                         "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
                         "issuer": AUTHORITY + "/v2.0"})
        raise NetworkNeeded(url)

    def post(self, url, **kw):
        if not self.queue:
            raise NetworkNeeded(url)
        return Resp(self.queue.pop(0))

    def close(self):
        pass


def public(cache, idp):
    return msal.PublicClientApplication(PUBLIC, authority=AUTHORITY, token_cache=cache, http_client=idp,
                                        instance_discovery=False)


def confidential(cache, idp):
    return msal.ConfidentialClientApplication(CONFIDENTIAL, client_credential="unused", authority=AUTHORITY,
                                              token_cache=cache, http_client=idp, instance_discovery=False)


def read_tokenhop(path):
    cache = msal.SerializableTokenCache()
    cache.deserialize(open(path).read())
    idp = FakeIdp()
    app = public(cache, idp)
    accounts = app.get_accounts()
    check("MSAL lists the account tokenhop wrote", [a["username"] for a in accounts] == ["carol@contoso.example"],
          repr(accounts))
    for scopes in (["User.Read"], ["Mail.Read", "User.Read"]):
        try:
            r = app.acquire_token_silent(scopes, accounts[0]) if accounts else None
            check("MSAL silent hit for %s" % scopes, r is not None and r["access_token"] == "at-carol-tokenhop", repr(r))
        except NetworkNeeded as e:
            check("MSAL silent hit for %s" % scopes, False, "went to the network: %s" % e)
    conf = confidential(cache, idp)
    for scope, fmi, expected in (("https://graph.microsoft.com/.default", None, "at-app-tokenhop"),
                                 ("api://AzureADTokenExchange/.default", "agent-7", "at-fmi-tokenhop")):
        try:
            r = conf.acquire_token_for_client([scope], fmi_path=fmi)
            check("MSAL app-token hit for %s fmi_path=%s" % (scope, fmi), r.get("access_token") == expected, repr(r))
        except NetworkNeeded as e:
            check("MSAL app-token hit for %s fmi_path=%s" % (scope, fmi), False, "went to the network: %s" % e)


def write_msal(path, answers_path):
    cache = msal.SerializableTokenCache()
    idp = FakeIdp()
    app = public(cache, idp)
    oid = "44444444-aaaa-4bbb-8ccc-000000000004"
    now = int(time.time())
    idp.queue.append({"token_type": "Bearer", "scope": "Files.Read Sites.Read.All openid profile", "expires_in": 36000,
                      "access_token": "at-dave-msal", "refresh_token": "rt-dave-msal",
                      "id_token": "%s.%s.sig" % (b64({"alg": "RS256"}), b64({"oid": oid, "sub": "s", "tid": TENANT,
                                                                               "preferred_username": "dave@contoso.example",
                                                                               "aud": PUBLIC, "iat": now, "exp": now + 3600})),
                      "client_info": b64({"uid": oid, "utid": TENANT})})
    r = app.acquire_token_by_authorization_code("code", ["Files.Read", "Sites.Read.All"],
                                                redirect_uri="http://localhost:8400")
    check("MSAL signed dave in (fake IdP)", "access_token" in r, repr(r))
    conf = confidential(cache, idp)
    idp.queue.append({"token_type": "Bearer", "expires_in": 36000, "access_token": "at-app-msal"})
    conf.acquire_token_for_client(["https://storage.azure.com/.default"])
    idp.queue.append({"token_type": "Bearer", "expires_in": 36000, "access_token": "at-fmi-msal"})
    conf.acquire_token_for_client(["api://AzureADTokenExchange/.default"], fmi_path="agent-9")
    open(path, "w").write(cache.serialize())

    account = app.get_accounts()[0]
    answers = []
    for scopes in (["Files.Read"], ["Sites.Read.All", "Files.Read"], ["Mail.Read"], ["files.read"]):
        try:
            got = app.acquire_token_silent(scopes, account)
            result = "cache:" + got["access_token"]
        except NetworkNeeded:
            result = "network"
        answers.append({"client_id": PUBLIC, "account": account["home_account_id"], "scopes": scopes,
                        "fmi_path": None, "result": result})
    for scope, fmi in (("https://storage.azure.com/.default", None), ("api://AzureADTokenExchange/.default", "agent-9"),
                       ("api://AzureADTokenExchange/.default", "agent-10"), ("api://AzureADTokenExchange/.default", None)):
        try:
            result = "cache:" + conf.acquire_token_for_client([scope], fmi_path=fmi)["access_token"]
        except NetworkNeeded:
            result = "network"
        answers.append({"client_id": CONFIDENTIAL, "account": None, "scopes": [scope], "fmi_path": fmi, "result": result})
    check("MSAL's own answers include hits and misses",
          {a["result"].split(":")[0] for a in answers} == {"cache", "network"}, repr(answers))
    json.dump(answers, open(answers_path, "w"), indent=2)
    print("MSAL %s wrote %s with %d queries to check" % (msal.__version__, path, len(answers)))


if __name__ == "__main__":
    if sys.argv[1] == "read-tokenhop":
        read_tokenhop(sys.argv[2])
    elif sys.argv[1] == "write-msal":
        write_msal(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
    print("%d checks failed" % len(FAILURES) if FAILURES else "all checks passed")
    sys.exit(1 if FAILURES else 0)
