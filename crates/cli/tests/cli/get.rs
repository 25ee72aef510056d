//! `tokenhop get` against the emulator's Graph-like `/v1.0/me`. It serves delegated
//! tokens only, and the flows the CLI has so far are app-only: an accepted app token
//! gets `400 BadRequest` (a rejected one `401`), which is enough to see the token sent,
//! the body printed and the one-shot retry after a revoked token.

use tokenhop_emulator::{Revocation, names};

use crate::common::{GRAPH, TestEnv, ok, run};

fn me(env: &TestEnv) -> String {
    format!("{}/v1.0/me", env.emulator.url())
}

#[test]
fn sends_the_token_and_prints_the_body() {
    let env = TestEnv::start();
    let out = run(env.secret_cmd().args(["get", &me(&env), "--scope", GRAPH]));
    assert_eq!(out.code, 1, "an HTTP error status: {}", out.stderr);
    assert!(
        out.stdout.contains("BadRequest"),
        "the token was accepted: {}",
        out.stdout
    );
    assert!(out.stdout.contains("delegated"), "{}", out.stdout);
    assert!(out.stderr.contains("HTTP 400"), "{}", out.stderr);
    assert!(!out.stderr.contains(&env.secret()));
}

#[test]
fn a_revoked_cached_token_is_replaced_once() {
    let env = TestEnv::start();
    let token = ok(env.secret_cmd().args(["token", "--scope", GRAPH]))
        .stdout
        .trim()
        .to_owned();
    let mut revocation = Revocation::default();
    revocation.token = Some(token.clone());
    assert_eq!(env.emulator.revoke(&revocation).unwrap(), 1);

    let out = run(env.secret_cmd().args(["get", &me(&env), "--scope", GRAPH]));
    assert!(
        out.stdout.contains("BadRequest"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(env.token_requests(), 2, "one forced refresh");
    let cached = ok(env.secret_cmd().args(["token", "--scope", GRAPH]));
    assert_ne!(
        cached.stdout.trim(),
        token,
        "the new token replaced the revoked one"
    );
}

#[test]
fn a_token_rejected_twice_is_reported() {
    let env = TestEnv::start();
    let mut revocation = Revocation::default();
    revocation.client = Some(env.client_id(names::CONFIDENTIAL_SECRET));
    revocation.block = true;
    env.emulator.revoke(&revocation).unwrap();
    let out = run(env.secret_cmd().args(["get", &me(&env), "--scope", GRAPH]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("rejected the access token"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
}
