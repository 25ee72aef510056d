// What the msal-node interop scripts share: the emulator they talk to (from the
// ready line and configuration `tokenhop-emulator serve` was given), its admin API,
// checking a token's RS256 signature against the emulator's JWKS, and the tally.
//
// The emulator's CA comes from NODE_EXTRA_CA_CERTS, which msal-node's HTTP client and
// fetch both honour; nothing here turns certificate checks off.

"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");

const GRAPH = "https://graph.microsoft.com";
const STORAGE = "https://storage.azure.com";
const EXCHANGE = "api://AzureADTokenExchange";
// Entra issues Graph and Storage tokens in the v1 format, whichever endpoint is asked.
const V1_RESOURCES = [GRAPH, STORAGE];

/** The emulator from argv: `script READY_JSON CONFIG_JSON ...`. */
function emulatorFromArgs(argv) {
  const ready = JSON.parse(argv[0]);
  const config = JSON.parse(fs.readFileSync(argv[1], "utf8"));
  const byName = (list) => Object.fromEntries(list.map((item) => [item.name, item]));
  return {
    url: ready.url,
    tenant: ready.tenant_id,
    authority: `${ready.url}/${ready.tenant_id}`,
    issuer: `${ready.url}/${ready.tenant_id}/v2.0`,
    v1Issuer: `https://sts.windows.net/${ready.tenant_id}/`,
    host: new URL(ready.url).host,
    stateDir: ready.state_dir,
    config,
    apps: byName(config.apps),
    users: byName(config.users),
    agents: byName(config.agent_identities),
    identities: byName(config.managed_identities),
  };
}

/** Passed and failed checks, printed as they happen. */
class Tally {
  constructor() {
    this.passed = 0;
    this.failed = 0;
  }

  check(name, condition, detail) {
    if (condition) {
      this.passed += 1;
      console.log(`ok   ${name}`);
    } else {
      this.failed += 1;
      console.log(`FAIL ${name}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
    }
    return condition;
  }

  /** Runs each section; one that throws is a failure and the others still run. */
  async run(sections) {
    for (const section of sections) {
      try {
        await section();
      } catch (error) {
        this.check(section.name, false, error && error.stack ? error.stack : String(error));
      }
    }
    console.log(`${this.passed} passed, ${this.failed} failed`);
    process.exitCode = this.failed === 0 && this.passed > 0 ? 0 : 1;
  }
}

/** A JSON request to the emulator (admin API, JWKS). */
async function emulatorJson(emulator, path, body) {
  const response = await fetch(`${emulator.url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** Token endpoint requests so far, per grant type, and in all. */
async function tokenRequests(emulator) {
  const { body } = await emulatorJson(emulator, "/admin/counters");
  return { total: body.endpoints.token || 0, grants: body.grants };
}

function base64url(part) {
  return Buffer.from(part, "base64url");
}

/** The claims of a token whose RS256 signature verifies with the emulator's JWKS. */
async function verifiedClaims(emulator, token) {
  const [header64, payload64, signature64] = token.split(".");
  const header = JSON.parse(base64url(header64));
  if (header.alg !== "RS256") {
    throw new Error(`alg ${header.alg}, not RS256`);
  }
  const { body } = await emulatorJson(emulator, `/${emulator.tenant}/discovery/v2.0/keys`);
  const jwk = body.keys.find((key) => key.kid === header.kid);
  if (!jwk) {
    throw new Error(`no JWKS key with kid ${header.kid}`);
  }
  const key = crypto.createPublicKey({ key: jwk, format: "jwk" });
  const signed = Buffer.from(`${header64}.${payload64}`);
  if (!crypto.verify("RSA-SHA256", signed, key, base64url(signature64))) {
    throw new Error("the signature does not verify with the JWKS key");
  }
  return JSON.parse(base64url(payload64));
}

/**
 * Checks that `token` verifies and that its claims include `claims` (and the
 * emulator's issuer, tenant and version), in the format its audience (`claims.aud`,
 * else the token's) accepts: v1 for Graph and Storage, without `azp` and
 * `preferred_username`; returns the claims, or null.
 */
async function expectToken(tally, emulator, name, token, claims) {
  if (typeof token !== "string" || token.length === 0) {
    tally.check(name, false, "no access token");
    return null;
  }
  let decoded;
  try {
    decoded = await verifiedClaims(emulator, token);
  } catch (error) {
    tally.check(name, false, `signature: ${error.message}`);
    return null;
  }
  const v1 = V1_RESOURCES.includes(claims.aud ?? decoded.aud);
  const shape = v1 ? { iss: emulator.v1Issuer, ver: "1.0" } : { iss: emulator.issuer, ver: "2.0" };
  const expected = { ...shape, tid: emulator.tenant, ...claims };
  const wrong = Object.entries(expected)
    .filter(([claim, value]) => decoded[claim] !== value)
    .map(([claim, value]) => `${claim}: got ${JSON.stringify(decoded[claim])}, want ${JSON.stringify(value)}`);
  const v2Only = v1 ? ["azp", "preferred_username"].filter((claim) => claim in decoded) : [];
  if (v2Only.length > 0) {
    wrong.push(`v2-only claims in a v1 token: ${v2Only.join(", ")}`);
  }
  tally.check(name, wrong.length === 0, wrong.join("; "));
  return decoded;
}

/**
 * Approves the device code with `userCode` as `user` once it is pending; the next
 * `afterPolls` polls still see it pending.
 */
async function approveDeviceCode(emulator, userCode, user, afterPolls) {
  const body = { user, after_polls: afterPolls };
  if (userCode) {
    body.user_code = userCode;
  }
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const { status } = await emulatorJson(emulator, "/admin/device/approve", body);
    if (status === 204) {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

module.exports = {
  EXCHANGE,
  GRAPH,
  STORAGE,
  Tally,
  approveDeviceCode,
  emulatorFromArgs,
  emulatorJson,
  expectToken,
  tokenRequests,
};
