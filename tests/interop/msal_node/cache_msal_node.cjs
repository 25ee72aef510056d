// Token caches shared between msal-node and tokenhop, both ways, against the
// emulator: msal-node's serialized cache (`getTokenCache().serialize()`) and
// tokenhop's cache file hold the same unified schema, so each reads what the other
// wrote and answers silently. The emulator's counters show that no silent answer
// made a token request.
//
// Run by `cargo xtask ci` (step interop-node). Usage:
//
//     node cache_msal_node.cjs READY_JSON CONFIG_JSON TOKENHOP_BINARY WORK_DIR
//
// tokenhop's side is the `tokenhop` CLI, as a user runs it. Exits non-zero on any
// failure.
//
// The cache's `environment` is the authority's host. msal-node writes it with the port
// (`127.0.0.1:PORT`), tokenhop, MSAL Python and MSAL.NET without (`127.0.0.1`), so
// against an authority on a port other than 443 the two never find each other's
// entries. Entra is on 443; so that this test sees the same, msal-node is given the
// emulator's authority without its port and a network client that delivers requests
// for that host to the emulator's port, as a reverse proxy on 443 would.

"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { spawn } = require("node:child_process");

const msal = require("@azure/msal-node");

const { GRAPH, Tally, approveDeviceCode, emulatorFromArgs, expectToken, tokenRequests } = require("./common.cjs");

const emulator = emulatorFromArgs(process.argv.slice(2));
const [tokenhopBinary, workDir] = process.argv.slice(4);
const tally = new Tally();

const publicApp = emulator.apps["public-client"];
const secretApp = emulator.apps["confidential-secret"];
const alice = emulator.users.alice;
const APP_SCOPE = `${GRAPH}/.default`;

const emulatorUrl = new URL(emulator.url);
/** The emulator's authority as if it were served on 443. */
const portlessAuthority = `https://${emulatorUrl.hostname}/${emulator.tenant}`;

/** msal-node's network client: fetch, with requests for the port-less host sent to the emulator. */
const networkClient = {
  async send(url, options, method) {
    const target = new URL(url);
    if (target.hostname === emulatorUrl.hostname && target.port === "") {
      target.port = emulatorUrl.port;
    }
    const response = await fetch(target, { method, headers: options && options.headers, body: options && options.body });
    const text = await response.text();
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers.entries()),
      body: text ? JSON.parse(text) : {},
    };
  },
  sendGetRequestAsync(url, options) {
    return this.send(url, options, "GET");
  },
  sendPostRequestAsync(url, options) {
    return this.send(url, options, "POST");
  },
};

function auth(clientId, credentials) {
  return {
    auth: {
      clientId,
      authority: portlessAuthority,
      // The emulator's discovery document names its endpoints and issuer with the port.
      knownAuthorities: [emulatorUrl.hostname, emulator.host],
      ...credentials,
    },
    system: { networkClient },
  };
}

function file(name) {
  return path.join(workDir, name);
}

/** This process's environment with `extra`, without a tokenhop configuration file. */
function environment(extra) {
  const env = { ...process.env, ...extra };
  delete env.TOKENHOP_CONFIG;
  return env;
}

/** Runs `tokenhop` with `args` for `clientId` and the cache file `cache`; its JSON output. */
function tokenhop(clientId, cache, args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      tokenhopBinary,
      [
        "--authority",
        emulator.authority,
        "--client-id",
        clientId,
        "--cache",
        cache,
        "--ca-cert",
        path.join(emulator.stateDir, "ca.pem"),
        "--json",
        ...args,
      ],
      { env: environment(env), stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) {
        resolve(JSON.parse(stdout));
      } else {
        reject(new Error(`tokenhop ${args.join(" ")} exited with ${code}: ${stderr.trim()}`));
      }
    });
  });
}

async function msalNodeWritesTokenhopReads() {
  const pca = new msal.PublicClientApplication(auth(publicApp.client_id, {}));
  const user = await pca.acquireTokenByDeviceCode({
    scopes: ["User.Read"],
    deviceCodeCallback: (response) => approveDeviceCode(emulator, response.userCode, "alice", 0),
  });
  await expectToken(tally, emulator, "msal-node signs alice in (device code)", user.accessToken, {
    oid: alice.object_id,
    appid: publicApp.client_id,
  });
  const cca = new msal.ConfidentialClientApplication(auth(secretApp.client_id, { clientSecret: secretApp.secret }));
  const app = await cca.acquireTokenByClientCredential({ scopes: [APP_SCOPE] });
  await expectToken(tally, emulator, "msal-node gets an app token (client credentials)", app.accessToken, {
    appid: secretApp.client_id,
    idtyp: "app",
  });
  const userCache = file("msal-node-user-cache.json");
  const appCache = file("msal-node-app-cache.json");
  fs.writeFileSync(userCache, pca.getTokenCache().serialize());
  fs.writeFileSync(appCache, cca.getTokenCache().serialize());

  const before = await tokenRequests(emulator);
  const accounts = await tokenhop(publicApp.client_id, userCache, ["accounts"]);
  tally.check(
    "tokenhop lists the account msal-node cached",
    accounts.length === 1 && accounts[0].username === alice.upn,
    accounts,
  );
  const silent = await tokenhop(publicApp.client_id, userCache, ["token", "--flow", "silent", "--scope", "User.Read"]);
  tally.check(
    "tokenhop answers silently with msal-node's user token",
    silent.access_token === user.accessToken && silent.source === "cache",
    { source: silent.source, same: silent.access_token === user.accessToken },
  );
  const appToken = await tokenhop(
    secretApp.client_id,
    appCache,
    ["token", "--flow", "client-secret", "--scope", APP_SCOPE],
    { TOKENHOP_CLIENT_SECRET: secretApp.secret },
  );
  tally.check(
    "tokenhop answers with msal-node's app token",
    appToken.access_token === app.accessToken && appToken.source === "cache",
    { source: appToken.source, same: appToken.access_token === app.accessToken },
  );
  const after = await tokenRequests(emulator);
  tally.check("tokenhop's answers from msal-node's cache made no token request", after.total === before.total, {
    before,
    after,
  });
}

async function tokenhopWritesMsalNodeReads() {
  const userCache = file("tokenhop-user-cache.json");
  const appCache = file("tokenhop-app-cache.json");
  // The user approves at the verification page: here, the admin API does, for the
  // latest pending code.
  const [signedIn] = await Promise.all([
    tokenhop(publicApp.client_id, userCache, ["token", "--flow", "device-code", "--scope", "User.Read"]),
    approveDeviceCode(emulator, null, "alice", 0),
  ]);
  await expectToken(tally, emulator, "tokenhop signs alice in (device code)", signedIn.access_token, {
    oid: alice.object_id,
    appid: publicApp.client_id,
  });
  const app = await tokenhop(
    secretApp.client_id,
    appCache,
    ["token", "--flow", "client-secret", "--scope", APP_SCOPE],
    { TOKENHOP_CLIENT_SECRET: secretApp.secret },
  );
  await expectToken(tally, emulator, "tokenhop gets an app token (client credentials)", app.access_token, {
    appid: secretApp.client_id,
    idtyp: "app",
  });

  let before = await tokenRequests(emulator);
  const pca = new msal.PublicClientApplication(auth(publicApp.client_id, {}));
  pca.getTokenCache().deserialize(fs.readFileSync(userCache, "utf8"));
  const accounts = await pca.getTokenCache().getAllAccounts();
  tally.check(
    "msal-node finds the account tokenhop cached",
    accounts.length === 1 && accounts[0].username === alice.upn && accounts[0].tenantId === emulator.tenant,
    accounts,
  );
  if (accounts.length !== 1) {
    return;
  }
  const silent = await pca.acquireTokenSilent({ account: accounts[0], scopes: ["User.Read"] });
  tally.check(
    "msal-node's acquireTokenSilent answers with tokenhop's user token",
    silent.fromCache && silent.accessToken === signedIn.access_token,
    { fromCache: silent.fromCache, same: silent.accessToken === signedIn.access_token },
  );
  let after = await tokenRequests(emulator);
  tally.check("msal-node's answer from tokenhop's cache made no token request", after.total === before.total, {
    before,
    after,
  });

  // A known difference between Microsoft's libraries that one file cannot bridge:
  // tokenhop writes an app-only token's home_account_id as null, as MSAL Python writes
  // and needs it to find the token; msal-node finds only "" there. So msal-node asks
  // again, once. If tokenhop's cache ever writes "", this check says so.
  const cca = new msal.ConfidentialClientApplication(auth(secretApp.client_id, { clientSecret: secretApp.secret }));
  const written = JSON.parse(fs.readFileSync(appCache, "utf8"));
  const homeAccountIds = Object.values(written.AccessToken || {}).map((token) => token.home_account_id);
  cca.getTokenCache().deserialize(JSON.stringify(written));
  before = after;
  const appAgain = await cca.acquireTokenByClientCredential({ scopes: [APP_SCOPE] });
  after = await tokenRequests(emulator);
  tally.check(
    "known difference: msal-node does not take tokenhop's app-only token (home_account_id null, not \"\") and makes one request",
    homeAccountIds.length === 1 &&
      homeAccountIds[0] === null &&
      !appAgain.fromCache &&
      after.total === before.total + 1,
    { homeAccountIds, fromCache: appAgain.fromCache, before, after },
  );

  before = after;
  const refreshed = await pca.acquireTokenSilent({ account: accounts[0], scopes: ["User.Read"], forceRefresh: true });
  after = await tokenRequests(emulator);
  await expectToken(tally, emulator, "msal-node redeems the refresh token tokenhop cached", refreshed.accessToken, {
    oid: alice.object_id,
    appid: publicApp.client_id,
  });
  tally.check(
    "that is exactly one refresh token request",
    after.total === before.total + 1 &&
      (after.grants.refresh_token || 0) === (before.grants.refresh_token || 0) + 1,
    { before, after },
  );
}

tally.run([msalNodeWritesTokenhopReads, tokenhopWritesMsalNodeReads]);
