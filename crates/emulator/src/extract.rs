//! The request extractors the endpoints share.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::entra_error::EntraError;
use crate::realm::Realm;
use crate::state::AppState;

/// The realm of the request's authority path; an unknown tenant or policy is Entra's
/// "tenant not found".
pub(crate) struct AuthorityRealm(pub(crate) Realm);

impl FromRequestParts<Arc<AppState>> for AuthorityRealm {
    type Rejection = EntraError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| EntraError::unknown_tenant(None))?;
        Realm::from_path(&state.config, &params, parts.uri.path())
            .map(AuthorityRealm)
            .ok_or_else(|| EntraError::unknown_tenant(params.get("tenant")))
    }
}
