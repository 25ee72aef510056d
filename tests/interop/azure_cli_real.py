"""The real Azure CLI signs in against the emulator, and tokenhop reuses that sign-in.

`az login --use-device-code` runs against the emulator registered as a custom cloud
(`clouds.config`; `core.instance_discovery=false`, as for Azure Stack; the emulator's CA
in `REQUESTS_CA_BUNDLE`), the device code approved through the emulator's admin API.
Then: `tokenhop token --flow azure-cli` answers ARM from the CLI's cache with no token
request; another resource takes exactly one refresh, which `az account
get-access-token` then returns from the cache (the same token, no request); `az` lists
the subscription the emulator's ARM-like resource gave it.

Run by `cargo xtask ci` (step interop-az). Usage:

    azure_cli_real.py READY_JSON AZ_BIN TOKENHOP_BIN WORK_DIR
"""

import json
import os
import subprocess
import sys
import threading
import time

import requests  # the Azure CLI's venv has it

ready = json.loads(sys.argv[1])
AZ, TOKENHOP, WORK = sys.argv[2], sys.argv[3], sys.argv[4]
URL, TENANT, CA = ready["url"], ready["tenant_id"], ready["ca_cert"]
ARM = "https://management.core.windows.net//.default"
GRAPH = "https://graph.microsoft.com"
CONFIG_DIR = os.path.join(WORK, "azure")

session = requests.Session()
session.verify = CA
session.trust_env = False
failures = []
CHECKS = [0]


def check(name, condition, detail=""):
    CHECKS[0] += 1
    if not condition:
        failures.append(name)
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {detail}"))


def token_requests():
    return session.get(f"{URL}/admin/counters").json()["endpoints"].get("token", 0)


ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": WORK,
    "AZURE_CONFIG_DIR": CONFIG_DIR,
    "REQUESTS_CA_BUNDLE": CA,
    "AZURE_CORE_COLLECT_TELEMETRY": "no",
    "AZURE_CORE_NO_COLOR": "1",
}


def az(*args, timeout=120):
    return subprocess.run([AZ, *args], env=ENV, capture_output=True, text=True, timeout=timeout)


def tokenhop(*args):
    return subprocess.run(
        [TOKENHOP, "--ca-cert", CA, "token", "--flow", "azure-cli", *args],
        env=ENV, capture_output=True, text=True, timeout=60,
    )


os.makedirs(CONFIG_DIR, exist_ok=True)
with open(os.path.join(CONFIG_DIR, "clouds.config"), "w") as f:
    f.write(
        "[Emulator]\n"
        f"endpoint_active_directory = {URL}\n"
        "endpoint_active_directory_resource_id = https://management.core.windows.net/\n"
        f"endpoint_resource_manager = {URL}/arm/\n"
        "endpoint_active_directory_graph_resource_id = https://graph.windows.net/\n"
        "endpoint_management = https://management.core.windows.net/\n"
        f"endpoint_microsoft_graph_resource_id = {GRAPH}/\n"
    )
for args in (["config", "set", "core.instance_discovery=false", "--only-show-errors"],
             ["cloud", "set", "--name", "Emulator", "--only-show-errors"]):
    done = az(*args)
    check("az " + " ".join(args[:2]), done.returncode == 0, done.stderr[-400:])


def approve_when_asked():
    # The device code exists once az has printed its message; approving the latest
    # pending one as alice is what a user at /devicelogin would do.
    for _ in range(100):
        time.sleep(0.2)
        answer = session.post(f"{URL}/admin/device/approve", json={"user": "alice"})
        if answer.status_code == 200:
            return


threading.Thread(target=approve_when_asked, daemon=True).start()
login = az("login", "--use-device-code", "--tenant", TENANT, "--output", "json")
accounts = json.loads(login.stdout or "[]") if login.returncode == 0 else []
check("az login --use-device-code against the emulator", login.returncode == 0 and accounts, login.stderr[-600:])

before = token_requests()
arm = tokenhop("--scope", ARM)
check("tokenhop answers ARM from az login's cache with no request",
      arm.returncode == 0 and token_requests() == before, arm.stderr[-400:])

before = token_requests()
graph = tokenhop("--scope", f"{GRAPH}/.default")
check("tokenhop gets Graph by the CLI's refresh token: exactly one request",
      graph.returncode == 0 and token_requests() == before + 1, graph.stderr[-400:])

before = token_requests()
shown = az("account", "get-access-token", "--resource", GRAPH, "--output", "json")
token = json.loads(shown.stdout or "{}").get("accessToken") if shown.returncode == 0 else None
check("az account get-access-token returns tokenhop's token from the cache, no request",
      token == graph.stdout.strip() and token_requests() == before, shown.stderr[-400:])

listed = az("account", "list", "--all", "--output", "json")
names = [s["name"] for s in json.loads(listed.stdout or "[]")] if listed.returncode == 0 else []
check("az lists the emulator's subscription of the tenant it signed in to",
      "Contoso Development" in names, f"{names} {listed.stderr[-300:]}")

print(f"{CHECKS[0] - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
