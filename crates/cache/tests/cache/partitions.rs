//! A partitioned cache over a store of separate blobs: tokens land in MSAL.NET's
//! partitions, the memory of partitions stays within its bound (an evicted partition
//! loads again), and signed-in users are listed in the account directory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use tokenhop_cache::{
    ACCOUNT_DIRECTORY, Blob, MemoryPersistence, PartitionedPersistence, Persistence,
    SharedTokenCache, Stored, TokenCache, TokenEvent,
};
use tokenhop_core::Result;

use crate::common::{ENV, NOW, TENANT, app_secret, clock_at_now};

/// Blobs by partition name, each a [`MemoryPersistence`] of its own.
#[derive(Debug, Default, Clone)]
struct Blobs(Arc<Mutex<HashMap<String, Arc<MemoryPersistence>>>>);

impl Blobs {
    fn blob(&self, name: &str) -> Arc<MemoryPersistence> {
        Arc::clone(self.0.lock().unwrap().entry(name.to_owned()).or_default())
    }

    fn stored(&self, name: &str) -> Option<String> {
        self.blob(name).load().unwrap().map(|b| b.to_string())
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, blob)| blob.load().unwrap().is_some())
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }
}

#[derive(Debug)]
struct Partition(Arc<MemoryPersistence>);

impl Persistence for Partition {
    fn load(&self) -> Result<Option<Blob>> {
        self.0.load()
    }
    fn stamp(&self) -> Result<Option<tokenhop_cache::Stamp>> {
        self.0.stamp()
    }
    fn update(
        &self,
        change: &mut dyn FnMut(&Stored<'_>) -> Result<Option<Blob>>,
    ) -> Result<Option<tokenhop_cache::Stamp>> {
        self.0.update(change)
    }
}

impl PartitionedPersistence for Blobs {
    fn partition(&self, name: &str) -> Box<dyn Persistence> {
        Box::new(Partition(self.blob(name)))
    }
}

fn app_event<'a>(
    client_id: &'a str,
    response: &'a serde_json::Map<String, serde_json::Value>,
) -> TokenEvent<'a> {
    TokenEvent {
        client_id,
        environment: ENV,
        realm: TENANT,
        scopes: &["https://graph.microsoft.com/.default"],
        grant_type: "client_credentials",
        response,
        extra_fields: &[],
        now: NOW,
    }
}

fn client_info(uid: &str, utid: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({"uid": uid, "utid": utid}).to_string())
}

fn user_response(uid: &str) -> serde_json::Value {
    json!({
        "access_token": format!("at-{uid}"), "expires_in": 3600, "token_type": "Bearer",
        "refresh_token": format!("rt-{uid}"), "client_info": client_info(uid, TENANT),
        "id_token": format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(json!({"preferred_username": format!("{uid}@contoso"), "oid": uid, "tid": TENANT}).to_string())),
    })
}

#[test]
fn app_tokens_go_to_msal_dotnets_partitions_and_memory_stays_bounded() {
    let blobs = Blobs::default();
    let cache = SharedTokenCache::partitioned(blobs.clone())
        .clock(clock_at_now())
        .memory_partitions(2)
        .build();
    for client in ["a", "b", "c"] {
        let response = json!({"access_token": format!("token-{client}"), "expires_in": 3600});
        let event = app_event(client, response.as_object().unwrap());
        cache.add(&event).unwrap();
    }
    assert_eq!(
        blobs.names(),
        [
            "a_t1_AppTokenCache",
            "b_t1_AppTokenCache",
            "c_t1_AppTokenCache"
        ]
    );
    let a = blobs.stored("a_t1_AppTokenCache").unwrap();
    assert!(
        a.contains("token-a") && !a.contains("token-b"),
        "one app per partition"
    );
    assert_eq!(cache.partitions_in_memory(), 2, "the bound holds");
    // "a" was the least recently used: it left memory, and loads again.
    let found = cache
        .partition("a_t1_AppTokenCache")
        .read(|c| app_secret(c, "a"))
        .unwrap();
    assert_eq!(found.as_deref(), Some("token-a"));
    assert_eq!(cache.partitions_in_memory(), 2);
}

#[test]
fn no_memory_of_partitions_reads_the_store_every_time() {
    let blobs = Blobs::default();
    let cache = SharedTokenCache::partitioned(blobs.clone())
        .clock(clock_at_now())
        .memory_partitions(0)
        .build();
    let response = json!({"access_token": "first", "expires_in": 3600});
    cache
        .add(&app_event("a", response.as_object().unwrap()))
        .unwrap();
    assert_eq!(cache.partitions_in_memory(), 0);
    // Another writer replaces the blob: the next read sees it.
    let mut other = TokenCache::new();
    let response = json!({"access_token": "second", "expires_in": 3600});
    other.add(&app_event("a", response.as_object().unwrap()));
    let text = other.serialize();
    blobs
        .blob("a_t1_AppTokenCache")
        .update(&mut |_| Ok(Some(Blob::new(text.clone()))))
        .unwrap();
    let found = cache
        .partition("a_t1_AppTokenCache")
        .read(|c| app_secret(c, "a"))
        .unwrap();
    assert_eq!(found.as_deref(), Some("second"));
}

#[test]
fn users_are_listed_in_the_directory_and_signing_out_removes_them_from_both() {
    let blobs = Blobs::default();
    let cache = SharedTokenCache::partitioned(blobs.clone())
        .clock(clock_at_now())
        .build();
    for uid in ["u1", "u2"] {
        let response = user_response(uid);
        let event = TokenEvent {
            grant_type: "authorization_code",
            scopes: &["User.Read"],
            ..app_event("public", response.as_object().unwrap())
        };
        cache.add(&event).unwrap();
    }
    let home = format!("u1.{TENANT}");
    let partition = blobs.stored(&home).unwrap();
    assert!(partition.contains("rt-u1") && !partition.contains("rt-u2"));
    let directory = blobs.stored(ACCOUNT_DIRECTORY).unwrap();
    assert!(
        !directory.contains("rt-u1") && !directory.contains("at-u1"),
        "accounts only"
    );
    let listed: Vec<String> = cache
        .read(|c| c.accounts(ENV))
        .unwrap()
        .into_iter()
        .map(|a| a.home_account_id)
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&home));

    cache.remove_account(&home, ENV).unwrap();
    let left = cache.read(|c| c.accounts(ENV)).unwrap();
    assert_eq!(left.len(), 1);
    assert!(!blobs.stored(&home).unwrap().contains("rt-u1"));
}

#[test]
fn on_behalf_of_users_stay_out_of_the_directory() {
    let blobs = Blobs::default();
    let cache = SharedTokenCache::partitioned(blobs.clone())
        .clock(clock_at_now())
        .build();
    let response = user_response("u9");
    let extra = [("obo_assertion_sha256", "abc")];
    let event = TokenEvent {
        grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
        scopes: &["User.Read"],
        extra_fields: &extra,
        ..app_event("middle", response.as_object().unwrap())
    };
    let partition = event.partition_key();
    cache.add(&event).unwrap();
    assert_eq!(
        blobs.names(),
        std::slice::from_ref(&partition),
        "only the assertion's partition"
    );
    assert_eq!(
        partition,
        tokenhop_cache::keys::ext_cache_key(extra).unwrap(),
        "keyed by (a hash of) the incoming assertion"
    );
}
