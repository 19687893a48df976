//! jwk-fetch: a bounded HTTP(S) fetch of a JWK or JWK Set (the product's URL source).
//!
//! Defaults are the product's: connect timeout 5000 ms, read timeout 10000 ms, size limit
//! 1048576 bytes. The read timeout bounds the whole response (a server that drips one byte a
//! second fails in time); the size limit holds while streaming (a Content-Length over it
//! fails before the body is read; compression is not requested, and a compressed body is
//! refused); at most 5 redirects, http and https only, no proxy from the environment; TLS by
//! rustls with the Mozilla (webpki) roots plus optional extra CAs. The SSRF guard refuses
//! non-public addresses on every hop unless `allow_private_networks` is set.

mod guard;

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use jwk_core::{Jwk, JwkSet};
use ureq::tls::{Certificate, RootCerts, TlsConfig};

pub use guard::forbidden_reason;

/// Options of one fetch. `Default` gives the product's defaults and the SSRF guard on.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Time to resolve and connect (product default 5000 ms).
    pub connect_timeout: Duration,
    /// Time for the request, the response head and the whole body (product default 10000 ms).
    pub read_timeout: Duration,
    /// Most body bytes accepted (product default 1048576).
    pub size_limit: u64,
    /// Most redirects followed (default 5).
    pub max_redirects: u32,
    /// Let the fetch reach loopback, private and other non-public addresses. Off by default:
    /// turn it on for tests and on-premise key servers only.
    pub allow_private_networks: bool,
    /// Addresses let through even with the guard on (an on-premise key server), exactly.
    pub allowed_addresses: Vec<std::net::IpAddr>,
    /// Extra trusted CA certificates (DER), added to the Mozilla roots.
    pub extra_root_certs: Vec<Vec<u8>>,
    /// `If-None-Match` for a refresh (an earlier response's ETag).
    pub if_none_match: Option<String>,
    /// `If-Modified-Since` for a refresh (an earlier response's Last-Modified).
    pub if_modified_since: Option<String>,
}

/// The product's defaults.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5000;
/// The product's defaults.
pub const DEFAULT_READ_TIMEOUT_MS: u64 = 10_000;
/// The product's defaults.
pub const DEFAULT_SIZE_LIMIT: u64 = 1_048_576;

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            connect_timeout: Duration::from_millis(DEFAULT_CONNECT_TIMEOUT_MS),
            read_timeout: Duration::from_millis(DEFAULT_READ_TIMEOUT_MS),
            size_limit: DEFAULT_SIZE_LIMIT,
            max_redirects: 5,
            allow_private_networks: false,
            allowed_addresses: Vec::new(),
            extra_root_certs: Vec::new(),
            if_none_match: None,
            if_modified_since: None,
        }
    }
}

/// A fetched body with the validators a later refresh can send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The body (empty when `not_modified`).
    pub body: Vec<u8>,
    /// The `ETag` header.
    pub etag: Option<String>,
    /// The `Last-Modified` header.
    pub last_modified: Option<String>,
    /// True for `304 Not Modified` (a conditional refresh found nothing new).
    pub not_modified: bool,
    /// How long the server says the body stays fresh, in seconds: `Cache-Control: max-age`
    /// (`no-cache` and `no-store` read as 0), `None` when it says nothing.
    pub max_age: Option<u64>,
}

/// The freshness a `Cache-Control` value gives, in seconds: `max-age=N` (a number too large
/// saturates), 0 for `no-cache` or `no-store` (which win over a max-age), `None` when the
/// value says nothing of freshness or its max-age is not a number.
pub fn cache_max_age(value: &str) -> Option<u64> {
    let mut max_age = None;
    for directive in value.split(',') {
        let directive = directive.trim();
        let (name, arg) = match directive.split_once('=') {
            Some((name, arg)) => (name.trim(), Some(arg.trim().trim_matches('"'))),
            None => (directive, None),
        };
        if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
            return Some(0);
        }
        if name.eq_ignore_ascii_case("max-age")
            && let Some(arg) =
                arg.filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
        {
            max_age = Some(arg.parse::<u64>().unwrap_or(u64::MAX));
        }
    }
    max_age
}

/// Every way a fetch fails, each with a stable [`FetchError::code`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL does not parse or is not http(s).
    #[error("invalid URL: {detail}")]
    BadUrl {
        /// What is wrong.
        detail: String,
    },
    /// The host resolves only to addresses the SSRF guard refuses. The message names the
    /// class of address, never the address (a caller learns nothing of internal names).
    #[error(
        "refused to connect to {host} (it resolves to a {reason} address): URL sources and webhooks may only reach public addresses unless private networks are allowed (--allow-private-networks in jwk and jwkd, FetchOptions::allow_private_networks in the library)"
    )]
    BlockedAddress {
        /// The host of the URL (or redirect).
        host: String,
        /// The refused address.
        addr: std::net::IpAddr,
        /// Its class.
        reason: &'static str,
    },
    /// The host name does not resolve (no such name, or no name server reachable).
    #[error("the host name does not resolve")]
    HostNotFound,
    /// Resolving or connecting took longer than the connect timeout.
    #[error("could not connect within the connect timeout of {ms} ms")]
    ConnectTimeout {
        /// The timeout.
        ms: u128,
    },
    /// The response (head or body) took longer than the read timeout.
    #[error("the response did not arrive within the read timeout of {ms} ms")]
    ReadTimeout {
        /// The timeout.
        ms: u128,
    },
    /// The body is larger than the size limit.
    #[error("the response is larger than the size limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The server answered with a status other than 200 (or 304 to a conditional request).
    #[error("the server answered HTTP {status}")]
    HttpStatus {
        /// The status code.
        status: u16,
    },
    /// More redirects than allowed.
    #[error("more than {max} redirects")]
    TooManyRedirects {
        /// The cap.
        max: u32,
    },
    /// The connection failed (refused, reset, TLS handshake …).
    #[error("the connection failed: {detail}")]
    Connection {
        /// What failed.
        detail: String,
    },
    /// The body is not a JWK or JWK Set.
    #[error("the response is not a JWK or JWK Set: {detail}")]
    NotAJwk {
        /// Why.
        detail: String,
    },
    /// Selecting the key from the fetched set failed (kid required, not found, ...).
    #[error(transparent)]
    Select(jwk_core::Error),
}

impl FetchError {
    /// The stable code, e.g. `"fetch.too_large"`.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::BadUrl { .. } => "fetch.bad_url",
            FetchError::BlockedAddress { .. } => "fetch.blocked_address",
            FetchError::HostNotFound => "fetch.host_not_found",
            FetchError::ConnectTimeout { .. } => "fetch.connect_timeout",
            FetchError::ReadTimeout { .. } => "fetch.read_timeout",
            FetchError::TooLarge { .. } => "fetch.too_large",
            FetchError::HttpStatus { .. } => "fetch.http_status",
            FetchError::TooManyRedirects { .. } => "fetch.too_many_redirects",
            FetchError::Connection { .. } => "fetch.connection",
            FetchError::NotAJwk { .. } => "fetch.not_a_jwk",
            FetchError::Select(e) => e.code(),
        }
    }
}

fn tls_config(opts: &FetchOptions) -> TlsConfig {
    if opts.extra_root_certs.is_empty() {
        return TlsConfig::builder().root_certs(RootCerts::WebPki).build();
    }
    let mut roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    roots.extend(
        opts.extra_root_certs
            .iter()
            .map(|der| Certificate::from_der(der).to_owned()),
    );
    TlsConfig::builder()
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .build()
}

fn agent(opts: &FetchOptions) -> (ureq::Agent, Option<guard::Blocked>) {
    let read = Some(opts.read_timeout);
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .https_only(false)
        .proxy(None)
        .max_redirects(opts.max_redirects)
        .max_redirects_will_error(true)
        .accept("application/jwk-set+json, application/jwk+json, application/json")
        .tls_config(tls_config(opts))
        .timeout_resolve(Some(opts.connect_timeout))
        .timeout_connect(Some(opts.connect_timeout))
        .timeout_send_request(read)
        .timeout_recv_response(read)
        .timeout_recv_body(read)
        .timeout_global(Some(opts.connect_timeout + opts.read_timeout))
        .max_idle_connections(0)
        .build();
    let allowed = (!opts.allow_private_networks).then(|| opts.allowed_addresses.clone());
    let resolver = guard::GuardedResolver::new(allowed);
    let blocked = resolver.blocked.clone();
    let connector = ureq::unversioned::transport::DefaultConnector::default();
    (
        ureq::Agent::with_parts(config, connector, resolver),
        Some(blocked),
    )
}

fn map_error(e: ureq::Error, opts: &FetchOptions, blocked: Option<&guard::Blocked>) -> FetchError {
    use ureq::Timeout;
    let connect_ms = opts.connect_timeout.as_millis();
    let read_ms = opts.read_timeout.as_millis();
    match e {
        ureq::Error::HostNotFound => {
            let seen = blocked.and_then(|b| b.lock().unwrap_or_else(|p| p.into_inner()).take());
            match seen {
                Some((host, addr, reason)) => FetchError::BlockedAddress { host, addr, reason },
                None => FetchError::HostNotFound,
            }
        }
        ureq::Error::Timeout(Timeout::Resolve | Timeout::Connect) => {
            FetchError::ConnectTimeout { ms: connect_ms }
        }
        ureq::Error::Timeout(_) => FetchError::ReadTimeout { ms: read_ms },
        ureq::Error::BodyExceedsLimit(_) => FetchError::TooLarge {
            limit: opts.size_limit,
        },
        ureq::Error::TooManyRedirects => FetchError::TooManyRedirects {
            max: opts.max_redirects,
        },
        ureq::Error::BadUri(detail) => FetchError::BadUrl { detail },
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            FetchError::ReadTimeout { ms: read_ms }
        }
        other => FetchError::Connection {
            detail: other.to_string(),
        },
    }
}

/// Checks that `url` is an absolute http or https URL with a host (what [`fetch`] and
/// [`post_json`] accept), so a bad one is refused when it is configured, not when used.
pub fn check_url(url: &str) -> Result<(), FetchError> {
    // The scheme first: a URL such as file:///… does not parse as an HTTP URI at all.
    if let Some((scheme, _)) = url.split_once("://")
        && !scheme.eq_ignore_ascii_case("http")
        && !scheme.eq_ignore_ascii_case("https")
        && !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Err(FetchError::BadUrl {
            detail: format!("the scheme must be http or https, not {scheme}"),
        });
    }
    let uri: ureq::http::Uri =
        url.parse()
            .map_err(|e: ureq::http::uri::InvalidUri| FetchError::BadUrl {
                detail: e.to_string(),
            })?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => {
            return Err(FetchError::BadUrl {
                detail: format!("the scheme must be http or https, not {other}"),
            });
        }
        None => {
            return Err(FetchError::BadUrl {
                detail: "the URL needs a scheme (https://…)".to_owned(),
            });
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(FetchError::BadUrl {
            detail: "the URL has no host".to_owned(),
        });
    }
    Ok(())
}

/// Fetches the body at `url` within the options' bounds.
pub fn fetch(url: &str, opts: &FetchOptions) -> Result<Fetched, FetchError> {
    check_url(url)?;
    let (agent, blocked) = agent(opts);
    let mut request = agent.get(url);
    if let Some(etag) = &opts.if_none_match {
        request = request.header("If-None-Match", etag);
    }
    if let Some(since) = &opts.if_modified_since {
        request = request.header("If-Modified-Since", since);
    }
    let mut response = request
        .call()
        .map_err(|e| map_error(e, opts, blocked.as_ref()))?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let etag = header("etag");
    let last_modified = header("last-modified");
    let max_age = header("cache-control").as_deref().and_then(cache_max_age);
    let status = response.status().as_u16();
    if status == 304 && (opts.if_none_match.is_some() || opts.if_modified_since.is_some()) {
        return Ok(Fetched {
            body: Vec::new(),
            etag,
            last_modified,
            not_modified: true,
            max_age,
        });
    }
    if status != 200 {
        return Err(FetchError::HttpStatus { status });
    }
    if let Some(encoding) = header("content-encoding")
        && !encoding.eq_ignore_ascii_case("identity")
    {
        return Err(FetchError::NotAJwk {
            detail: format!(
                "the server sent a \"{encoding}\"-encoded body although no compression was asked for"
            ),
        });
    }
    if let Some(length) = header("content-length").and_then(|v| v.trim().parse::<u64>().ok())
        && length > opts.size_limit
    {
        return Err(FetchError::TooLarge {
            limit: opts.size_limit,
        });
    }
    let mut body = Vec::new();
    response
        .body_mut()
        .with_config()
        .limit(opts.size_limit)
        .reader()
        .read_to_end(&mut body)
        .map_err(|e| {
            match e
                .into_inner()
                .and_then(|i| i.downcast::<ureq::Error>().ok())
            {
                Some(inner) => map_error(*inner, opts, blocked.as_ref()),
                None => FetchError::ReadTimeout {
                    ms: opts.read_timeout.as_millis(),
                },
            }
        })?;
    Ok(Fetched {
        body,
        etag,
        last_modified,
        not_modified: false,
        max_age,
    })
}

/// POSTs a JSON body to `url` through the same guarded resolver as [`fetch`] (the SSRF guard
/// unless `opts.allow_private_networks`), within its timeouts and redirect limit; answers the
/// HTTP status. The answer's body is not read.
pub fn post_json(url: &str, body: &[u8], opts: &FetchOptions) -> Result<u16, FetchError> {
    post_json_with(url, body, &[], opts)
}

/// [`post_json`] with more request headers (name, value).
pub fn post_json_with(
    url: &str,
    body: &[u8],
    headers: &[(&str, &str)],
    opts: &FetchOptions,
) -> Result<u16, FetchError> {
    check_url(url)?;
    let (agent, blocked) = agent(opts);
    let mut request = agent.post(url).header("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .send(body)
        .map(|response| response.status().as_u16())
        .map_err(|e| map_error(e, opts, blocked.as_ref()))
}

fn body_text(fetched: &Fetched) -> Result<&str, FetchError> {
    std::str::from_utf8(&fetched.body).map_err(|_| FetchError::NotAJwk {
        detail: "the body is not UTF-8 text".to_owned(),
    })
}

/// Parses a fetched body as a JWK Set (or JWK, or array of JWKs).
pub fn parse_set(fetched: &Fetched) -> Result<JwkSet, FetchError> {
    JwkSet::parse(body_text(fetched)?).map_err(|e| FetchError::NotAJwk {
        detail: e.to_string(),
    })
}

/// Parses a fetched body and selects one key by kid, with jwkStr's rules.
pub fn select(fetched: &Fetched, kid: Option<&str>) -> Result<Jwk, FetchError> {
    let text = body_text(fetched)?;
    jwk_core::select_from_json(text, kid).map_err(|e| match e {
        jwk_core::Error::InvalidJson { .. } | jwk_core::Error::NotAJwk { .. } => {
            FetchError::NotAJwk {
                detail: e.to_string(),
            }
        }
        other => FetchError::Select(other),
    })
}

/// Fetches `url` and selects one key by kid.
pub fn fetch_jwk(
    url: &str,
    kid: Option<&str>,
    opts: &FetchOptions,
) -> Result<(Jwk, Fetched), FetchError> {
    let fetched = fetch(url, opts)?;
    let jwk = select(&fetched, kid)?;
    Ok((jwk, fetched))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_gives_the_freshness_in_seconds() {
        for (value, expected) in [
            ("max-age=300", Some(300)),
            ("public, max-age=19437, must-revalidate", Some(19437)),
            ("Max-Age = \"60\"", Some(60)),
            ("max-age=99999999999999999999999", Some(u64::MAX)),
            ("max-age=600, no-cache", Some(0)),
            ("no-store", Some(0)),
            ("max-age=-1", None),
            ("max-age=", None),
            ("public", None),
            ("", None),
        ] {
            assert_eq!(cache_max_age(value), expected, "{value:?}");
        }
    }

    #[test]
    fn a_name_that_does_not_resolve_has_its_own_code() {
        let blocked: guard::Blocked = Arc::new(std::sync::Mutex::new(None));
        let e = map_error(
            ureq::Error::HostNotFound,
            &FetchOptions::default(),
            Some(&blocked),
        );
        assert_eq!(e.code(), "fetch.host_not_found");
        assert_eq!(e.to_string(), "the host name does not resolve");
    }
}
