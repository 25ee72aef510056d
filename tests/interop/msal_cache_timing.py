"""Times MSAL Python's cache deserialize and serialize on a cache file, and a silent
lookup, for comparison with tokenhop's criterion benches on the same file.

    python msal_cache_timing.py CACHE.json [REPEATS]

Prints one JSON object: {"entries", "deserialize_s", "serialize_s", "hit_exact_s", "hit_superset_s"}.
"""
import json
import sys
import time

import msal

path = sys.argv[1]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
text = open(path).read()

def best(fn):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)

# Each load goes into a new cache and the one before is freed outside the timing:
# freeing a cache is not part of the figure (nor is it in tokenhop's). The best run is
# the one with no other cache alive (more live objects make Python's collector slower).
cache = None
def load():
    global cache
    cache = None
    start = time.perf_counter()
    fresh = msal.SerializableTokenCache()
    fresh.deserialize(text)
    elapsed = time.perf_counter() - start
    cache = fresh
    return elapsed
deserialize = min(load() for _ in range(repeats))
serialize = best(lambda: cache.serialize())
entries = sum(len(v) for v in json.loads(text).values() if isinstance(v, dict))

# The same probe as tokenhop's bench: the middle user, exact and superset scopes.
accounts = sorted({e["home_account_id"] for e in cache._cache.get("Account", {}).values()})
home = accounts[len(accounts) // 2]
query = {"client_id": "51f81489-12ee-4a9e-aaae-a2591f45987d", "environment": "login.microsoftonline.com",
         "realm": "7f1c3a8e-2b4d-4e6f-9a0b-1c2d3e4f5a6b", "home_account_id": home}

def lookup(scopes):
    def run():
        for entry in cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN, target=scopes, query=query):
            return entry
        raise SystemExit("no hit for %s" % scopes)
    return run

exact = best(lookup(["Mail.Read", "Mail.Send", "offline_access", "openid", "profile"]))
superset = best(lookup(["Mail.Send"]))
print(json.dumps({"entries": entries, "deserialize_s": deserialize, "serialize_s": serialize,
                  "hit_exact_s": exact, "hit_superset_s": superset}))
