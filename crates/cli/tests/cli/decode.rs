//! `tokenhop decode`: header and claims, readable times, never the signature.

use crate::common::{GRAPH, TestEnv, ok, run};

#[test]
fn shows_header_claims_and_times_but_not_the_signature() {
    let env = TestEnv::start();
    let token = ok(env.secret_cmd().args(["token", "--scope", GRAPH]))
        .stdout
        .trim()
        .to_owned();
    let signature = token.rsplit('.').next().unwrap();

    let out = ok(env.cmd().args(["decode", &token]));
    assert!(out.stdout.contains(r#""alg": "RS256""#), "{}", out.stdout);
    assert!(
        out.stdout
            .contains(r#""aud": "https://graph.microsoft.com""#),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("exp: 20"), "{}", out.stdout);
    assert!(out.stdout.contains("iat: 20"), "{}", out.stdout);
    assert!(
        out.stdout.contains("(in 59m)") || out.stdout.contains("(in 1h 0m)"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(signature));

    let out = ok(env
        .cmd()
        .args(["--json", "decode", "-"])
        .write_stdin(format!("{token}\n")));
    let decoded: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(decoded["claims"]["aud"], "https://graph.microsoft.com");
    assert_eq!(decoded["header"]["typ"], "JWT");
    assert!(!out.stdout.contains(signature));
}

#[test]
fn refuses_what_is_not_a_jwt() {
    let env = TestEnv::start();
    let out = run(env.cmd().args(["decode", "not-a-token"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("not a JWT"), "{}", out.stderr);
}
