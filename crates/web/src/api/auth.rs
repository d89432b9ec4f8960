//! Who calls the API: a company's token in `Authorization: Bearer pt_…`, nothing else (no cookie is read, so a
//! browser's session never reaches the API). The scope is minted from the token by the repository; a read token
//! is a viewer, a read and write token a member. Each token has its bucket of requests (429 beyond).

use super::problem::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use portal_persistence::TenantScope;
use portal_persistence::api::ApiToken;
use portal_persistence::scope::TenantRole;
use portal_persistence::tenants::Tenant;
use std::future::Future;
use std::pin::Pin;

/// A request's checked token: the company it acts for, and the scope that proves it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token: ApiToken,
    pub tenant: Tenant,
    pub scope: TenantScope,
}

impl Caller {
    /// Who did it, for the audit log and the use cases: the token's creator (actions through a token are
    /// attributed to the person who made it; the entry's details name the token).
    pub fn author(&self) -> portal_domain::ids::UserId {
        self.token.created_by
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|token| !token.is_empty() && token.len() <= 128)
}

async fn caller(req: &HttpRequest) -> Result<Caller, ApiError> {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Err(ApiError::Internal(anyhow::anyhow!("no application state")));
    };
    let secret = bearer(req).ok_or(ApiError::Unauthorized)?;
    let found = state
        .api
        .authenticate(&secret)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if let Err(wait) = state.api_rate.admit(found.token.id) {
        tracing::info!(token = %found.token.prefix, "API rate limit reached");
        return Err(ApiError::RateLimited {
            retry_after_secs: wait.as_secs() + 1,
        });
    }
    Ok(Caller {
        token: found.token,
        tenant: found.tenant,
        scope: found.scope,
    })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { caller(&req).await })
    }
}

/// A caller whose token may write (403 for a read token, before anything is loaded).
#[derive(Debug, Clone)]
pub struct Writer(pub Caller);

impl FromRequest for Writer {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = caller(&req).await?;
            if caller.scope.allows(TenantRole::Member) {
                Ok(Self(caller))
            } else {
                Err(ApiError::Forbidden)
            }
        })
    }
}

/// The request's `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    let valid = !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(key.to_owned())
    } else {
        Err(ApiError::IdempotencyMissing)
    }
}
