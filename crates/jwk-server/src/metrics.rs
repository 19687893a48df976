//! `GET /metrics`: the HTTP requests this server answered (by method, route template and
//! status, with latency histograms) and what [`jwk_registry::Registry::observe`] reads, in the
//! OpenMetrics text format (which Prometheus scrapes), encoded by `prometheus-client`.
//!
//! Every label value is bounded by what the registry holds or by the route table: routes are
//! templates (`/apiops/projects/{project}/jwks/{name}`), never the path a caller sent.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry as Metrics, Unit};

/// Labels: (name, value) pairs.
type Labels = Vec<(&'static str, String)>;

/// The HTTP metrics, shared by every request.
#[derive(Clone)]
pub struct HttpMetrics {
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram>,
}

impl std::fmt::Debug for HttpMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMetrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

/// A method label: the standard methods by name, anything else as `other`.
fn method_label(method: &axum::http::Method) -> String {
    use axum::http::Method;
    let known = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::PATCH,
    ];
    if known.contains(method) {
        method.as_str().to_owned()
    } else {
        "other".to_owned()
    }
}

impl HttpMetrics {
    /// Counts one answered request.
    pub fn observe(&self, method: &axum::http::Method, route: &str, status: u16, seconds: f64) {
        let method = method_label(method);
        self.requests
            .get_or_create(&vec![
                ("method", method.clone()),
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        self.latency
            .get_or_create(&vec![("method", method), ("route", route.to_owned())])
            .observe(seconds);
    }
}

/// A float gauge.
type FloatGauge = Gauge<f64, AtomicU64>;

/// A family of gauges set from `values`.
fn gauges<I: IntoIterator<Item = (Labels, f64)>>(values: I) -> Family<Labels, FloatGauge> {
    let family = Family::<Labels, FloatGauge>::default();
    for (labels, value) in values {
        family.get_or_create(&labels).set(value);
    }
    family
}

/// A family of counters at `values`.
fn counters<I: IntoIterator<Item = (Labels, u64)>>(values: I) -> Family<Labels, Counter> {
    let family = Family::<Labels, Counter>::default();
    for (labels, value) in values {
        family.get_or_create(&labels).inc_by(value);
    }
    family
}

fn set_labels(project: &str, set: &str) -> Labels {
    vec![("project", project.to_owned()), ("set", set.to_owned())]
}

/// The exposition text of `http` and `observed`.
pub fn render(
    http: &HttpMetrics,
    observed: &jwk_registry::Observed,
    misses: jwk_controllers::MissStats,
) -> Result<String, String> {
    let mut m = Metrics::with_prefix("jwk");
    m.register(
        "http_requests",
        "HTTP requests answered, by method, route template and status",
        http.requests.clone(),
    );
    m.register_with_unit(
        "http_request_duration",
        "Time to answer HTTP requests, by method and route template",
        Unit::Seconds,
        http.latency.clone(),
    );
    m.register(
        "jwkset_fetches",
        "Fetches of remote JWK Sets by this process, by result (ok, not_modified or the error code)",
        counters(observed.fetches.iter().map(|f| {
            let mut labels = set_labels(&f.project, &f.set);
            labels.push(("result", f.result.clone()));
            (labels, f.count)
        })),
    );
    m.register_with_unit(
        "jwkset_age",
        "Time since a remote JWK Set was last fetched successfully",
        Unit::Seconds,
        gauges(
            observed
                .jwk_sets
                .iter()
                .filter_map(|s| Some((set_labels(&s.project, &s.name), s.age_seconds?))),
        ),
    );
    m.register(
        "jwkset_keys",
        "Keys a remote JWK Set serves",
        gauges(
            observed
                .jwk_sets
                .iter()
                .map(|s| (set_labels(&s.project, &s.name), s.keys as f64)),
        ),
    );
    m.register(
        "jwkset_withdrawn",
        "1 when a remote JWK Set's keys were withdrawn past its stale limit",
        gauges(observed.jwk_sets.iter().map(|s| {
            (
                set_labels(&s.project, &s.name),
                f64::from(u8::from(s.withdrawn)),
            )
        })),
    );
    m.register(
        "jwkset_consecutive_failures",
        "Failed fetches of a remote JWK Set since its last success",
        gauges(observed.jwk_sets.iter().map(|s| {
            (
                set_labels(&s.project, &s.name),
                f64::from(s.consecutive_failures),
            )
        })),
    );
    m.register(
        "kid_miss_refetches",
        "Lookups of an unknown kid that made remote JWK Sets be fetched",
        counters([(Labels::new(), misses.refetches)]),
    );
    m.register(
        "kid_miss_suppressed",
        "Lookups of an unknown kid that fetched nothing (cooldown, a remembered miss, budget spent)",
        counters([(Labels::new(), misses.suppressed)]),
    );
    m.register(
        "deployments",
        "Deployments to an environment by this process, by result",
        counters(observed.deployments.iter().map(|d| {
            let result = if d.success { "success" } else { "failure" };
            (
                vec![
                    ("environment", d.environment.clone()),
                    ("result", result.to_owned()),
                ],
                d.count,
            )
        })),
    );
    m.register(
        "environment_pending",
        "1 when an environment's last deployment failed (its changes wait for reconcile) or it was never deployed",
        gauges(observed.environments.iter().map(|e| {
            (
                vec![("environment", e.name.clone())],
                f64::from(u8::from(e.pending)),
            )
        })),
    );
    m.register(
        "environments_pending",
        "Environments whose last deployment failed or that were never deployed",
        gauges([(
            Labels::new(),
            observed.environments.iter().filter(|e| e.pending).count() as f64,
        )]),
    );
    let expiry_gauges = |list: &[jwk_registry::KeyExpiry]| {
        gauges(list.iter().map(|e| {
            (
                vec![
                    ("project", e.project.clone()),
                    ("name", e.name.clone()),
                    ("kid", e.kid.clone().unwrap_or_default()),
                ],
                e.seconds,
            )
        }))
    };
    m.register_with_unit(
        "key_certificate_expiry",
        "Time until a served key's x5c certificate expires (negative once expired)",
        Unit::Seconds,
        expiry_gauges(&observed.expiries),
    );
    m.register_with_unit(
        "key_expiry",
        "Time until a served JWK's exp (its own, or its certificate's notAfter + 1 s), when it is served no more",
        Unit::Seconds,
        expiry_gauges(&observed.key_expiries),
    );
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &m).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_ones_share_one_label() {
        assert_eq!(method_label(&axum::http::Method::GET), "GET");
        let odd = axum::http::Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "other");
    }
}
