//! The dashboard of `shoal run`: one page, its script and its style sheet, embedded in
//! the binary (the page loads with no internet and nothing to install), served at `/`.
//! The page reads only the JSON API (`/api/v1/status`, `/events`, `/events/stream`,
//! `/nodes`, `/volumes`, `/plan`): what a person sees is what scripts read. Plain HTML,
//! CSS and JavaScript, no build step: a read-only page of tables and lists needs no
//! framework, and a reader of this repository can read the page as it is served.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const INDEX: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/dashboard.js");
const STYLE: &str = include_str!("dashboard/dashboard.css");

/// Only the page's own files and API: nothing inline, nothing from elsewhere, no frames.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    axum::Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/dashboard.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/dashboard.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // A new binary may serve a new page: never show an old one.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
