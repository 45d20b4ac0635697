//! The REST API (`/v1`), its OpenAPI document (generated from the handlers by utoipa), JWKS, health and
//! metrics, with the cross-cutting layers: body limit, CORS, security headers, request metrics.

mod accounts;
mod api_keys;
mod audit;
mod billing;
mod console;
mod databases;
#[cfg(test)]
mod fuzz;
mod json;
mod layers;
mod meta;
mod session_cookies;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OmenDB Cloud API",
        description = "Accounts, API keys and PostgreSQL-compatible learned-index databases.",
        version = "1"
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign-up, login and sessions"),
        (name = "databases", description = "Tenant databases"),
        (name = "api-keys", description = "API keys for automation"),
        (name = "audit", description = "The organisation's audit log"),
        (name = "billing", description = "Plan, payments and usage (Stripe)"),
        (name = "meta", description = "Plans and service information"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or omk_ API key")
                    .build(),
            ),
        );
    }
}

/// The whole HTTP application; tests drive it over a real socket.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(accounts::router())
        .merge(databases::router())
        .merge(api_keys::router())
        .merge(audit::router())
        .merge(billing::router())
        .merge(meta::router())
        .split_for_parts();
    let openapi = Arc::new(openapi);
    let router = Router::new()
        .merge(api)
        .route(
            "/v1/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc) }
            }),
        )
        .route("/.well-known/jwks.json", get(meta::jwks))
        .route("/health", get(meta::health))
        .route("/metrics", get(meta::metrics))
        .fallback(console::fallback)
        .layer(DefaultBodyLimit::max(state.config.limits.max_body_bytes));
    layers::apply(router, &state).with_state(state)
}
