"""The MSAL Python 1.39 half of `cargo xtask bench`'s network cases, against a running
emulator (same work as the `bench_clients` example):

    msal_bench.py concurrent READY_JSON CONFIG_JSON CALLERS
    msal_bench.py throughput READY_JSON CONFIG_JSON SECONDS CONCURRENCY
    msal_bench.py warm-up READY_JSON CONFIG_JSON CACHE_FILE    (gets a token into CACHE_FILE)
    msal_bench.py warm-cli READY_JSON CONFIG_JSON CACHE_FILE   (one process: a cache hit)
    msal_bench.py azure-cli-login READY_JSON CONFIG_JSON DIR   (`az login`'s files in DIR)
    msal_bench.py azure-cli-warm READY_JSON CONFIG_JSON DIR    (as the CLI: a cache hit)
    msal_bench.py fleet READY_JSON CONFIG_JSON PROCESSES CALLERS
    msal_bench.py hit-latency READY_JSON CONFIG_JSON CALLS

`concurrent` prints the emulator's token request count for that many threads asking
one app at once on a cold cache; `throughput` prints requests per second with the cache
bypassed (a claims challenge makes MSAL skip it) and this process's CPU milliseconds per
request. `fleet` prints the token requests PROCESSES processes of `concurrent CALLERS`
make between them, each with its own cache (MSAL shares no refresh across processes);
`hit-latency` prints the p50 and p99 of CALLS cache hits in microseconds.
"""
import json
import resource
import subprocess
import sys
import threading
import time

import msal
import requests

mode, ready, config = sys.argv[1], json.loads(sys.argv[2]), json.load(open(sys.argv[3]))
session = requests.Session()
session.verify = ready["ca_cert"]
session.trust_env = False
app = next(a for a in config["apps"] if a["name"] == "confidential-secret")
SCOPES = ["https://graph.microsoft.com/.default"]


def client(cache=None):
    return msal.ConfidentialClientApplication(
        app["client_id"],
        client_credential=app["secret"],
        authority=f"{ready['url']}/{ready['tenant_id']}",
        http_client=session,
        instance_discovery=False,
        token_cache=cache,
    )


def token_requests():
    return session.get(f"{ready['url']}/admin/counters").json()["endpoints"].get("token", 0)


if mode == "concurrent":
    cca = client()
    before = token_requests()
    threads = [threading.Thread(target=cca.acquire_token_for_client, args=(SCOPES,)) for _ in range(int(sys.argv[4]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(token_requests() - before)
elif mode == "throughput":
    seconds, concurrency = float(sys.argv[4]), int(sys.argv[5])
    cca = client()
    deadline = time.perf_counter() + seconds
    counts = [0] * concurrency

    def work(i):
        while time.perf_counter() < deadline:
            result = cca.acquire_token_for_client(SCOPES, claims_challenge='{"access_token": {"xms_cc": {"values": ["cp1"]}}}')
            assert "access_token" in result, result
            counts[i] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000 / max(sum(counts), 1)
    print("%.1f %.4f" % (sum(counts) / (time.perf_counter() - started), cpu_ms))
elif mode == "warm-up":
    cache = msal.SerializableTokenCache()
    result = client(cache).acquire_token_for_client(SCOPES)
    assert "access_token" in result, result
    with open(sys.argv[4], "w") as out:
        out.write(cache.serialize())
elif mode == "warm-cli":
    cache = msal.SerializableTokenCache()
    cache.deserialize(open(sys.argv[4]).read())
    result = client(cache).acquire_token_for_client(SCOPES)
    assert result.get("token_source") == "cache", result
    print(result["access_token"])
elif mode in ("azure-cli-login", "azure-cli-warm"):
    # The floor of any `az account get-access-token`: a Python process that loads MSAL
    # and answers from the Azure CLI's cache as the CLI's client id.
    import os

    directory, arm = sys.argv[4], ["https://management.core.windows.net//.default"]
    path = os.path.join(directory, "msal_token_cache.json")
    cache = msal.SerializableTokenCache()
    if mode == "azure-cli-warm":
        cache.deserialize(open(path).read())
    pca = msal.PublicClientApplication(
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        authority=f"{ready['url']}/{ready['tenant_id']}",
        http_client=session,
        instance_discovery=False,
        token_cache=cache,
    )
    if mode == "azure-cli-warm":
        result = pca.acquire_token_silent(arm, account=pca.get_accounts()[0])
        assert result and result.get("token_source") == "cache", result
        print(result["access_token"])
    else:
        flow = pca.initiate_device_flow(scopes=arm)
        session.post(f"{ready['url']}/admin/device/approve", json={"user_code": flow["user_code"], "user": "alice", "after_polls": 0})
        result = pca.acquire_token_by_device_flow(flow)
        assert "access_token" in result, result
        os.makedirs(directory, exist_ok=True)
        with open(path, "w") as out:
            out.write(cache.serialize())
        subscription = {"id": "11111111-0000-4000-8000-000000000001", "name": "Bench", "state": "Enabled",
                        "isDefault": True, "tenantId": ready["tenant_id"], "environmentName": "Emulator",
                        "user": {"name": result["id_token_claims"]["preferred_username"], "type": "user"}}
        with open(os.path.join(directory, "azureProfile.json"), "w", encoding="utf-8-sig") as out:
            json.dump({"installationId": "bench", "subscriptions": [subscription]}, out)
        with open(os.path.join(directory, "clouds.config"), "w") as out:
            out.write(f"[Emulator]\nendpoint_active_directory = {ready['url']}\n")
elif mode == "fleet":
    processes, callers = int(sys.argv[4]), sys.argv[5]
    before = token_requests()
    fleet = [
        subprocess.Popen([sys.executable, __file__, "concurrent", sys.argv[2], sys.argv[3], callers], stdout=subprocess.DEVNULL)
        for _ in range(processes)
    ]
    assert all(process.wait() == 0 for process in fleet)
    print(token_requests() - before)
elif mode == "hit-latency":
    cca = client()
    assert "access_token" in cca.acquire_token_for_client(SCOPES)
    micros = []
    for _ in range(int(sys.argv[4])):
        started = time.perf_counter()
        result = cca.acquire_token_for_client(SCOPES)
        micros.append((time.perf_counter() - started) * 1e6)
        assert result.get("token_source") == "cache", result
    micros.sort()
    print("%.2f %.2f" % (micros[len(micros) // 2], micros[min(int(len(micros) * 0.99), len(micros) - 1)]))
else:
    raise SystemExit("unknown mode " + mode)
