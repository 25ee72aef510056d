//! Access token formats. Entra issues an access token in the format its *resource*
//! accepts, whichever endpoint the client used: Graph and Storage accept v1, so their
//! tokens are v1 even from the v2.0 token endpoint. The claim builders write v2 claims;
//! [`follow_resource_version`] turns them into v1 when the resource says so.

use serde_json::{Value, json};

use crate::config::TokenVersion;
use crate::state::AppState;

/// Rewrites the v2 claims of an access token into v1 when its audience (`aud`) accepts
/// v1 tokens: `ver` `1.0`, the STS issuer `https://sts.windows.net/{tid}/`, `appid` and
/// `appidacr` instead of `azp`, and `unique_name` instead of `preferred_username`.
pub(crate) fn follow_resource_version(state: &AppState, claims: &mut Value) {
    let accepts_v1 = claims["aud"]
        .as_str()
        .and_then(|aud| state.config.resource(aud))
        .is_some_and(|resource| resource.token_version() == TokenVersion::V1);
    let Some(object) = claims.as_object_mut().filter(|_| accepts_v1) else {
        return;
    };
    let tenant_id = object
        .get("tid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let issuer = format!("https://sts.windows.net/{tenant_id}/");
    object.insert("iss".into(), json!(issuer));
    object.insert("ver".into(), json!("1.0"));
    if let Some(client_id) = object.remove("azp") {
        let authentication = client_authentication(state, client_id.as_str().unwrap_or_default());
        object.insert("appid".into(), client_id);
        object.insert("appidacr".into(), json!(authentication));
    }
    if let Some(username) = object.remove("preferred_username") {
        object.insert("unique_name".into(), username);
    }
}

/// `appidacr`: how the client `client_id` authenticates, as the directory says: `0` a
/// public client, `1` a secret, `2` an assertion (a certificate, a federated token, an
/// agent identity's token from its blueprint) or a managed identity.
fn client_authentication(state: &AppState, client_id: &str) -> &'static str {
    let config = &state.config;
    let managed = config
        .managed_identities
        .iter()
        .any(|identity| identity.client_id == client_id);
    if managed || config.agent_by_client_id(client_id).is_some() {
        return "2";
    }
    match config.app_by_client_id(client_id) {
        Some(app) if app.secret.is_some() => "1",
        Some(app) if crate::client_auth::is_confidential(state, app) => "2",
        _ => "0",
    }
}
