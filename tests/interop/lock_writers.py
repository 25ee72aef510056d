"""A writer of `cargo xtask ci`'s interop-lock step: msal-extensions' PersistedTokenCache
(the cache MSAL Python apps and the Azure CLI share a file through) writes 50 distinct
app tokens to one cache file, each `add` under msal-extensions' lock, while tokenhop
processes and other Python processes write to the same file.

    python lock_writers.py FILE NAME FLAVOUR START_MS

FLAVOUR picks msal-extensions' lock: `filelock` (1.3's default: the exclusive creation
of FILE.lockfile) or `portalocker` (its extra, and every version before 1.3: the same
file plus an OS lock on it). START_MS is when to start, in epoch milliseconds, so that
all writers start at once. Needs msal 1.39 and msal-extensions 1.3.1 (portalocker 3.2
for that flavour); no network.
"""
import sys
import time

import msal_extensions
from msal_extensions import token_cache

WRITES = 50


def main():
    path, name, flavour, start_ms = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if flavour == "filelock":
        from msal_extensions.filelock import CrossPlatLock
    elif flavour == "portalocker":
        from msal_extensions.cache_lock import CrossPlatLock
    else:
        sys.exit("FLAVOUR is filelock or portalocker, not " + flavour)
    # PersistedTokenCache takes the lock through this module's name.
    token_cache.CrossPlatLock = CrossPlatLock
    cache = msal_extensions.PersistedTokenCache(msal_extensions.FilePersistence(path))
    time.sleep(max(0.0, start_ms / 1000 - time.time()))
    for i in range(WRITES):
        cache.add({
            "client_id": "client-%s-%d" % (name, i),
            "scope": ["https://graph.microsoft.com/.default"],
            "token_endpoint": "https://login.microsoftonline.com/7f1c3a8e-2b4d-4e6f-9a0b-1c2d3e4f5a6b/oauth2/v2.0/token",
            "response": {"access_token": "at-%s-%d" % (name, i), "expires_in": 3600, "token_type": "Bearer"},
            "params": {},
            "data": {},
            "grant_type": "client_credentials",
        })
    print("msal-extensions writer %s (%s lock) wrote %d tokens" % (name, flavour, WRITES))


if __name__ == "__main__":
    main()
