//! Synthetic caches of a given size, written through the real write path: for the
//! benchmarks, `cargo xtask bench` and tests of behaviour at scale.

use serde_json::{Map, Value, json};

use crate::{AccessTokenQuery, TokenCache, TokenEvent};

/// The clock the synthetic tokens are written at.
pub const NOW: u64 = 1_800_000_000;

/// Scope sets each synthetic user holds tokens for.
const SCOPE_SETS: [&str; 5] = [
    "User.Read openid profile offline_access",
    "Mail.Read Mail.Send openid profile offline_access",
    "Files.Read openid profile offline_access",
    "Calendars.Read openid profile offline_access",
    "Sites.Read.All openid profile offline_access",
];

/// A cache and a user in the middle of it to look up.
#[derive(Debug)]
pub struct SyntheticCache {
    /// The cache.
    pub cache: TokenCache,
    /// Who to look up.
    pub probe: Probe,
}

/// The user a benchmark looks up.
#[derive(Clone, Debug)]
pub struct Probe {
    home_account_id: String,
}

/// The client id every synthetic token belongs to.
pub const CLIENT_ID: &str = "51f81489-12ee-4a9e-aaae-a2591f45987d";
const TENANT: &str = "7f1c3a8e-2b4d-4e6f-9a0b-1c2d3e4f5a6b";
const ENVIRONMENT: &str = "login.microsoftonline.com";

impl Probe {
    /// The exact scope set of one cached token.
    pub fn exact_query(&self) -> AccessTokenQuery<'_> {
        const EXACT: &[&str] = &[
            "Mail.Read",
            "Mail.Send",
            "offline_access",
            "openid",
            "profile",
        ];
        self.query(EXACT)
    }

    /// A subset of one cached token's scopes.
    pub fn superset_query(&self) -> AccessTokenQuery<'_> {
        const SUBSET: &[&str] = &["Mail.Send"];
        self.query(SUBSET)
    }

    fn query<'a>(&'a self, scopes: &'a [&'a str]) -> AccessTokenQuery<'a> {
        AccessTokenQuery {
            home_account_id: Some(&self.home_account_id),
            environment: ENVIRONMENT,
            client_id: CLIENT_ID,
            realm: TENANT,
            scopes,
            ext_cache_key: None,
        }
    }
}

/// A cache of about `entries` entries: users with five access tokens, a refresh
/// token per scope set (MSAL keys refresh tokens by target), an id token and an
/// account each: 12 entries per user.
pub fn build(entries: usize) -> SyntheticCache {
    let users = (entries / 12).max(1);
    let mut cache = TokenCache::new();
    for user in 0..users {
        let oid = format!("{user:08x}-aaaa-4bbb-8ccc-{user:012x}");
        for scopes in SCOPE_SETS {
            let response = user_response(&oid, user, scopes);
            let scope_list: Vec<&str> = scopes.split(' ').collect();
            cache.add(&TokenEvent {
                client_id: CLIENT_ID,
                environment: ENVIRONMENT,
                realm: TENANT,
                scopes: &scope_list,
                grant_type: "authorization_code",
                response: &response,
                extra_fields: &[],
                now: NOW,
            });
        }
    }
    let middle = users / 2;
    let probe = Probe {
        home_account_id: format!("{middle:08x}-aaaa-4bbb-8ccc-{middle:012x}.{TENANT}"),
    };
    SyntheticCache { cache, probe }
}

fn user_response(oid: &str, user: usize, scopes: &str) -> Map<String, Value> {
    use base64::Engine;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let claims = json!({"oid": oid, "sub": format!("sub-{oid}"), "tid": TENANT, "preferred_username": format!("user{user}@contoso.example")});
    let body = json!({
        "token_type": "Bearer",
        "scope": scopes,
        "expires_in": 315_360_000u64,
        "ext_expires_in": 315_360_000u64,
        "access_token": format!("at-{user}-{}", scopes.split(' ').next().unwrap_or_default()),
        "refresh_token": format!("rt-{user}"),
        "id_token": format!("{}.{}.sig", b64(json!({"alg": "none"})), b64(claims)),
        "client_info": b64(json!({"uid": oid, "utid": TENANT})),
    });
    match body {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
