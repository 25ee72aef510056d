//! tokenhop reads the caches MSAL Python 1.39 wrote and gives MSAL's own answers
//! (`expectations.json`), keeps unknown fields, and writes the same entries MSAL
//! writes for the same responses.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Map, Value, json};
use tokenhop_cache::entry::Field;
use tokenhop_cache::{
    AccessTokenLookup, AccessTokenQuery, CacheOptions, ScopeMatching, Section, TokenCache,
    TokenEvent, keys,
};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/msal-1.39")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture_dir().join(name)).unwrap()
}

fn load(name: &str) -> TokenCache {
    TokenCache::deserialize(&read(&format!("{name}.json")), CacheOptions::default()).unwrap()
}

fn expectations() -> Value {
    serde_json::from_str(&read("expectations.json")).unwrap()
}

/// (environment, realm) of an authority URL, as MSAL derives them.
fn environment_and_realm(authority: &str) -> (String, String) {
    let rest = authority.strip_prefix("https://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    (
        host.to_lowercase(),
        path.split('/').next().unwrap().to_owned(),
    )
}

/// MSAL's silent answer: `cache:<secret>` for a hit, `network` for a miss or a token
/// due for refresh.
fn answer(lookup: AccessTokenLookup<'_>) -> String {
    match lookup {
        AccessTokenLookup::Hit(entry) => format!("cache:{}", entry.get(Field::Secret).unwrap()),
        AccessTokenLookup::Aging(_) | AccessTokenLookup::Miss => "network".to_owned(),
    }
}

const NOW_FOR_QUERIES: u64 = 1_900_000_000;

#[test]
fn every_fixture_gives_msals_accounts_and_silent_answers() {
    let expectations = expectations();
    let mut checked = 0;
    for (name, apps) in expectations["fixtures"].as_object().unwrap() {
        let Some(apps) = apps.as_array() else {
            continue;
        };
        let cache = load(name);
        for app in apps {
            let (environment, realm) = environment_and_realm(app["authority"].as_str().unwrap());
            let accounts: Vec<Value> = cache
                .accounts(&environment)
                .into_iter()
                .map(|a| {
                    json!({"home_account_id": a.home_account_id, "environment": a.environment, "username": a.username,
                           "local_account_id": a.local_account_id, "realm": a.realm, "account_source": a.account_source})
                })
                .collect();
            assert_eq!(Value::Array(accounts), app["accounts"], "{name}: accounts");
            let fixture = Fixture {
                name,
                cache: &cache,
                client_id: app["client_id"].as_str().unwrap(),
                environment: &environment,
                realm: &realm,
            };
            checked += fixture.check_silent_answers(app);
            checked += fixture.check_client_credentials_answers(app);
        }
    }
    assert_eq!(
        checked,
        12 + 2 + 1 + 7 + 2 + 1,
        "every query in expectations.json was checked"
    );
}

/// One app of one fixture, whose answers `expectations.json` lists.
struct Fixture<'a> {
    name: &'a str,
    cache: &'a TokenCache,
    client_id: &'a str,
    environment: &'a str,
    realm: &'a str,
}

impl Fixture<'_> {
    /// The user tokens' silent answers; returns how many were checked.
    fn check_silent_answers(&self, app: &Value) -> usize {
        let (name, client_id) = (self.name, self.client_id);
        let mut checked = 0;
        for query in app["silent"].as_array().unwrap() {
            let scopes: Vec<&str> = query["scopes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect();
            let lookup = self.cache.find_access_token(
                &AccessTokenQuery {
                    home_account_id: query["account"].as_str(),
                    environment: self.environment,
                    client_id,
                    realm: self.realm,
                    scopes: &scopes,
                    ext_cache_key: None,
                },
                NOW_FOR_QUERIES,
            );
            assert_eq!(
                answer(lookup),
                query["result"].as_str().unwrap(),
                "{name} {client_id} {scopes:?}"
            );
            checked += 1;
        }
        checked
    }

    /// The app tokens' answers (with `fmi_path` when given); returns how many.
    fn check_client_credentials_answers(&self, app: &Value) -> usize {
        let name = self.name;
        let mut checked = 0;
        for query in app
            .get("client_credentials")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let scope = query["scope"].as_str().unwrap();
            let ext = query["fmi_path"]
                .as_str()
                .and_then(|p| keys::ext_cache_key([("fmi_path", p)]));
            let lookup = self.cache.find_access_token(
                &AccessTokenQuery {
                    home_account_id: None,
                    environment: self.environment,
                    client_id: self.client_id,
                    realm: self.realm,
                    scopes: &[scope],
                    ext_cache_key: ext.as_deref(),
                },
                NOW_FOR_QUERIES,
            );
            assert_eq!(
                answer(lookup),
                query["result"].as_str().unwrap(),
                "{name} {scope} {:?}",
                query["fmi_path"]
            );
            checked += 1;
        }
        checked
    }
}

#[test]
fn case_insensitive_matching_is_an_opt_in_improvement() {
    let text = read("public-two-users.json");
    let (environment, realm) = (
        "login.microsoftonline.com",
        "7f1c3a8e-2b4d-4e6f-9a0b-1c2d3e4f5a6b",
    );
    let alice = "11111111-aaaa-4bbb-8ccc-000000000001.7f1c3a8e-2b4d-4e6f-9a0b-1c2d3e4f5a6b";
    let query = AccessTokenQuery {
        home_account_id: Some(alice),
        environment,
        client_id: "51f81489-12ee-4a9e-aaae-a2591f45987d",
        realm,
        scopes: &["user.read"],
        ext_cache_key: None,
    };
    let msal_rules = TokenCache::deserialize(&text, CacheOptions::default()).unwrap();
    assert_eq!(
        answer(msal_rules.find_access_token(&query, NOW_FOR_QUERIES)),
        "network"
    );
    let entra_rules = TokenCache::deserialize(
        &text,
        CacheOptions::default().with_scope_matching(ScopeMatching::CaseInsensitive),
    )
    .unwrap();
    assert_eq!(
        answer(entra_rules.find_access_token(&query, NOW_FOR_QUERIES)),
        "cache:at-alice-51f81489-User.Read"
    );
}

#[test]
fn unknown_fields_and_sections_round_trip_json_equal() {
    let text = read("unknown-fields.json");
    let mut cache = TokenCache::deserialize(&text, CacheOptions::default()).unwrap();
    let original: Value = serde_json::from_str(&text).unwrap();
    let written: Value = serde_json::from_str(&cache.serialize()).unwrap();
    assert_eq!(written, original);
    assert!(
        written["FutureSection"]["some-key"]["anything"]
            .as_bool()
            .unwrap()
    );
}

#[test]
fn every_fixture_round_trips_json_equal_with_msals_indent() {
    for name in [
        "public-two-users",
        "foci",
        "confidential",
        "agent-user",
        "b2c",
    ] {
        let text = read(&format!("{name}.json"));
        let mut cache = TokenCache::deserialize(&text, CacheOptions::default()).unwrap();
        let written = cache.serialize();
        assert_eq!(
            serde_json::from_str::<Value>(&written).unwrap(),
            serde_json::from_str::<Value>(&text).unwrap(),
            "{name}"
        );
        assert!(written.contains("\n    \""), "4-space indent like MSAL");
    }
}

// ---- write path ----------------------------------------------------------------

const TENANT: &str = "7f1c3a8e-2b4d-4e6f-9a0b-1c2d3e4f5a6b";
const ALICE: &str = "11111111-aaaa-4bbb-8ccc-000000000001";
const BOB: &str = "22222222-aaaa-4bbb-8ccc-000000000002";
const TIMESTAMPS: [&str; 5] = [
    "cached_at",
    "expires_on",
    "extended_expires_on",
    "refresh_on",
    "last_modification_time",
];

fn b64(value: Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

/// The id token MSAL stored for `oid` (its claims carry times, so it is reused as is).
fn stored_id_token(fixture: &TokenCache, oid: &str) -> String {
    fixture
        .entries(Section::IdToken)
        .find(|(_, e)| {
            e.get(Field::HomeAccountId)
                .is_some_and(|h| h.starts_with(oid))
        })
        .map(|(_, e)| e.get(Field::Secret).unwrap().to_owned())
        .unwrap()
}

/// `user_response` of make_fixtures.py.
#[allow(clippy::too_many_arguments)] // mirrors make_fixtures.py's user_response
fn user_response(
    fixture: &TokenCache,
    user: &str,
    oid: &str,
    client_id: &str,
    scope: &str,
    expires_in: u64,
    tid: &str,
    foci: bool,
) -> Map<String, Value> {
    let mut r = json!({
        "token_type": "Bearer", "scope": scope, "expires_in": expires_in, "ext_expires_in": expires_in,
        "access_token": format!("at-{user}-{}-{}", &client_id[..8], scope.split(' ').next().unwrap()),
        "id_token": stored_id_token(fixture, oid),
        "client_info": b64(json!({"uid": oid, "utid": tid})),
        "refresh_token": format!("rt-{user}-{}", &client_id[..8]),
    });
    if foci {
        r["foci"] = json!("1");
    }
    r.as_object().unwrap().clone()
}

/// `app_response` of make_fixtures.py.
fn app_response(name: &str, refresh_in: Option<u64>) -> Map<String, Value> {
    let mut r = json!({"token_type": "Bearer", "expires_in": 315_360_000u64, "ext_expires_in": 315_360_000u64, "access_token": format!("at-app-{name}")});
    if let Some(refresh_in) = refresh_in {
        r["refresh_in"] = json!(refresh_in);
    }
    r.as_object().unwrap().clone()
}

struct Write<'a> {
    client_id: &'a str,
    environment: &'a str,
    realm: &'a str,
    grant_type: &'a str,
    response: Map<String, Value>,
    requested: &'a [&'a str],
    fmi_path: Option<&'a str>,
}

fn replay(writes: &[Write<'_>]) -> TokenCache {
    let mut cache = TokenCache::new();
    for w in writes {
        let granted: Vec<&str> = match w.response.get("scope").and_then(Value::as_str) {
            Some(scope) => scope.split_whitespace().collect(),
            None => w.requested.to_vec(),
        };
        let extra: Vec<(&str, &str)> = w.fmi_path.map(|p| ("fmi_path", p)).into_iter().collect();
        cache.add(&TokenEvent {
            client_id: w.client_id,
            environment: w.environment,
            realm: w.realm,
            scopes: &granted,
            grant_type: w.grant_type,
            response: &w.response,
            extra_fields: &extra,
            now: 1_795_474_208,
        });
    }
    cache
}

fn fields_without_timestamps(cache: &TokenCache, section: Section, key: &str) -> Value {
    let mut value = serde_json::to_value(cache.get(section, key).unwrap()).unwrap();
    for name in TIMESTAMPS {
        if let Some(v) = value.get_mut(name) {
            *v = json!("<timestamp>");
        }
    }
    value
}

fn assert_same_entries(name: &str, ours: &TokenCache, msal: &TokenCache) {
    for section in Section::ALL {
        let our_keys: BTreeSet<&str> = ours.entries(section).map(|(k, _)| k).collect();
        let msal_keys: BTreeSet<&str> = msal.entries(section).map(|(k, _)| k).collect();
        assert_eq!(our_keys, msal_keys, "{name}: {} keys", section.name());
        for key in msal_keys {
            assert_eq!(
                fields_without_timestamps(ours, section, key),
                fields_without_timestamps(msal, section, key),
                "{name}: {} {key}",
                section.name()
            );
        }
    }
}

#[test]
fn write_path_matches_msal_for_user_logins() {
    let msal = load("public-two-users");
    let client = "51f81489-12ee-4a9e-aaae-a2591f45987d";
    let login = |user: &str, oid: &str, scope: &str, expires_in: u64| Write {
        client_id: client,
        environment: "login.microsoftonline.com",
        realm: TENANT,
        grant_type: "authorization_code",
        response: user_response(&msal, user, oid, client, scope, expires_in, TENANT, false),
        requested: &[],
        fmi_path: None,
    };
    let ours = replay(&[
        login(
            "alice",
            ALICE,
            "User.Read profile openid email",
            315_360_000,
        ),
        login(
            "alice",
            ALICE,
            "Mail.Read Mail.Send profile openid email",
            315_360_000,
        ),
        login("bob", BOB, "User.Read profile openid email", 315_360_000),
        login("bob", BOB, "Files.Read profile openid email", 120),
    ]);
    assert_same_entries("public-two-users", &ours, &msal);
}

/// One sign-in by alice, replayed as make_fixtures.py did it, compared with `fixture`.
struct OneLogin<'a> {
    fixture: &'a str,
    client: &'a str,
    environment: &'a str,
    realm: &'a str,
    grant_type: &'a str,
    scope: &'a str,
    tid: &'a str,
    foci: bool,
}

fn assert_one_login_matches(login: OneLogin<'_>) {
    let msal = load(login.fixture);
    let response = user_response(
        &msal,
        "alice",
        ALICE,
        login.client,
        login.scope,
        315_360_000,
        login.tid,
        login.foci,
    );
    let ours = replay(&[Write {
        client_id: login.client,
        environment: login.environment,
        realm: login.realm,
        grant_type: login.grant_type,
        response,
        requested: &[],
        fmi_path: None,
    }]);
    assert_same_entries(login.fixture, &ours, &msal);
}

#[test]
fn write_path_matches_msal_for_foci_b2c_and_user_fic() {
    assert_one_login_matches(OneLogin {
        fixture: "foci",
        client: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        environment: "login.microsoftonline.com",
        realm: TENANT,
        grant_type: "authorization_code",
        scope: "https://management.core.windows.net//user_impersonation",
        tid: TENANT,
        foci: true,
    });
    assert_one_login_matches(OneLogin {
        fixture: "b2c",
        client: "51f81489-12ee-4a9e-aaae-a2591f45987d",
        environment: "contoso.b2clogin.com",
        realm: "contoso.onmicrosoft.com",
        grant_type: "authorization_code",
        scope: "https://contoso.onmicrosoft.com/api/read openid",
        tid: "b2c-tenant-id-0001",
        foci: false,
    });
    assert_one_login_matches(OneLogin {
        fixture: "agent-user",
        client: "c3d4e5f6-0000-4000-8000-00000000a9e1",
        environment: "login.microsoftonline.com",
        realm: TENANT,
        grant_type: "user_fic",
        scope: "https://graph.microsoft.com/User.Read profile openid",
        tid: TENANT,
        foci: false,
    });
}

#[test]
fn write_path_matches_msal_for_app_tokens_fmi_paths_and_obo() {
    let msal = load("confidential");
    let client = "a0e4b1c2-3d4e-4f50-8a6b-7c8d9e0f1a2b";
    let app = |name: &str,
               scope: &'static [&'static str],
               refresh_in: Option<u64>,
               fmi_path: Option<&'static str>| Write {
        client_id: client,
        environment: "login.microsoftonline.com",
        realm: TENANT,
        grant_type: "client_credentials",
        response: app_response(name, refresh_in),
        requested: scope,
        fmi_path,
    };
    let ours = replay(&[
        app(
            "graph",
            &["https://graph.microsoft.com/.default"],
            None,
            None,
        ),
        app(
            "storage",
            &["https://storage.azure.com/.default"],
            Some(157_680_000),
            None,
        ),
        app(
            "fmi-agent-0001",
            &["api://AzureADTokenExchange/.default"],
            None,
            Some("agent-0001"),
        ),
        app(
            "fmi-agent-0002",
            &["api://AzureADTokenExchange/.default"],
            None,
            Some("agent-0002"),
        ),
        Write {
            client_id: client,
            environment: "login.microsoftonline.com",
            realm: TENANT,
            grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
            response: user_response(
                &msal,
                "alice",
                ALICE,
                client,
                "https://graph.microsoft.com/User.Read profile openid",
                315_360_000,
                TENANT,
                false,
            ),
            requested: &[],
            fmi_path: None,
        },
    ]);
    assert_same_entries("confidential", &ours, &msal);
}
