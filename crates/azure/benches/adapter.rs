//! What the adapter adds to a cache hit: `get_token` on a warm tokenhop credential,
//! called directly and through `AzureCredential` (the `azure_core` trait an Azure SDK
//! client calls), for a flow's MSAL-shaped cache (a client credentials client warmed
//! against the emulator) and for `CachingCredential`'s memory cache.
//!
//! `cargo bench -p tokenhop-azure --bench adapter`

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use azure_core::credentials::TokenCredential as AzureTokenCredential;
use criterion::{Criterion, criterion_group, criterion_main};
use tokenhop_azure::AzureCredential;
use tokenhop_core::{
    AccessToken, BoxFuture, CachingCredential, ClientId, Result, Scopes, TokenCredential,
    TokenRequestOptions,
};
use tokenhop_emulator::{Emulator, names};
use tokenhop_flows::{Authority, ClientCredential, ConfidentialClient};

const STORAGE: &str = "https://storage.azure.com/.default";

/// A credential whose every answer is the same token: what `CachingCredential` caches.
struct Fixed;

impl TokenCredential for Fixed {
    fn get_token<'a>(
        &'a self,
        _scopes: &'a Scopes,
        _options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        let expires = SystemTime::now() + Duration::from_secs(3600);
        Box::pin(async move { Ok(AccessToken::new("bench-token", expires)) })
    }
}

fn hits(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let emulator = runtime
        .block_on(Emulator::builder().start())
        .expect("the emulator starts");
    let app = emulator.config().app(names::CONFIDENTIAL_SECRET).unwrap();
    let client = ConfidentialClient::builder(
        ClientId::new(app.client_id.clone()).unwrap(),
        Authority::parse(&emulator.authority()).unwrap(),
        ClientCredential::secret(app.secret.clone().unwrap()),
    )
    .build()
    .unwrap();
    let client = Arc::new(client);
    let adapted_client = AzureCredential::new(Arc::clone(&client));
    let memory = Arc::new(CachingCredential::new(Fixed));
    let adapted_memory = AzureCredential::new(Arc::clone(&memory));
    let scopes = Scopes::new([STORAGE]).unwrap();
    let options = TokenRequestOptions::default();
    runtime.block_on(async {
        client.get_token(&scopes, &options).await.unwrap();
        memory.get_token(&scopes, &options).await.unwrap();
    });

    let mut group = c.benchmark_group("get_token_hit");
    group.bench_function("ConfidentialClient (MSAL cache), tokenhop", |b| {
        b.to_async(&runtime)
            .iter(|| async { client.get_token(&scopes, &options).await.unwrap() })
    });
    group.bench_function(
        "ConfidentialClient (MSAL cache), through AzureCredential",
        |b| {
            b.to_async(&runtime)
                .iter(|| async { adapted_client.get_token(&[STORAGE], None).await.unwrap() })
        },
    );
    group.bench_function("CachingCredential (memory), tokenhop", |b| {
        b.to_async(&runtime)
            .iter(|| async { memory.get_token(&scopes, &options).await.unwrap() })
    });
    group.bench_function("CachingCredential (memory), through AzureCredential", |b| {
        b.to_async(&runtime)
            .iter(|| async { adapted_memory.get_token(&[STORAGE], None).await.unwrap() })
    });
    group.finish();
    assert_eq!(
        emulator.counters().grant("client_credentials"),
        1,
        "every measured call was a cache hit"
    );
}

criterion_group!(benches, hits);
criterion_main!(benches);
