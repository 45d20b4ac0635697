//! The web console: four static files from `web/`, embedded in the binary so `omendb up` needs nothing
//! else (no Node, no CDN). Any other GET that wants HTML gets `index.html`, so deep links work. With
//! `web_dir` set (`OMENDB_CP_WEB_DIR`), files are read from disk on each request instead: for working
//! on the console without rebuilding.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};

use crate::error::Error;
use crate::state::AppState;

struct File {
    path: &'static str,
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const FILES: &[File] = &[
    File {
        path: "/",
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../../../web/index.html"),
    },
    File {
        path: "/app.js",
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../../web/app.js"),
    },
    File {
        path: "/app.css",
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../../web/app.css"),
    },
    File {
        path: "/favicon.svg",
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../../../web/favicon.svg"),
    },
];

fn serve(state: &AppState, file: &File) -> Response {
    let body: Vec<u8> = if state.config.web_dir.is_empty() {
        file.bytes.to_vec()
    } else {
        match std::fs::read(std::path::Path::new(&state.config.web_dir).join(file.name)) {
            Ok(b) => b,
            Err(_) => return Error::NotFound.into_response(),
        }
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    // Not content-hashed, so revalidate every time; they are small and served from memory.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// The router's fallback: console files, the console for HTML navigations, JSON 404 for the rest.
pub async fn fallback(State(state): State<AppState>, req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Error::NotFound.into_response();
    }
    let path = req.uri().path();
    if let Some(f) = FILES.iter().find(|f| f.path == path) {
        return serve(&state, f);
    }
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && !path.starts_with("/v1/") && !path.contains('.') {
        return serve(&state, &FILES[0]);
    }
    Error::NotFound.into_response()
}
