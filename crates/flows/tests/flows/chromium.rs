//! The interactive flow with a real browser: Debian's headless Chromium opens the
//! emulator's authorize page (auto sign-in), whose `form_post` answer Chromium submits
//! to tokenhop's loopback listener.
//!
//! Chromium missing is a skip on a developer machine and a failure in CI (`CI=true`),
//! where `.ci/run` installs it.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::Scopes;
use tokenhop_emulator::{Emulator, EmulatorConfig, names};
use tokenhop_flows::Authority;
use tokenhop_flows::InteractiveOptions;
use tokenhop_flows::PublicClient;
use tokenhop_flows::unverified_claims;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

#[tokio::test]
async fn headless_chromium_completes_the_interactive_sign_in() {
    let Some(browser) = chromium() else {
        assert!(
            !in_ci(),
            "chromium is not installed; .ci/run installs Debian's chromium"
        );
        eprintln!("skipping: chromium is not installed");
        return;
    };
    let mut config = EmulatorConfig::default();
    config.auto_sign_in = Some(names::ALICE.into());
    let emulator = Emulator::builder().config(config).start().await.unwrap();
    let profile = tempfile::tempdir().unwrap();
    let running: Arc<Mutex<Option<std::process::Child>>> = Arc::default();
    let launched = Arc::clone(&running);
    let profile_dir = profile.path().to_owned();
    let opener = move |url: &str| {
        let child = Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile_dir.display()))
            .arg(url)
            // Its own process group, so that the test can end Chromium's helpers (zygote,
            // renderer, crashpad) too: they outlive the browser and write into the profile.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| tokenhop_core::Error::Authentication {
                reason: format!("cannot start chromium: {e}"),
            })?;
        *launched.lock().unwrap() = Some(child);
        Ok(())
    };
    let client = PublicClient::builder(
        crate::common::client_id(&emulator, names::PUBLIC_CLIENT),
        Authority::parse(&emulator.authority()).unwrap(),
    )
    .cache(SharedTokenCache::in_memory())
    .build()
    .unwrap();
    let options = InteractiveOptions::default()
        .with_port(0)
        .with_form_post(true)
        .with_timeout(std::time::Duration::from_secs(60))
        .with_opener(opener);
    let outcome = client
        .acquire_token_interactive(
            &Scopes::new(["User.Read"]).unwrap(),
            &Default::default(),
            &options,
            |_| panic!("Chromium did not complete the sign-in: the flow fell back to device code"),
        )
        .await;
    if let Some(child) = running.lock().unwrap().take() {
        stop_process_group(child);
    }
    profile
        .close()
        .expect("the Chromium profile is removed once its processes have ended");
    let token = outcome.unwrap();
    let claims = unverified_claims(token.token.secret.expose_secret()).unwrap();
    assert_eq!(claims["upn"], "alice@contoso.onmicrosoft.com");
    assert_eq!(emulator.counters().grant("authorization_code"), 1);
}

/// Ends `leader` and every process of its group: SIGTERM, then SIGKILL for what is left
/// after 5 s; returns once none of them runs.
fn stop_process_group(mut leader: Child) {
    let pgid = leader.id();
    for signal in ["-TERM", "-KILL"] {
        // `kill` the command: std has no way to signal a group without `unsafe`.
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // Reap the leader as soon as it exits: its zombie would count as running.
            let _ = leader.try_wait();
            if !group_running(pgid) {
                return;
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = leader.wait();
}

/// Whether a process of group `pgid` runs; zombies do not count (an init that does not
/// reap leaves orphaned helpers as zombies forever, and they write nothing).
fn group_running(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // After the command name in parentheses: state, ppid, pgrp, ...
        let Some((_, fields)) = stat.rsplit_once(") ") else {
            return false;
        };
        let mut fields = fields.split(' ');
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|f| f.parse::<u32>().ok());
        pgrp == Some(pgid) && state != Some("Z")
    })
}
