//! The Entra Agent ID three-hop chain (`user_fic`) against the emulator: the agent
//! user's delegated token, caching per hop, the account MSAL would record, errors by hop.

use std::sync::Arc;

use tokenhop_cache::{Section, SharedTokenCache, entry::Field};
use tokenhop_core::{Error, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorHandle, names};
use tokenhop_flows::unverified_claims;
use tokenhop_flows::{AgentIdSettings, AgentResource, AgentUserCredential};

fn settings(emulator: &EmulatorHandle, by_upn: bool) -> AgentIdSettings {
    let mut settings = crate::common::agent_settings(emulator, names::AGENT_IDENTITY, !by_upn);
    if by_upn {
        let user = emulator.config().user(names::AGENT_USER).unwrap();
        settings.agent_user_upn = Some(user.upn.clone());
    }
    settings
}

/// Requests per hop kind: (client credentials: hops 1 and 2, user_fic: hop 3).
fn grants(emulator: &EmulatorHandle) -> (u64, u64) {
    let counters = emulator.counters();
    (
        counters.grant("client_credentials"),
        counters.grant("user_fic"),
    )
}

fn credential(
    emulator: &EmulatorHandle,
    settings: AgentIdSettings,
    cache: SharedTokenCache,
) -> AgentUserCredential {
    AgentUserCredential::builder(settings)
        .authority_host(emulator.url())
        .blueprint_credential(crate::common::blueprint_credential(emulator))
        .resource(AgentResource::Graph)
        .cache(cache)
        .build()
        .unwrap()
}

#[tokio::test]
async fn three_hops_give_the_agent_user_a_delegated_graph_token_and_cache_each_hop() {
    let emulator = Emulator::builder().start().await.unwrap();
    let cache = SharedTokenCache::in_memory();
    let credential = credential(&emulator, settings(&emulator, false), cache.clone());
    let token = credential
        .token(&TokenRequestOptions::default())
        .await
        .unwrap();
    let claims = unverified_claims(token.secret.expose_secret()).unwrap();
    let user = emulator.config().user(names::AGENT_USER).unwrap();
    assert_eq!(claims["idtyp"], "user");
    assert_eq!(claims["oid"], user.object_id.as_str());
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["xms_sub_fct"], "13");
    assert_eq!(grants(&emulator), (2, 1));

    // The account is recorded as MSAL records it.
    let accounts = cache
        .read(|c| c.accounts(url::Url::parse(emulator.url()).unwrap().host_str().unwrap()))
        .unwrap();
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(accounts[0].account_source.as_deref(), Some("user_fic"));
    assert_eq!(accounts[0].username, user.upn);

    emulator.reset_counters();
    credential
        .token(&TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(
        emulator.counters().endpoint("token"),
        0,
        "all three hops cached"
    );

    // Only hop 3's token goes: only hop 3 runs again.
    cache
        .write(|c| {
            let user_tokens: Vec<String> = c
                .entries(Section::AccessToken)
                .filter(|(_, e)| e.get(Field::HomeAccountId).is_some_and(|h| !h.is_empty()))
                .map(|(k, _)| k.to_owned())
                .collect();
            assert_eq!(user_tokens.len(), 1);
            for key in user_tokens {
                c.remove(Section::AccessToken, &key);
            }
        })
        .unwrap();
    credential
        .token(&TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(grants(&emulator), (0, 1));
}

#[tokio::test]
async fn by_upn_the_cached_account_is_found_and_concurrent_callers_share_one_chain() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credential = Arc::new(credential(
        &emulator,
        settings(&emulator, true),
        SharedTokenCache::in_memory(),
    ));
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let credential = Arc::clone(&credential);
            tokio::spawn(async move { credential.token(&TokenRequestOptions::default()).await })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap().unwrap();
    }
    assert_eq!(
        grants(&emulator),
        (2, 1),
        "one request per hop for 100 callers"
    );
    emulator.reset_counters();
    credential
        .token(&TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(emulator.counters().endpoint("token"), 0);
}

#[tokio::test]
async fn a_user_who_is_not_the_agents_user_fails_at_hop_3_and_missing_settings_are_named() {
    let emulator = Emulator::builder().start().await.unwrap();
    let mut wrong = settings(&emulator, false);
    wrong.agent_user_id = Some(
        emulator
            .config()
            .user(names::ALICE)
            .unwrap()
            .object_id
            .clone(),
    );
    let err = credential(&emulator, wrong, SharedTokenCache::in_memory())
        .token(&TokenRequestOptions::default())
        .await
        .unwrap_err();
    match &err {
        Error::TokenExchange {
            hop, error_codes, ..
        } => {
            assert_eq!(*hop, Some(3), "{err}");
            assert_eq!(error_codes, &vec![65001]);
        }
        other => panic!("{other:?}"),
    }

    let mut missing = AgentIdSettings::default();
    missing.tenant_id = Some(emulator.tenant_id().to_owned());
    let err = AgentUserCredential::builder(missing).build().unwrap_err();
    match err {
        Error::AgentIdNotAvailable { missing } => assert_eq!(
            missing,
            [
                "blueprint_id",
                "agent_id",
                "agent_user_id or agent_user_upn",
                "blueprint_credential"
            ]
        ),
        other => panic!("{other:?}"),
    }
}

/// The requests per hop kind (see [`grants`]) that one call with `options` makes.
async fn grants_of_one_call(
    emulator: &EmulatorHandle,
    credential: &AgentUserCredential,
    options: &TokenRequestOptions,
) -> (u64, u64) {
    emulator.reset_counters();
    credential.token(options).await.unwrap();
    grants(emulator)
}

#[tokio::test]
async fn a_tenant_named_by_its_domain_hits_the_cache_on_the_second_call() {
    let emulator = Emulator::builder().start().await.unwrap();
    let mut by_domain = settings(&emulator, false);
    by_domain.tenant_id = Some(emulator.config().tenant_domain.clone());
    let credential = credential(&emulator, by_domain, SharedTokenCache::in_memory());
    let once = TokenRequestOptions::default();
    assert_eq!(
        grants_of_one_call(&emulator, &credential, &once).await,
        (2, 1)
    );
    assert_eq!(
        grants_of_one_call(&emulator, &credential, &once).await,
        (0, 0),
        "hop 3's token is found under the account client_info named"
    );
    assert_eq!(emulator.counters().endpoint("token"), 0);
}

#[tokio::test]
async fn a_forced_refresh_redoes_hop_3_then_the_whole_chain_when_rejected_again() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credential = credential(
        &emulator,
        settings(&emulator, false),
        SharedTokenCache::in_memory(),
    );
    let forced = TokenRequestOptions::force_refresh();
    credential
        .token(&TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(
        grants_of_one_call(&emulator, &credential, &forced).await,
        (0, 1),
        "the resource rejected the token: hop 3 again"
    );
    assert_eq!(
        grants_of_one_call(&emulator, &credential, &forced).await,
        (2, 1),
        "and rejected the new one too: T1 and T2 as well"
    );
}

#[tokio::test]
async fn hop_3_refusing_a_revoked_t1_refreshes_the_chain_once() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credential = credential(
        &emulator,
        settings(&emulator, false),
        SharedTokenCache::in_memory(),
    );
    credential
        .token(&TokenRequestOptions::default())
        .await
        .unwrap();
    let blueprint = emulator
        .config()
        .app(names::AGENT_BLUEPRINT)
        .unwrap()
        .client_id
        .clone();
    let revocation = serde_json::from_value(serde_json::json!({"client": blueprint})).unwrap();
    emulator.revoke(&revocation).unwrap();
    assert_eq!(
        grants_of_one_call(
            &emulator,
            &credential,
            &TokenRequestOptions::force_refresh()
        )
        .await,
        (2, 2),
        "hop 3 refused T1; hops 1 and 2 again, then hop 3"
    );
}
