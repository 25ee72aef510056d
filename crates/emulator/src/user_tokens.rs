//! Delegated (user) tokens: the scopes a request names, and the response that carries
//! an access token, an id token, `client_info` and a refresh token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::config::{ResourceConfig, UserConfig};
use crate::entra_error::EntraError;
use crate::form::Form;
use crate::graph::GRAPH_RESOURCE;
use crate::realm::Realm;
use crate::sessions::RefreshGrant;
use crate::state::AppState;

const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
/// How long a refresh token can be redeemed: 90 days.
const REFRESH_TOKEN_LIFETIME_SECS: u64 = 90 * 24 * 3600;
/// How long an id token is valid.
const ID_TOKEN_LIFETIME_SECS: u64 = 3600;

/// The scopes of a delegated request: one resource, its permissions, and the OpenID
/// Connect scopes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DelegatedScopes {
    /// The resource's app id URI, the token's `aud`.
    pub(crate) resource: String,
    /// Permission names granted (`scp`).
    pub(crate) permissions: Vec<String>,
    /// Resource scopes as requested, echoed in the response's `scope`.
    pub(crate) requested: Vec<String>,
    /// OpenID Connect scopes requested.
    pub(crate) oidc: Vec<String>,
}

impl DelegatedScopes {
    pub(crate) fn parse(state: &AppState, scope: &str) -> Result<Self, EntraError> {
        let (oidc, requested): (Vec<&str>, Vec<&str>) = scope
            .split_whitespace()
            .partition(|s| OIDC_SCOPES.contains(&s.to_ascii_lowercase().as_str()));
        let mut resource: Option<&ResourceConfig> = None;
        let mut permissions = Vec::new();
        for scope in &requested {
            let (uri, permission) = match scope.rsplit_once('/') {
                Some((uri, permission)) if uri.contains(':') => (uri, permission),
                // A scope without a resource (`User.Read`) is Graph's, as in Entra.
                _ => (GRAPH_RESOURCE, *scope),
            };
            let found = state.config.resource(uri).ok_or_else(|| {
                EntraError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "invalid_resource",
                    500011,
                    format!(
                        "The resource principal named {uri} was not found in the tenant named {}.",
                        state.config.tenant_domain
                    ),
                )
            })?;
            if resource.is_some_and(|r| r.app_id_uri != found.app_id_uri) {
                return Err(invalid_scope(
                    28000,
                    "Provided value for the input parameter scope is not valid because it contains more than one resource.",
                ));
            }
            resource = Some(found);
            if permission == ".default" {
                permissions.extend(found.scopes.iter().cloned());
            } else if let Some(known) = found
                .scopes
                .iter()
                .find(|s| s.eq_ignore_ascii_case(permission))
            {
                permissions.push(known.clone());
            } else {
                return Err(invalid_scope(
                    70011,
                    format!(
                        "The provided value for the input parameter 'scope' is not valid. The scope '{scope}' does not exist."
                    ),
                ));
            }
        }
        permissions.dedup();
        let resource = match resource {
            Some(r) => r.app_id_uri.clone(),
            None if oidc.is_empty() => {
                return Err(invalid_scope(
                    70011,
                    "The provided request must include a 'scope' input parameter.",
                ));
            }
            // Sign-in alone: Entra issues a Graph token for the OpenID scopes.
            None => GRAPH_RESOURCE.to_owned(),
        };
        Ok(Self {
            resource,
            permissions,
            requested: requested.iter().map(|s| (*s).to_owned()).collect(),
            oidc: oidc.iter().map(|s| s.to_ascii_lowercase()).collect(),
        })
    }

    fn wants(&self, oidc_scope: &str) -> bool {
        self.oidc.iter().any(|s| s == oidc_scope)
    }

    /// The response's `scope`: what was asked for, without `offline_access` (Entra does
    /// not echo it).
    fn granted(&self) -> String {
        let oidc = self.oidc.iter().filter(|s| *s != "offline_access").cloned();
        let mut all: Vec<String> = self.requested.iter().cloned().chain(oidc).collect();
        all.dedup();
        all.join(" ")
    }
}

fn invalid_scope(code: u64, message: impl Into<String>) -> EntraError {
    EntraError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "invalid_scope",
        code,
        message,
    )
}

/// What a delegated token is issued for.
pub(crate) struct UserGrant<'a> {
    pub(crate) realm: &'a Realm,
    pub(crate) client_id: &'a str,
    pub(crate) user: &'a UserConfig,
    pub(crate) scopes: &'a DelegatedScopes,
    /// The `nonce` of the authorization request, for the id token.
    pub(crate) nonce: Option<&'a str>,
    /// Whether the client asked for `client_info=1`.
    pub(crate) client_info: bool,
    /// Extra access token claims (Agent ID's `xms_*`).
    pub(crate) extra: Map<String, Value>,
}

/// Whether the request asks for `client_info` (`client_info=1`).
pub(crate) fn asks_for_client_info(form: &Form) -> bool {
    form.get("client_info").map(String::as_str) == Some("1")
}

/// The token response for a user: access token, and as the request asks an id token
/// (`openid`), `client_info`, and a refresh token (`offline_access`).
pub(crate) fn issue(state: &AppState, grant: UserGrant<'_>) -> Result<Value, EntraError> {
    let now = state.now();
    let uti = uuid::Uuid::new_v4().simple().to_string();
    let claims = access_token_claims(state, &grant, &uti, now);
    state
        .revocations
        .record(&uti, &grant.user.object_id, grant.client_id);
    let mut response = state.access_token_response(&claims, Some(grant.scopes.granted()))?;
    if grant.scopes.wants("openid") {
        response["id_token"] = json!(id_token(state, &grant, now)?);
    }
    if grant.client_info {
        response["client_info"] = json!(client_info(&grant));
    }
    if grant.scopes.wants("offline_access") {
        let family = state
            .config
            .app_by_client_id(grant.client_id)
            .and_then(|a| a.family.clone());
        if let Some(family) = &family {
            response["foci"] = json!(family);
        }
        let refresh_token = state.refresh_tokens.issue(RefreshGrant {
            user_object_id: grant.user.object_id.clone(),
            client_id: grant.client_id.to_owned(),
            family,
            expires_at: now + REFRESH_TOKEN_LIFETIME_SECS,
            revoked: false,
        });
        response["refresh_token"] = json!(refresh_token);
    }
    Ok(response)
}

/// The access token's claims, issued at `now`; `grant.extra` overrides the defaults.
fn access_token_claims(state: &AppState, grant: &UserGrant<'_>, uti: &str, now: u64) -> Value {
    let user = grant.user;
    let mut claims = json!({
        "aud": grant.scopes.resource,
        "iss": grant.realm.issuer(&state.base_url),
        "iat": now,
        "nbf": now,
        "exp": now + state.config.token_lifetime_secs,
        "tid": grant.realm.tenant_id,
        "oid": user.object_id,
        "sub": pairwise_subject(&user.object_id, grant.client_id),
        "azp": grant.client_id,
        "appid": grant.client_id,
        "idtyp": "user",
        "scp": grant.scopes.permissions.join(" "),
        "name": user.display_name,
        "preferred_username": user.upn,
        "upn": user.upn,
        "ver": "2.0",
        "uti": uti,
    });
    if let Some(policy) = &grant.realm.policy {
        claims["tfp"] = json!(policy);
    }
    if let Some(object) = claims.as_object_mut() {
        object.extend(grant.extra.clone());
    }
    claims
}

/// The signed id token, for the client, with the authorization request's `nonce`.
fn id_token(state: &AppState, grant: &UserGrant<'_>, now: u64) -> Result<String, EntraError> {
    let user = grant.user;
    let mut claims = json!({
        "aud": grant.client_id,
        "iss": grant.realm.issuer(&state.base_url),
        "iat": now,
        "nbf": now,
        "exp": now + ID_TOKEN_LIFETIME_SECS,
        "tid": grant.realm.tenant_id,
        "oid": user.object_id,
        "sub": pairwise_subject(&user.object_id, grant.client_id),
        "name": user.display_name,
        "preferred_username": user.upn,
        "ver": "2.0",
    });
    if let Some(nonce) = grant.nonce {
        claims["nonce"] = json!(nonce);
    }
    if let Some(policy) = &grant.realm.policy {
        claims["tfp"] = json!(policy);
    }
    state.sign(&claims)
}

/// `client_info`: base64url of `{"uid", "utid"}`, the account's home ids. B2C's uid
/// carries the policy, so each policy is its own account.
fn client_info(grant: &UserGrant<'_>) -> String {
    let uid = match &grant.realm.policy {
        Some(policy) => format!("{}-{policy}", grant.user.object_id),
        None => grant.user.object_id.clone(),
    };
    let info = json!({"uid": uid, "utid": grant.realm.home_tenant_id});
    URL_SAFE_NO_PAD.encode(info.to_string())
}

/// Tokens for a grant remembered by name (an authorization code, an approved device
/// code): the user must still exist and the scopes still parse.
pub(crate) fn issue_remembered(
    state: &AppState,
    realm: &Realm,
    client_id: &str,
    user_name: &str,
    scope: &str,
    nonce: Option<&str>,
    form: &Form,
) -> Result<Value, EntraError> {
    let user = state.config.user(user_name).ok_or_else(|| {
        EntraError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_grant",
            50034,
            "The user account does not exist.",
        )
    })?;
    let scopes = DelegatedScopes::parse(state, scope)?;
    issue(
        state,
        UserGrant {
            realm,
            client_id,
            user,
            scopes: &scopes,
            nonce,
            client_info: asks_for_client_info(form),
            extra: Map::new(),
        },
    )
}

/// Entra's `sub` is pairwise: the same user has a different `sub` in each app.
fn pairwise_subject(object_id: &str, client_id: &str) -> String {
    let name = format!("{object_id}/{client_id}");
    URL_SAFE_NO_PAD
        .encode(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()).as_bytes())
}
