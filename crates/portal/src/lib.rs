//! The Mica web portal: one HTML page, vanilla JavaScript modules and a stylesheet, all compiled into the binary
//! and served by `mica server` at `/` and under `/portal/`. The page drives only the server's public REST API (the
//! one the CLI uses) with the user's bearer token; nothing is fetched from anywhere else, so it works offline.
//!
//! Besides the files, two small generated resources keep the browser's checks identical to the API's: the
//! module `/portal/rules.js` (limits, SKUs, versions, forbidden and known cassandra.yaml keys, all taken from the
//! Rust constants the API validates with) and `POST /portal/validate`, which runs the API's own validation
//! functions on a request the browser is about to send (see [`rules`]).

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};

pub mod rules;

/// URL prefix of every portal file except the page itself.
pub const ASSET_PREFIX: &str = "/portal/";

/// The page may load scripts, styles, images and data only from `mica server` itself (and the CA certificate
/// download from a `blob:` URL it creates), so no request can leave the machine even by mistake.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// Browsers must revalidate every file (an `ETag` round trip on loopback is cheap), so a new `mica` binary is
/// never hidden behind a stale cached script.
const CACHE_CONTROL: &str = "no-cache";

/// One embedded file: its URL path below `/portal/`, content type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";

macro_rules! asset {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!("../assets/", $path)),
        }
    };
}

/// Every static file of the portal.
const ASSETS: &[Asset] = &[
    asset!("portal.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/yaml.js", JS),
    asset!("js/clusters.js", JS),
    asset!("js/create.js", JS),
    asset!("js/cluster.js", JS),
    asset!("js/overview.js", JS),
    asset!("js/datacenters.js", JS),
    asset!("js/config.js", JS),
    asset!("js/activity.js", JS),
    asset!("js/metrics.js", JS),
];

/// The single page (served at `/`).
const INDEX_HTML: &[u8] = include_bytes!("../assets/index.html");

/// A served body with its precomputed entity tag.
struct Served {
    content_type: &'static str,
    body: Vec<u8>,
    etag: String,
}

impl Served {
    fn new(content_type: &'static str, body: Vec<u8>) -> Served {
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", hex(&digest[..12]));
        Served {
            content_type,
            body,
            etag,
        }
    }

    fn respond(&self, request_headers: &HeaderMap) -> Response {
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        if let Ok(etag) = HeaderValue::from_str(&self.etag) {
            headers.insert(header::ETAG, etag);
        }
        let unchanged = request_headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| tags.split(',').any(|t| t.trim() == self.etag));
        if unchanged {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        (StatusCode::OK, headers, self.body.clone()).into_response()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

static INDEX: LazyLock<Served> =
    LazyLock::new(|| Served::new("text/html; charset=utf-8", INDEX_HTML.to_vec()));
static RULES: LazyLock<Served> = LazyLock::new(|| Served::new(JS, rules::rules_module().into_bytes()));
static FILES: LazyLock<Vec<(&'static str, Served)>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| (a.path, Served::new(a.content_type, a.body.to_vec())))
        .collect()
});

/// The portal's routes: `/` (the page), `/portal/{file}` (scripts, styles, icon), `/portal/rules.js` and
/// `POST /portal/validate`. None needs the API token: they hold no cluster data.
pub fn router() -> axum::Router {
    axum::Router::new()
        .route("/", get(index))
        .route("/portal/validate", post(rules::validate))
        .route("/portal/{*file}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    INDEX.respond(&headers)
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    if file == "rules.js" {
        return RULES.respond(&headers);
    }
    match FILES.iter().find(|(path, _)| *path == file) {
        Some((_, served)) => served.respond(&headers),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("no portal file {ASSET_PREFIX}{file}"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::io::{Read, Write};

    /// Sends one raw HTTP/1.1 request to a freshly served portal router and returns the response text.
    fn request(raw: &str) -> String {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, router()).await });
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.write_all(raw.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    fn get(path: &str, extra: &str) -> String {
        request(&format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n"
        ))
    }

    #[test]
    fn page_and_assets_are_served_with_types_and_cache_headers() {
        let page = get("/", "");
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.contains("content-type: text/html; charset=utf-8"), "{page}");
        assert!(page.contains("cache-control: no-cache"), "{page}");
        assert!(
            page.contains("content-security-policy: default-src 'self'"),
            "{page}"
        );
        assert!(page.contains("/portal/js/app.js"), "{page}");
        for asset in ASSETS {
            let response = get(&format!("/portal/{}", asset.path), "");
            assert!(response.starts_with("HTTP/1.1 200"), "{}", asset.path);
            assert!(
                response.contains(&format!("content-type: {}", asset.content_type)),
                "{}",
                asset.path
            );
        }
        assert!(get("/portal/nope.js", "").starts_with("HTTP/1.1 404"));
    }

    #[test]
    fn a_matching_etag_answers_not_modified() {
        let css = FILES.iter().find(|(p, _)| *p == "portal.css").unwrap();
        let response = get(
            "/portal/portal.css",
            &format!("If-None-Match: {}\r\n", css.1.etag),
        );
        assert!(response.starts_with("HTTP/1.1 304"), "{response}");
    }

    #[test]
    fn no_asset_refers_to_another_origin() {
        for asset in ASSETS.iter().map(|a| a.body).chain([INDEX_HTML]) {
            let text = String::from_utf8_lossy(asset);
            for needle in ["http://", "https://", "//cdn", "@import url("] {
                // The SVG namespace URI is an identifier, not a request.
                let offending = text
                    .match_indices(needle)
                    .any(|(i, _)| !text[i..].starts_with("http://www.w3.org/2000/svg"));
                assert!(!offending, "an asset mentions {needle}");
            }
        }
    }

    #[test]
    fn every_module_import_names_a_served_file() {
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).unwrap();
            let targets = text
                .split("from '")
                .skip(1)
                .chain(text.split("import('").skip(1))
                .map(|rest| rest.split('\'').next().unwrap_or_default());
            for target in targets {
                let served = match target.strip_prefix("./") {
                    Some(name) => ASSETS.iter().any(|a| a.path == format!("js/{name}")),
                    None => target == "/portal/rules.js",
                };
                assert!(served, "{} imports {target}", asset.path);
            }
        }
    }
}
