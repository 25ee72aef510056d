// msal-node (pinned in package.json) against the tokenhop emulator: every flow
// msal-node offers that the emulator plays, over TLS.
//
// Run by `cargo xtask ci` (step interop-node) against a freshly started
// `tokenhop-emulator serve --tls` whose configuration signs alice in at the authorize
// endpoint without a form (`auto_sign_in`). Usage:
//
//     node emulator_msal_node.cjs READY_JSON CONFIG_JSON flows [CHROMIUM]
//     node emulator_msal_node.cjs READY_JSON CONFIG_JSON managed-identity SOURCE
//
// `flows` covers client credentials (secret, certificate with SHA-256 and SHA-1
// thumbprints, an assertion callback), Agent ID (fmi_path, an assertion callback,
// user_fic), the device code approved through the admin API, acquireTokenSilent from
// the cache and with forceRefresh, on-behalf-of, and the authorization code with PKCE
// through headless Chromium when CHROMIUM names the browser. `managed-identity` covers
// the source (AppService or Imds) the environment selects, as msal-node decides it
// once per process. Every token's signature is checked against the emulator's JWKS
// and its claims compared. Exits non-zero on any failure.

"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");
const { spawn } = require("node:child_process");

const msal = require("@azure/msal-node");

const {
  EXCHANGE,
  GRAPH,
  STORAGE,
  Tally,
  approveDeviceCode,
  emulatorFromArgs,
  expectToken,
  tokenRequests,
} = require("./common.cjs");

const emulator = emulatorFromArgs(process.argv.slice(2));
const [mode, modeArgument] = process.argv.slice(4);
const tally = new Tally();

function auth(clientId, credentials) {
  return {
    auth: {
      clientId,
      authority: emulator.authority,
      knownAuthorities: [emulator.host],
      ...credentials,
    },
  };
}

function confidential(clientId, credentials) {
  return new msal.ConfidentialClientApplication(auth(clientId, credentials));
}

function stateFile(name) {
  return fs.readFileSync(path.join(emulator.stateDir, name), "utf8");
}

/** The certificate the emulator generated for `app`, as msal-node takes one. */
function certificateCredential(app, thumbprint) {
  const pem = stateFile(`${app}.cert.pem`);
  const certificate = new crypto.X509Certificate(pem);
  const hex = (fingerprint) => fingerprint.replaceAll(":", "");
  const thumbprints =
    thumbprint === "sha256"
      ? { thumbprintSha256: hex(certificate.fingerprint256) }
      : { thumbprint: hex(certificate.fingerprint) };
  return {
    clientCertificate: { ...thumbprints, privateKey: stateFile(`${app}.key.pem`), x5c: pem },
  };
}

/**
 * A PS256 client assertion for `clientId` signed here with node:crypto, not by
 * msal-node: what an assertion callback hands back.
 */
function signedAssertion(app, clientId, audience) {
  const certificate = new crypto.X509Certificate(stateFile(`${app}.cert.pem`));
  const x5t = crypto.createHash("sha256").update(certificate.raw).digest("base64url");
  const now = Math.floor(Date.now() / 1000);
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const signingInput = `${encode({ alg: "PS256", typ: "JWT", "x5t#S256": x5t })}.${encode({
    aud: audience,
    iss: clientId,
    sub: clientId,
    jti: crypto.randomUUID(),
    iat: now,
    nbf: now,
    exp: now + 300,
  })}`;
  const signature = crypto.sign("sha256", Buffer.from(signingInput), {
    key: stateFile(`${app}.key.pem`),
    padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
    saltLength: 32,
  });
  return `${signingInput}.${signature.toString("base64url")}`;
}

/** The AADSTS codes an msal-node error names. */
function aadstsCodes(error) {
  return [...String(error && error.errorMessage).matchAll(/AADSTS(\d+)/g)].map((m) => Number(m[1]));
}

async function appTokens() {
  const secretApp = emulator.apps["confidential-secret"];
  const cca = confidential(secretApp.client_id, { clientSecret: secretApp.secret });
  const request = { scopes: [`${GRAPH}/.default`] };
  const first = await cca.acquireTokenByClientCredential(request);
  await expectToken(tally, emulator, "client credentials with a secret", first.accessToken, {
    aud: GRAPH,
    appid: secretApp.client_id,
    idtyp: "app",
  });
  const before = await tokenRequests(emulator);
  const again = await cca.acquireTokenByClientCredential(request);
  const after = await tokenRequests(emulator);
  tally.check(
    "a second call is served from msal-node's cache (no token request)",
    again.fromCache && again.accessToken === first.accessToken && after.total === before.total,
    { fromCache: again.fromCache, before, after },
  );
  const refused = await confidential(secretApp.client_id, { clientSecret: "wrong-secret" })
    .acquireTokenByClientCredential(request)
    .then(() => null, (error) => error);
  tally.check(
    "a wrong secret is refused with invalid_client AADSTS7000215",
    refused && refused.errorCode === "invalid_client" && aadstsCodes(refused).includes(7000215),
    refused && { errorCode: refused.errorCode, errorMessage: refused.errorMessage },
  );

  const certApp = emulator.apps["confidential-cert"];
  for (const [thumbprint, signature] of [
    ["sha256", "PS256 with x5t#S256"],
    ["sha1", "RS256 with x5t"],
  ]) {
    const result = await confidential(
      certApp.client_id,
      certificateCredential("confidential-cert", thumbprint),
    ).acquireTokenByClientCredential({ scopes: [`${STORAGE}/.default`] });
    await expectToken(
      tally,
      emulator,
      `client credentials with msal-node's certificate assertion (${signature})`,
      result.accessToken,
      { aud: STORAGE, appid: certApp.client_id, idtyp: "app" },
    );
  }

  const audiences = [];
  const callbackApp = confidential(certApp.client_id, {
    clientAssertion: async (config) => {
      audiences.push(config.tokenEndpoint);
      return signedAssertion("confidential-cert", config.clientId, config.tokenEndpoint);
    },
  });
  const viaCallback = await callbackApp.acquireTokenByClientCredential({
    scopes: [`${GRAPH}/.default`],
  });
  await expectToken(
    tally,
    emulator,
    "client credentials with an assertion callback",
    viaCallback.accessToken,
    { aud: GRAPH, appid: certApp.client_id, idtyp: "app" },
  );
  tally.check(
    "the callback is told the token endpoint as the audience",
    audiences.length === 1 && audiences[0] === `${emulator.authority}/oauth2/v2.0/token`,
    audiences,
  );
}

async function agentChain() {
  const blueprint = emulator.apps["agent-blueprint"];
  const agent = emulator.agents["agent-identity"];
  const agentUser = emulator.users[agent.agent_user];
  const hop1 = await confidential(
    blueprint.client_id,
    certificateCredential("agent-blueprint", "sha256"),
  ).acquireTokenByClientCredential({ scopes: [`${EXCHANGE}/.default`], fmiPath: agent.client_id });
  const t1 = await expectToken(tally, emulator, "hop 1: the blueprint's token for the agent (fmiPath)", hop1.accessToken, {
    aud: EXCHANGE,
    azp: blueprint.client_id,
    sub: `/eid1/c/pub/t/${emulator.tenant}/a/${blueprint.client_id}/${agent.client_id}`,
  });
  if (!t1) {
    return;
  }
  const agentApp = confidential(agent.client_id, { clientAssertion: async () => hop1.accessToken });
  const hop2 = await agentApp.acquireTokenByClientCredential({ scopes: [`${EXCHANGE}/.default`] });
  await expectToken(tally, emulator, "hop 2: the agent identity's exchange token (T1 as assertion)", hop2.accessToken, {
    aud: EXCHANGE,
    azp: agent.client_id,
    xms_par_app_azp: blueprint.client_id,
  });
  const twoHop = await agentApp.acquireTokenByClientCredential({ scopes: [`${GRAPH}/.default`] });
  await expectToken(tally, emulator, "two-hop chain: an app token for Graph", twoHop.accessToken, {
    aud: GRAPH,
    appid: agent.client_id,
    idtyp: "app",
    xms_act_fct: "11",
  });
  for (const [how, user] of [
    ["object id", { userObjectId: agentUser.object_id }],
    ["UPN", { username: agentUser.upn }],
  ]) {
    const hop3 = await agentApp.acquireTokenByUserFederatedIdentityCredential({
      scopes: [`${GRAPH}/.default`],
      assertion: hop2.accessToken,
      ...user,
    });
    await expectToken(tally, emulator, `hop 3: user_fic gives the agent user a delegated token by ${how}`, hop3.accessToken, {
      aud: GRAPH,
      appid: agent.client_id,
      idtyp: "user",
      oid: agentUser.object_id,
      xms_sub_fct: "13",
      xms_par_app_azp: blueprint.client_id,
    });
  }
}

async function userTokens() {
  const publicApp = emulator.apps["public-client"];
  const alice = emulator.users.alice;
  const pca = new msal.PublicClientApplication(auth(publicApp.client_id, {}));
  let approved = Promise.resolve(false);
  const result = await pca.acquireTokenByDeviceCode({
    scopes: ["User.Read"],
    deviceCodeCallback: (response) => {
      approved = approveDeviceCode(emulator, response.userCode, "alice", 1);
    },
  });
  tally.check("the admin API approves the device code", await approved, "no 204 from /admin/device/approve");
  await expectToken(tally, emulator, "device code approved after a pending poll", result && result.accessToken, {
    aud: GRAPH,
    appid: publicApp.client_id,
    idtyp: "user",
    oid: alice.object_id,
    scp: "User.Read",
    upn: alice.upn,
    unique_name: alice.upn,
  });
  const idClaims = result.idTokenClaims || {};
  tally.check(
    "the id token names the user and the client",
    idClaims.aud === publicApp.client_id && idClaims.oid === alice.object_id,
    idClaims,
  );
  const accounts = await pca.getTokenCache().getAllAccounts();
  tally.check(
    "msal-node records the account",
    accounts.length === 1 && accounts[0].username === alice.upn,
    accounts,
  );
  if (accounts.length !== 1) {
    return;
  }
  const account = accounts[0];
  let before = await tokenRequests(emulator);
  const cached = await pca.acquireTokenSilent({ account, scopes: ["User.Read"] });
  let after = await tokenRequests(emulator);
  tally.check(
    "acquireTokenSilent answers from the cache (no token request)",
    cached.fromCache && cached.accessToken === result.accessToken && after.total === before.total,
    { fromCache: cached.fromCache, before, after },
  );
  before = after;
  const refreshed = await pca.acquireTokenSilent({ account, scopes: ["User.Read"], forceRefresh: true });
  after = await tokenRequests(emulator);
  await expectToken(tally, emulator, "acquireTokenSilent with forceRefresh gets a new token", refreshed.accessToken, {
    oid: alice.object_id,
    scp: "User.Read",
  });
  tally.check(
    "forceRefresh makes exactly one request, a refresh token grant",
    !refreshed.fromCache &&
      refreshed.accessToken !== result.accessToken &&
      after.total === before.total + 1 &&
      (after.grants.refresh_token || 0) === (before.grants.refresh_token || 0) + 1,
    { before, after },
  );

  const middle = emulator.apps["confidential-secret"];
  const api = `api://${middle.client_id}`;
  const forApi = await pca.acquireTokenSilent({ account, scopes: [`${api}/access_as_user`] });
  const incoming = await expectToken(tally, emulator, "a user token for the middle tier's API (refresh token, new resource)", forApi.accessToken, {
    aud: api,
    oid: alice.object_id,
  });
  if (!incoming) {
    return;
  }
  const obo = await confidential(middle.client_id, { clientSecret: middle.secret }).acquireTokenOnBehalfOf({
    oboAssertion: forApi.accessToken,
    scopes: [`${GRAPH}/User.Read`],
  });
  await expectToken(tally, emulator, "on-behalf-of: the middle tier gets a Graph token for the same user", obo.accessToken, {
    aud: GRAPH,
    appid: middle.client_id,
    idtyp: "user",
    oid: alice.object_id,
  });
}

/**
 * Opens `url` in headless Chromium (flags as tokenhop's own browser test uses them) and
 * returns the process. The emulator's certificate comes from a CA made at its start,
 * which this throwaway profile cannot be told to trust, hence --ignore-certificate-errors.
 */
function openChromium(chromium, url, profile) {
  return spawn(
    chromium,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--ignore-certificate-errors",
      `--user-data-dir=${profile}`,
      url,
    ],
    // Its own process group, so that `stopped` can end the helpers (zygote, renderer,
    // crashpad) with the browser: they outlive it by seconds and write into the profile.
    { stdio: "ignore", detached: true },
  );
}

/**
 * Whether a process of group `pgid` is still running (zombies excluded: in a container
 * whose init does not reap, orphaned helpers stay zombies forever but write nothing).
 */
function groupRunning(pgid) {
  let entries;
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited while we looked
    }
    // After the command name in parentheses: state, ppid, pgrp, ...
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z") return true;
  }
  return false;
}

/**
 * Ends a browser `openChromium` started and every helper process of its group: SIGTERM,
 * then SIGKILL for what is left after 5 s; resolves once none of them runs.
 */
async function stopped(browser) {
  if (!browser || browser.pid === undefined) {
    return;
  }
  const pgid = browser.pid;
  const exited =
    browser.exitCode !== null || browser.signalCode !== null
      ? Promise.resolve()
      : new Promise((resolve) => browser.once("exit", resolve));
  for (const signal of ["SIGTERM", "SIGKILL"]) {
    try {
      process.kill(-pgid, signal);
    } catch {
      break; // no process of the group is left
    }
    const deadline = Date.now() + 5000;
    while (groupRunning(pgid) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!groupRunning(pgid)) break;
  }
  await exited;
}

/** A loopback listener for one redirect: resolves with its query parameters. */
function redirectListener() {
  return new Promise((resolveListening) => {
    let deliver;
    const redirected = new Promise((resolve) => {
      deliver = resolve;
    });
    const server = http.createServer((request, response) => {
      const query = new URL(request.url, "http://localhost").searchParams;
      response.end("<!doctype html><p>Signed in; this window can close.</p>");
      deliver(Object.fromEntries(query));
    });
    server.listen(0, "127.0.0.1", () => {
      resolveListening({
        redirectUri: `http://localhost:${server.address().port}/redirect`,
        redirected,
        close: () => server.close(),
      });
    });
  });
}

function withTimeout(promise, seconds, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function authorizationCode() {
  const chromium = modeArgument;
  if (!chromium) {
    // xtask passes the browser; without one (outside CI only) it has said why.
    return;
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "tokenhop-msal-node-chromium-"));
  try {
    await authorizationCodeWith(chromium, profile);
  } finally {
    // `stopped` has ended every Chromium process; the retries are for a slow file system.
    fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/** The authorization code scenarios, with Chromium keeping its profile in `profile`. */
async function authorizationCodeWith(chromium, profile) {
  const alice = emulator.users.alice;
  const middle = emulator.apps["confidential-secret"];
  const listener = await redirectListener();
  let browser;
  try {
    const cca = confidential(middle.client_id, { clientSecret: middle.secret });
    const { verifier, challenge } = await new msal.CryptoProvider().generatePkceCodes();
    const state = crypto.randomUUID();
    const before = await tokenRequests(emulator);
    const url = await cca.getAuthCodeUrl({
      scopes: ["User.Read"],
      redirectUri: listener.redirectUri,
      codeChallenge: challenge,
      codeChallengeMethod: "S256",
      state,
    });
    browser = openChromium(chromium, url, profile);
    const query = await withTimeout(listener.redirected, 60, "the redirect to the loopback listener");
    tally.check("Chromium brings the code and the state back to the redirect URI", query.code && query.state === state, query);
    const result = await cca.acquireTokenByCode({
      code: query.code,
      redirectUri: listener.redirectUri,
      scopes: ["User.Read"],
      codeVerifier: verifier,
      state,
    });
    const after = await tokenRequests(emulator);
    await expectToken(tally, emulator, "getAuthCodeUrl, then acquireTokenByCode with the PKCE verifier", result.accessToken, {
      aud: GRAPH,
      appid: middle.client_id,
      idtyp: "user",
      oid: alice.object_id,
      scp: "User.Read",
    });
    tally.check(
      "one authorization code grant request",
      (after.grants.authorization_code || 0) === (before.grants.authorization_code || 0) + 1,
      { before, after },
    );
    const replayed = await cca
      .acquireTokenByCode({ code: query.code, redirectUri: listener.redirectUri, scopes: ["User.Read"], codeVerifier: verifier })
      .then(() => null, (error) => error);
    tally.check(
      "a code is redeemed once: the second time is invalid_grant AADSTS54005",
      replayed && replayed.errorCode === "invalid_grant" && aadstsCodes(replayed).includes(54005),
      replayed && { errorCode: replayed.errorCode, errorMessage: replayed.errorMessage },
    );
  } finally {
    listener.close();
    await stopped(browser);
  }

  // The public client's own loopback listener and browser callback (PKCE inside).
  const publicApp = emulator.apps["public-client"];
  const pca = new msal.PublicClientApplication(auth(publicApp.client_id, {}));
  let interactiveBrowser;
  try {
    const result = await withTimeout(
      pca.acquireTokenInteractive({
        scopes: ["User.Read"],
        openBrowser: async (url) => {
          interactiveBrowser = openChromium(chromium, url, profile);
        },
        successTemplate: "Signed in; this window can close.",
      }),
      60,
      "acquireTokenInteractive",
    );
    await expectToken(tally, emulator, "acquireTokenInteractive through Chromium", result.accessToken, {
      aud: GRAPH,
      appid: publicApp.client_id,
      idtyp: "user",
      oid: alice.object_id,
    });
  } finally {
    await stopped(interactiveBrowser);
  }
}

async function managedIdentity() {
  const source = modeArgument;
  const system = emulator.identities["system-assigned"];
  const userAssigned = emulator.identities["user-assigned"];
  // With no source's variables msal-node reports "DefaultToImds" and asks IMDS, at the
  // host AZURE_POD_IDENTITY_AUTHORITY_HOST names.
  const expected = source === "Imds" ? msal.ManagedIdentitySourceNames.DEFAULT_TO_IMDS : source;
  const detected = new msal.ManagedIdentityApplication().getManagedIdentitySource();
  tally.check(`msal-node finds the ${source} source from the environment`, detected === expected, detected);
  const cases = [
    ["system-assigned", undefined, GRAPH, system],
    ["user-assigned by client id", { userAssignedClientId: userAssigned.client_id }, STORAGE, userAssigned],
    ["user-assigned by object id", { userAssignedObjectId: userAssigned.object_id }, GRAPH, userAssigned],
    ["user-assigned by resource id", { userAssignedResourceId: userAssigned.resource_id }, STORAGE, userAssigned],
  ];
  for (const [how, managedIdentityIdParams, resource, identity] of cases) {
    const app = new msal.ManagedIdentityApplication(managedIdentityIdParams ? { managedIdentityIdParams } : {});
    const result = await app.acquireToken({ resource });
    await expectToken(tally, emulator, `managed identity (${source}), ${how}`, result.accessToken, {
      aud: resource,
      oid: identity.object_id,
      appid: identity.client_id,
      idtyp: "app",
      xms_mirid: identity.resource_id,
    });
  }
}

const sections = {
  flows: [appTokens, agentChain, userTokens, authorizationCode],
  "managed-identity": [managedIdentity],
}[mode];
if (!sections) {
  console.error(`unknown mode ${JSON.stringify(mode)}: flows or managed-identity`);
  process.exit(2);
}
tally.run(sections);
