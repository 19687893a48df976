//! The web console: static assets compiled into the binary (no Node toolchain to build or
//! run jwkd), served under `/console/`. The page is plain JavaScript that calls the same
//! `/apiops` routes with the token the user signs in with (kept in the tab's session storage,
//! sent as a bearer header, never put in a URL). Every answer carries a Content-Security-Policy
//! that allows scripts, styles and requests from jwkd itself only — no inline script, no
//! third party — and is never framed.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The policy of every console answer.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// The assets: name under `/console/`, content type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../console/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../console/style.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../console/favicon.svg"),
    ),
];

/// `GET /console/`: the page.
pub async fn index() -> Response {
    asset_response("index.html")
}

/// `GET /console/{file}`: one asset, or 404.
pub async fn asset(Path(file): Path<String>) -> Response {
    asset_response(&file)
}

fn asset_response(file: &str) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(name, _, _)| *name == file) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "No such file in the console!",
        )
            .into_response();
    };
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        *body,
    )
        .into_response();
    secure(response.headers_mut());
    response
}

/// The headers that keep the console's answers to themselves.
fn secure(headers: &mut axum::http::HeaderMap) {
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        // Assets change with the binary: asked again each time (they are small).
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ] {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn assets_are_served_with_their_type_and_the_policy_and_others_are_404() {
        let page = index().await;
        assert_eq!(page.status(), StatusCode::OK);
        let headers = page.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        let script = asset(Path("app.js".to_owned())).await;
        assert_eq!(
            script.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        for missing in ["", "app.js.map", "../Cargo.toml", "index.htm"] {
            let answer = asset(Path(missing.to_owned())).await;
            assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{missing}");
        }
    }

    /// The page runs no inline script or style (the policy would block it) and asks for
    /// nothing but jwkd's own assets and `/apiops` routes.
    #[test]
    fn the_page_has_no_inline_script_style_or_third_party_reference() {
        let asset = |name: &str| ASSETS.iter().find(|a| a.0 == name).unwrap().2;
        let page = asset("index.html");
        assert_eq!(page.matches("<script").count(), 1);
        assert!(page.contains(r#"<script type="module" src="/console/app.js"></script>"#));
        for forbidden in ["<style", " style=", " on", "javascript:", "//"] {
            assert!(!page.contains(forbidden), "index.html holds {forbidden}");
        }
        let css = asset("style.css");
        for forbidden in ["url(", "@import"] {
            assert!(!css.contains(forbidden), "style.css holds {forbidden}");
        }
        let script = asset("app.js");
        // One way out: the API, by a path on this origin.
        assert_eq!(script.matches("fetch(").count(), 1);
        assert!(script.contains("fetch('/apiops' + path, init)"));
        // Page text is set as text, never parsed as HTML or run.
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "XMLHttpRequest",
            "import(",
            "localStorage",
        ] {
            assert!(!script.contains(forbidden), "app.js uses {forbidden}");
        }
    }
}
