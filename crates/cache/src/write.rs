//! The write path: a token response plus its request context become the same entries,
//! under the same keys, that MSAL's `TokenCache.add` writes.

use serde_json::{Map, Value};

use crate::cache::TokenCache;
use crate::entry::{Entry, Field};
use crate::keys;
use crate::section::Section;

/// Grants after which MSAL records how the account was established.
const ACCOUNT_ESTABLISHING_GRANTS: &[&str] = &[
    "broker",
    "authorization_code",
    "password",
    "urn:ietf:params:oauth:grant-type:device_code",
    "user_fic",
];

/// The grant that redeems a refresh token.
const REFRESH_TOKEN_GRANT: &str = "refresh_token";

/// A token response and the request that got it.
#[derive(Clone, Copy, Debug)]
pub struct TokenEvent<'a> {
    /// The client that asked.
    pub client_id: &'a str,
    /// The authority host (the cache's `environment`).
    pub environment: &'a str,
    /// The authority's tenant segment (the cache's `realm`).
    pub realm: &'a str,
    /// The granted scopes (the response's `scope`, or the requested ones when the
    /// response names none); they are sorted into the `target`.
    pub scopes: &'a [&'a str],
    /// The `grant_type` sent.
    pub grant_type: &'a str,
    /// The response body (a JSON object).
    pub response: &'a Map<String, Value>,
    /// Extra request fields that isolate the token in the cache (e.g. `fmi_path`).
    pub extra_fields: &'a [(&'a str, &'a str)],
    /// Now, in epoch seconds.
    pub now: u64,
}

/// What [`TokenCache::add`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Added {
    /// The account's `uid.utid`, for user tokens.
    pub home_account_id: Option<String>,
    /// The access token's key, if one was written.
    pub access_token_key: Option<String>,
}

/// What every entry of one response shares, worked out once.
struct Context<'e> {
    event: &'e TokenEvent<'e>,
    /// The authority host, lowercased as MSAL stores it.
    environment: String,
    /// The account's `uid.utid`, for user tokens.
    home_account_id: Option<String>,
    /// The scopes, sorted and deduplicated, space-separated.
    target: String,
    /// The id token's claims (empty without one).
    claims: Map<String, Value>,
}

impl<'e> Context<'e> {
    fn new(event: &'e TokenEvent<'e>) -> Self {
        let claims = event
            .text("id_token")
            .map(keys::id_token_claims)
            .unwrap_or_default();
        let mut scopes: Vec<&str> = event.scopes.to_vec();
        scopes.sort_unstable();
        scopes.dedup();
        Self {
            event,
            environment: event.environment.to_ascii_lowercase(),
            home_account_id: home_account_id(event.response, &claims),
            target: scopes.join(" "),
            claims,
        }
    }

    /// The home account id as keys hold it: empty for app tokens.
    fn home(&self) -> &str {
        self.home_account_id.as_deref().unwrap_or_default()
    }
}

impl TokenEvent<'_> {
    /// The partition of a partitioned cache that this response's entries go into (see
    /// [`crate::partition_key`]): the app's, the incoming assertion's (on-behalf-of) or
    /// the user's.
    pub fn partition_key(&self) -> String {
        let claims = self
            .text("id_token")
            .map(keys::id_token_claims)
            .unwrap_or_default();
        let home = home_account_id(self.response, &claims);
        let ext = keys::ext_cache_key(self.extra_fields.iter().copied());
        crate::partition::partition_key(self.client_id, self.realm, home.as_deref(), ext.as_deref())
    }

    /// A non-empty string member of the response.
    fn text(&self, name: &str) -> Option<&str> {
        self.response
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
}

impl TokenCache {
    /// Adds a token response's tokens, account and app metadata.
    ///
    /// One difference from MSAL: a response to a refresh token (`grant_type`
    /// `refresh_token`) for an account that has no refresh token left here writes
    /// nothing, so that a process that redeemed a refresh token another process signed
    /// out meanwhile does not bring the account back (run under the lock, on what is
    /// stored, as [`SharedTokenCache::write`](crate::SharedTokenCache::write) runs it).
    pub fn add(&mut self, event: &TokenEvent<'_>) -> Added {
        let context = Context::new(event);
        if event.grant_type == REFRESH_TOKEN_GRANT
            && let Some(home) = context.home_account_id.as_deref()
            && self
                .find_account_refresh_token(home, &context.environment, |_| true)
                .is_none()
        {
            tracing::debug!("not caching a refresh for an account that was signed out");
            return Added::default();
        }
        let access_token_key = event
            .text("access_token")
            .map(|secret| self.add_access_token(&context, secret));
        if let Some(home) = context
            .home_account_id
            .as_deref()
            .filter(|_| event.response.contains_key("client_info"))
        {
            self.add_account(&context, home);
        }
        if let Some(id_token) = event.text("id_token") {
            self.add_id_token(&context, id_token);
        }
        if let Some(refresh_token) = event.text("refresh_token") {
            self.add_refresh_token(&context, refresh_token);
        }
        self.add_app_metadata(&context);
        Added {
            home_account_id: context.home_account_id,
            access_token_key,
        }
    }

    /// The access token; returns its key.
    fn add_access_token(&mut self, context: &Context<'_>, secret: &str) -> String {
        let (event, response) = (context.event, context.event.response);
        let expires_in = number(response, "expires_in")
            .or_else(|| number(response, "expires_on").map(|on| on.saturating_sub(event.now)))
            .unwrap_or(600);
        let ext_expires_in = number(response, "ext_expires_in").unwrap_or(expires_in);
        let ext = keys::ext_cache_key(event.extra_fields.iter().copied());
        let mut at = Entry::new();
        at.set(Field::CredentialType, "AccessToken");
        at.set(Field::Secret, secret);
        at.set_opt(Field::HomeAccountId, context.home_account_id.as_deref());
        at.set(Field::Environment, context.environment.as_str());
        at.set(Field::ClientId, event.client_id);
        at.set(Field::Target, context.target.as_str());
        at.set(Field::Realm, event.realm);
        at.set(
            Field::TokenType,
            event.text("token_type").unwrap_or("Bearer"),
        );
        at.set(Field::CachedAt, event.now.to_string());
        at.set(Field::ExpiresOn, (event.now + expires_in).to_string());
        at.set(
            Field::ExtendedExpiresOn,
            (event.now + ext_expires_in).to_string(),
        );
        if let Some(ext) = &ext {
            at.set(Field::ExtCacheKey, ext.as_str());
        }
        if let Some(refresh_in) = number(response, "refresh_in") {
            at.set(Field::RefreshOn, (event.now + refresh_in).to_string());
        }
        let key = keys::access_token_key(
            context.home(),
            &context.environment,
            event.client_id,
            event.realm,
            &context.target,
            ext.as_deref(),
        );
        self.upsert(Section::AccessToken, key.clone(), at);
        key
    }

    /// The account `home` signed in as.
    fn add_account(&mut self, context: &Context<'_>, home: &str) {
        let (event, claims) = (context.event, &context.claims);
        let mut account = Entry::new();
        account.set(Field::HomeAccountId, home);
        account.set(Field::Environment, context.environment.as_str());
        account.set(Field::Realm, event.realm);
        let local = claim(claims, "oid")
            .or_else(|| claim(claims, "sub"))
            .unwrap_or_default();
        account.set(Field::LocalAccountId, local);
        let username = claim(claims, "preferred_username")
            .or_else(|| claim(claims, "upn"))
            .unwrap_or_default();
        account.set(Field::Username, username);
        account.set(
            Field::AuthorityType,
            if event.realm == "adfs" {
                "ADFS"
            } else {
                "MSSTS"
            },
        );
        if ACCOUNT_ESTABLISHING_GRANTS.contains(&event.grant_type) {
            account.set(Field::AccountSource, event.grant_type);
        }
        self.upsert(
            Section::Account,
            keys::account_key(home, &context.environment, event.realm),
            account,
        );
    }

    fn add_id_token(&mut self, context: &Context<'_>, id_token: &str) {
        let event = context.event;
        let mut idt = Entry::new();
        idt.set(Field::CredentialType, "IdToken");
        idt.set(Field::Secret, id_token);
        idt.set_opt(Field::HomeAccountId, context.home_account_id.as_deref());
        idt.set(Field::Environment, context.environment.as_str());
        idt.set(Field::Realm, event.realm);
        idt.set(Field::ClientId, event.client_id);
        self.upsert(
            Section::IdToken,
            keys::id_token_key(
                context.home(),
                &context.environment,
                event.client_id,
                event.realm,
            ),
            idt,
        );
    }

    fn add_refresh_token(&mut self, context: &Context<'_>, refresh_token: &str) {
        let event = context.event;
        let mut rt = Entry::new();
        rt.set(Field::CredentialType, "RefreshToken");
        rt.set(Field::Secret, refresh_token);
        rt.set_opt(Field::HomeAccountId, context.home_account_id.as_deref());
        rt.set(Field::Environment, context.environment.as_str());
        rt.set(Field::ClientId, event.client_id);
        rt.set(Field::Target, context.target.as_str());
        rt.set(Field::LastModificationTime, event.now.to_string());
        if let Some(family) = event.text("foci") {
            rt.set(Field::FamilyId, family);
        }
        self.upsert(
            Section::RefreshToken,
            keys::refresh_token_key(
                context.home(),
                &context.environment,
                event.client_id,
                &context.target,
            ),
            rt,
        );
    }

    fn add_app_metadata(&mut self, context: &Context<'_>) {
        let event = context.event;
        let mut metadata = Entry::new();
        metadata.set(Field::ClientId, event.client_id);
        metadata.set(Field::Environment, context.environment.as_str());
        if let Some(family) = event.text("foci") {
            metadata.set(Field::FamilyId, family);
        }
        self.upsert(
            Section::AppMetadata,
            keys::app_metadata_key(&context.environment, event.client_id),
            metadata,
        );
    }

    /// MSAL's `modify`: overlay the new fields on what the key held.
    fn upsert(&mut self, section: Section, key: String, entry: Entry) {
        let merged = match self.get(section, &key) {
            Some(old) => {
                let mut merged = old.clone();
                merged.merge_from(&entry);
                merged
            }
            None => entry,
        };
        self.insert(section, key, merged);
    }

    /// Replaces a refresh token's secret (rotation).
    pub fn update_refresh_token(&mut self, key: &str, secret: &str, now: u64) -> bool {
        let Some(mut entry) = self.get(Section::RefreshToken, key).cloned() else {
            return false;
        };
        entry.set(Field::Secret, secret);
        entry.set(Field::LastModificationTime, now.to_string());
        self.insert(Section::RefreshToken, key.to_owned(), entry);
        true
    }
}

/// `uid.utid` from `client_info`, else the id token's `sub` (ADFS), else none (app tokens).
fn home_account_id(response: &Map<String, Value>, claims: &Map<String, Value>) -> Option<String> {
    let info = response
        .get("client_info")
        .and_then(Value::as_str)
        .and_then(keys::decode_json_part);
    if let Some(info) = info
        && let (Some(uid), Some(utid)) = (
            info.get("uid").and_then(Value::as_str),
            info.get("utid").and_then(Value::as_str),
        )
    {
        return Some(format!("{uid}.{utid}"));
    }
    claim(claims, "sub").map(str::to_owned)
}

fn claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

fn number(response: &Map<String, Value>, name: &str) -> Option<u64> {
    match response.get(name)? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
