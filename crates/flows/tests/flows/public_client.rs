//! Signed-in users against the emulator: device code (pending, slow_down, declined,
//! expired), interactive with a test browser and its fallback, silent with refresh and
//! FOCI, sign-out, and B2C.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokenhop_cache::{Section, SharedTokenCache};
use tokenhop_core::{Error, ManualClock, Scopes, TokenRequestOptions};
#[cfg(feature = "interactive")]
use tokenhop_emulator::EmulatorConfig;
use tokenhop_emulator::{Emulator, EmulatorHandle, names};
use tokenhop_flows::Authority;
#[cfg(feature = "interactive")]
use tokenhop_flows::InteractiveOptions;
use tokenhop_flows::PublicClient;
use tokenhop_flows::unverified_claims;

fn forced() -> TokenRequestOptions {
    let mut options = TokenRequestOptions::default();
    options.force_refresh = true;
    options
}

fn user_read() -> Scopes {
    Scopes::new(["User.Read"]).unwrap()
}

struct Setup {
    client: PublicClient,
    clock: Arc<ManualClock>,
    waits: Arc<Mutex<Vec<u64>>>,
}

fn client(emulator: &EmulatorHandle, app: &str, authority: &str, cache: SharedTokenCache) -> Setup {
    let clock = Arc::new(ManualClock::new(std::time::SystemTime::now()));
    let waits = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&waits);
    let client = PublicClient::builder(
        crate::common::client_id(emulator, app),
        Authority::parse(authority).unwrap(),
    )
    .cache(cache)
    .clock(clock.clone())
    .device_code_wait(Arc::new(move |interval: Duration| {
        recorded.lock().unwrap().push(interval.as_secs());
        Box::pin(async {})
    }))
    .build()
    .unwrap();
    Setup {
        client,
        clock,
        waits,
    }
}

/// Signs alice in by device code, approving as soon as the code is shown.
async fn sign_in_alice(emulator: &EmulatorHandle, client: &PublicClient) {
    crate::common::sign_in(emulator, client, &user_read(), names::ALICE).await;
}

#[tokio::test]
async fn device_code_waits_the_interval_and_slows_down_when_told() {
    let emulator = Emulator::builder().start().await.unwrap();
    let setup = client(
        &emulator,
        names::PUBLIC_CLIENT,
        &emulator.authority(),
        SharedTokenCache::in_memory(),
    );
    let shown = Mutex::new(None);
    let token = setup
        .client
        .acquire_token_by_device_code(&user_read(), &Default::default(), |info| {
            *shown.lock().unwrap() = Some(info.message.clone());
            // Approved, but the next three polls still see it pending; the test's
            // waits are instant, so the emulator finds them too fast and slows us down.
            assert!(emulator.approve_device_code(Some(&info.user_code), names::ALICE, 3));
        })
        .await
        .unwrap();
    assert!(
        shown
            .lock()
            .unwrap()
            .as_deref()
            .unwrap()
            .contains("devicelogin")
    );
    assert_eq!(
        *setup.waits.lock().unwrap(),
        [5, 5, 10, 15],
        "interval, then +5 s per slow_down"
    );
    let claims = unverified_claims(token.token.secret.expose_secret()).unwrap();
    assert_eq!(claims["upn"], "alice@contoso.onmicrosoft.com");
    let alice = emulator.config().user(names::ALICE).unwrap();
    assert_eq!(
        token.home_account_id.unwrap(),
        format!("{}.{}", alice.object_id, emulator.tenant_id())
    );
    assert_eq!(
        emulator
            .counters()
            .grant("urn:ietf:params:oauth:grant-type:device_code"),
        4
    );
}

#[tokio::test]
async fn device_code_declined_and_expired_end_with_clear_errors() {
    let emulator = Emulator::builder().start().await.unwrap();
    let setup = client(
        &emulator,
        names::PUBLIC_CLIENT,
        &emulator.authority(),
        SharedTokenCache::in_memory(),
    );
    let err = setup
        .client
        .acquire_token_by_device_code(&user_read(), &Default::default(), |info| {
            assert!(emulator.deny_device_code(Some(&info.user_code)));
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TokenExchange { error, .. } if error == "authorization_declined"),
        "{err:?}"
    );

    let err = setup
        .client
        .acquire_token_by_device_code(&user_read(), &Default::default(), |_| {
            emulator.advance_clock(901)
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TokenExchange { error, .. } if error == "expired_token"),
        "{err}"
    );
}

#[tokio::test]
async fn silent_uses_the_cache_then_exactly_one_refresh_then_asks_for_interaction() {
    let emulator = Emulator::builder().start().await.unwrap();
    let cache = SharedTokenCache::in_memory();
    let setup = client(
        &emulator,
        names::PUBLIC_CLIENT,
        &emulator.authority(),
        cache.clone(),
    );
    sign_in_alice(&emulator, &setup.client).await;
    let accounts = setup.client.accounts().await.unwrap();
    assert_eq!(accounts.len(), 1);
    let alice = &accounts[0];
    assert_eq!(alice.username, "alice@contoso.onmicrosoft.com");
    emulator.reset_counters();

    let options = TokenRequestOptions::default();
    setup
        .client
        .acquire_token_silent(&user_read(), alice, &options)
        .await
        .unwrap();
    assert_eq!(
        emulator.counters().endpoint("token"),
        0,
        "a cache hit makes no request"
    );

    emulator.advance_clock(3600);
    setup.clock.advance(Duration::from_secs(3600));
    let token = setup
        .client
        .acquire_token_silent(&user_read(), alice, &options)
        .await
        .unwrap();
    assert_eq!(emulator.counters().grant("refresh_token"), 1);
    assert!(unverified_claims(token.secret.expose_secret()).is_ok());
    setup
        .client
        .acquire_token_silent(&user_read(), alice, &options)
        .await
        .unwrap();
    assert_eq!(
        emulator.counters().grant("refresh_token"),
        1,
        "the refreshed token is cached"
    );

    // Revoked: the refresh fails, the dead refresh token goes, interaction is needed.
    emulator
        .revoke(&serde_json::from_value(serde_json::json!({"user": "alice"})).unwrap())
        .unwrap();
    emulator.advance_clock(3600);
    setup.clock.advance(Duration::from_secs(3600));
    let err = setup
        .client
        .acquire_token_silent(&user_read(), alice, &options)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Authentication { reason } if reason.contains("interaction")),
        "{err}"
    );
    assert_eq!(
        cache
            .read(|c| c.entries(Section::RefreshToken).count())
            .unwrap(),
        0
    );

    // Sign-out removes the account and its tokens.
    assert!(setup.client.remove_account(alice).await.unwrap() > 0);
    assert!(setup.client.accounts().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_family_member_refreshes_with_the_family_token_and_an_outsider_cannot() {
    let emulator = Emulator::builder().start().await.unwrap();
    let cache = SharedTokenCache::in_memory();
    let first = client(
        &emulator,
        names::PUBLIC_CLIENT,
        &emulator.authority(),
        cache.clone(),
    );
    sign_in_alice(&emulator, &first.client).await;
    let alice = first.client.accounts().await.unwrap().remove(0);
    emulator.reset_counters();

    let family = client(
        &emulator,
        names::FAMILY_CLIENT,
        &emulator.authority(),
        cache.clone(),
    );
    let token = family
        .client
        .acquire_token_silent(&user_read(), &alice, &TokenRequestOptions::default())
        .await
        .unwrap();
    let claims = unverified_claims(token.secret.expose_secret()).unwrap();
    assert_eq!(claims["appid"], family.client.client_id().as_str());
    assert_eq!(emulator.counters().grant("refresh_token"), 1);

    let outsider = client(
        &emulator,
        names::LONE_CLIENT,
        &emulator.authority(),
        cache.clone(),
    );
    let err = outsider
        .client
        .acquire_token_silent(&user_read(), &alice, &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Authentication { .. }), "{err}");
    // The family's token survives an outsider's failed attempt.
    family
        .client
        .acquire_token_silent(&user_read(), &alice, &forced())
        .await
        .unwrap();
}

#[cfg(feature = "interactive")]
/// A browser stand-in: follows the authorize URL's redirects to the loopback listener.
fn test_browser(stray_first: bool) -> impl Fn(&str) -> tokenhop_core::Result<()> {
    move |url: &str| {
        let url = url.to_owned();
        tokio::spawn(async move {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            if stray_first {
                let redirect = url::Url::parse(&url).unwrap();
                let redirect_uri = redirect
                    .query_pairs()
                    .find(|(k, _)| k == "redirect_uri")
                    .unwrap()
                    .1
                    .into_owned();
                let stray = http
                    .get(format!("{redirect_uri}?code=forged&state=not-the-state"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    stray.status(),
                    400,
                    "a response with the wrong state is refused"
                );
            }
            // Follows redirects by hand, as a browser would.
            let mut next = url;
            for _ in 0..5 {
                let response = http.get(&next).send().await.unwrap();
                match response.headers().get("location") {
                    Some(location) => next = location.to_str().unwrap().to_owned(),
                    None => break,
                }
            }
        });
        Ok(())
    }
}

#[cfg(feature = "interactive")]
async fn auto_sign_in_emulator() -> EmulatorHandle {
    let mut config = EmulatorConfig::default();
    config.auto_sign_in = Some(names::ALICE.into());
    Emulator::builder().config(config).start().await.unwrap()
}

#[cfg(feature = "interactive")]
#[tokio::test]
async fn interactive_signs_in_through_the_browser_and_ignores_a_forged_response() {
    let emulator = auto_sign_in_emulator().await;
    let setup = client(
        &emulator,
        names::PUBLIC_CLIENT,
        &emulator.authority(),
        SharedTokenCache::in_memory(),
    );
    let options = InteractiveOptions::default()
        .with_port(0)
        .with_opener(test_browser(true));
    let token = setup
        .client
        .acquire_token_interactive(&user_read(), &Default::default(), &options, |_| {
            panic!("no device code expected")
        })
        .await
        .unwrap();
    let claims = unverified_claims(token.token.secret.expose_secret()).unwrap();
    assert_eq!(claims["upn"], "alice@contoso.onmicrosoft.com");
    let counters = emulator.counters();
    assert_eq!(
        (
            counters.endpoint("authorize"),
            counters.grant("authorization_code")
        ),
        (1, 1)
    );
    let accounts = setup.client.accounts().await.unwrap();
    assert_eq!(
        accounts[0].account_source.as_deref(),
        Some("authorization_code")
    );
}

#[cfg(feature = "interactive")]
#[tokio::test]
async fn interactive_falls_back_to_device_code_when_the_port_is_taken_or_no_browser_opens() {
    let emulator = auto_sign_in_emulator().await;
    let setup = client(
        &emulator,
        names::PUBLIC_CLIENT,
        &emulator.authority(),
        SharedTokenCache::in_memory(),
    );
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let approve = |info: &tokenhop_flows::DeviceCodeInfo| {
        assert!(emulator.approve_device_code(Some(&info.user_code), names::ALICE, 0));
    };
    let options = InteractiveOptions::default()
        .with_port(port)
        .with_opener(test_browser(false));
    setup
        .client
        .acquire_token_interactive(&user_read(), &Default::default(), &options, approve)
        .await
        .unwrap();
    let counters = emulator.counters();
    assert_eq!(
        (
            counters.endpoint("authorize"),
            counters.endpoint("devicecode")
        ),
        (0, 1)
    );

    let no_browser = InteractiveOptions::default()
        .with_port(0)
        .with_opener(|_: &str| {
            Err(tokenhop_core::Error::Authentication {
                reason: "no display".into(),
            })
        });
    setup
        .client
        .acquire_token_interactive(&user_read(), &Default::default(), &no_browser, approve)
        .await
        .unwrap();
    assert_eq!(emulator.counters().endpoint("devicecode"), 2);
    drop(busy);
}

#[tokio::test]
async fn b2c_sign_in_keeps_the_policy_in_the_account_and_refreshes_silently() {
    let emulator = Emulator::builder().start().await.unwrap();
    let b2c = emulator.b2c_authority().unwrap();
    let setup = client(
        &emulator,
        names::PUBLIC_CLIENT,
        &b2c,
        SharedTokenCache::in_memory(),
    );
    let token = crate::common::sign_in(&emulator, &setup.client, &user_read(), names::BOB).await;
    assert!(
        token
            .home_account_id
            .unwrap()
            .contains("-b2c_1_signupsignin.")
    );
    let account = setup.client.accounts().await.unwrap().remove(0);
    assert!(account.home_account_id.contains("b2c_1_signupsignin"));
    emulator.advance_clock(3600);
    setup.clock.advance(Duration::from_secs(3600));
    emulator.reset_counters();
    let token = setup
        .client
        .acquire_token_silent(&user_read(), &account, &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(emulator.counters().grant("refresh_token"), 1);
    let claims = unverified_claims(token.secret.expose_secret()).unwrap();
    assert_eq!(claims["tfp"], "b2c_1_signupsignin");
}

#[tokio::test]
async fn dropping_the_device_code_future_stops_polling() {
    let emulator = Emulator::builder().start().await.unwrap();
    let polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&polls);
    let client = PublicClient::builder(
        crate::common::client_id(&emulator, names::PUBLIC_CLIENT),
        Authority::parse(&emulator.authority()).unwrap(),
    )
    .device_code_wait(Arc::new(move |_| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(tokio::time::sleep(Duration::from_millis(20)))
    }))
    .build()
    .unwrap();
    let scopes = user_read();
    let options = TokenRequestOptions::default();
    let flow = client.acquire_token_by_device_code(&scopes, &options, |_| {});
    assert!(
        tokio::time::timeout(Duration::from_millis(300), flow)
            .await
            .is_err(),
        "nobody approved: the flow is still polling when dropped"
    );
    let grant = "urn:ietf:params:oauth:grant-type:device_code";
    // A poll whose bytes left before the drop may still reach the emulator: let it land,
    // then no further poll may come.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after_drop = emulator.counters().grant(grant);
    assert!(after_drop > 0, "it polled before it was dropped");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        emulator.counters().grant(grant),
        after_drop,
        "no poll after the drop"
    );
    assert!(polls.load(std::sync::atomic::Ordering::SeqCst) > 0);
}
