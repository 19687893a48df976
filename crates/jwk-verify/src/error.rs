//! Why a token is refused: a stable code and a message a person can act on.

/// Why a token was not accepted. [`VerifyError::code`] is stable; the message says what to
/// change. No message repeats the token, a signature or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token or one of its parts is larger than the verifier accepts.
    #[error("the {part} is {size} bytes; at most {limit} are accepted")]
    TooLarge {
        /// `token` or `decoded header`.
        part: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not a compact JWS, or a part does not decode.
    #[error("the token is malformed: {0}")]
    Malformed(String),
    /// `"alg": "none"`: an unsecured JWS is never accepted.
    #[error("the token is unsecured (alg none) and is refused")]
    AlgNone,
    /// An `alg` this crate does not verify.
    #[error("the token's algorithm {0} is not supported")]
    UnsupportedAlgorithm(String),
    /// An `alg` the verifier was configured not to accept.
    #[error("the token's algorithm {alg} is not accepted here (accepted: {accepted})")]
    AlgorithmNotAccepted {
        /// The token's `alg`.
        alg: String,
        /// What the verifier accepts.
        accepted: String,
    },
    /// The token's `alg` is not one the key may be used with: its own `alg`, or the only
    /// algorithms its type and curve allow. An HMAC `alg` with a public key lands here.
    #[error("the token's algorithm {alg} does not match the key {key} (it verifies {allowed})")]
    AlgorithmMismatch {
        /// The token's `alg`.
        alg: String,
        /// The key, as `kid "…"` or its type.
        key: String,
        /// What the key verifies.
        allowed: String,
    },
    /// A `crit` header this verifier does not understand, or a malformed `crit`.
    #[error("the token's crit header is refused: {0}")]
    Crit(String),
    /// `"b64": false` (RFC 7797, an unencoded payload).
    #[error("the token has an unencoded payload (b64 false), which is refused")]
    UnencodedPayload,
    /// The header names no key: no `kid`, `x5t#S256` or `jkt`.
    #[error("the token's header names no key (kid, x5t#S256 or jkt)")]
    NoKeyId,
    /// No key has the token's `kid` (or `x5t#S256`, `jkt`).
    #[error("no key has the token's {by} {value:?}")]
    UnknownKey {
        /// `kid`, `x5t#S256` or `jkt`.
        by: &'static str,
        /// Its value (truncated to 128 characters).
        value: String,
    },
    /// The keys were being refetched for an unknown `kid` and did not arrive in time.
    #[error("the keys were being refetched for the token's kid and did not arrive in time")]
    LookupTimeout,
    /// The key exists and cannot verify signatures (an encryption key, `key_ops` without
    /// `verify`, an X25519 key, an HMAC key shorter than its hash).
    #[error("the key {key} cannot verify this token: {reason}")]
    KeyUnusable {
        /// The key, as `kid "…"` or its type.
        key: String,
        /// Why.
        reason: String,
    },
    /// An RSA key smaller than the verifier's minimum.
    #[error("the key {key} is a {bits}-bit RSA key; signatures need at least {min} bits")]
    WeakKey {
        /// The key, as `kid "…"` or its type.
        key: String,
        /// Its modulus size.
        bits: usize,
        /// The minimum.
        min: usize,
    },
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// `typ` is not the one the verifier requires.
    #[error("the token's typ is {found}; {expected} is required")]
    Type {
        /// The required `typ`.
        expected: String,
        /// The token's (or `none`).
        found: String,
    },
    /// The payload is not a JSON object (for a JWT).
    #[error("the token's claims are not a JSON object: {0}")]
    Claims(String),
    /// A registered claim has the wrong type (`exp` not a number, `aud` not a string...).
    #[error("the token's {claim} claim is invalid: {reason}")]
    InvalidClaim {
        /// The claim.
        claim: String,
        /// Why.
        reason: String,
    },
    /// A claim the verifier requires is missing.
    #[error("the token has no {0} claim, which is required")]
    MissingClaim(String),
    /// `exp` is past (beyond the leeway).
    #[error("the token expired at {exp} (now {now}, leeway {leeway} s)")]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The verifier's time.
        now: i64,
        /// The leeway.
        leeway: u64,
    },
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid before {nbf} (now {now}, leeway {leeway} s)")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The verifier's time.
        now: i64,
        /// The leeway.
        leeway: u64,
    },
    /// `iat` is in the future (beyond the leeway).
    #[error("the token was issued in the future, at {iat} (now {now}, leeway {leeway} s)")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// The verifier's time.
        now: i64,
        /// The leeway.
        leeway: u64,
    },
    /// `iss` is not an accepted issuer.
    #[error("the token's issuer {0:?} is not accepted")]
    Issuer(String),
    /// `aud` names none of the accepted audiences (or the verifier has none).
    #[error("{0}")]
    Audience(String),
}

impl VerifyError {
    /// A stable code: `jws.*` for the token's form, algorithm, key and signature, `jwt.*`
    /// for its claims.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::TooLarge { .. } => "jws.too_large",
            VerifyError::Malformed(_) => "jws.malformed",
            VerifyError::AlgNone => "jws.alg_none",
            VerifyError::UnsupportedAlgorithm(_) => "jws.unsupported_algorithm",
            VerifyError::AlgorithmNotAccepted { .. } => "jws.algorithm_not_accepted",
            VerifyError::AlgorithmMismatch { .. } => "jws.algorithm_mismatch",
            VerifyError::Crit(_) => "jws.crit",
            VerifyError::UnencodedPayload => "jws.b64",
            VerifyError::NoKeyId => "jws.no_key_id",
            VerifyError::UnknownKey { .. } => "jws.unknown_key",
            VerifyError::LookupTimeout => "jws.lookup_timeout",
            VerifyError::KeyUnusable { .. } => "jws.key_unusable",
            VerifyError::WeakKey { .. } => "jws.weak_key",
            VerifyError::BadSignature => "jws.bad_signature",
            VerifyError::Type { .. } => "jws.typ",
            VerifyError::Claims(_) => "jwt.claims",
            VerifyError::InvalidClaim { .. } => "jwt.invalid_claim",
            VerifyError::MissingClaim(_) => "jwt.missing_claim",
            VerifyError::Expired { .. } => "jwt.expired",
            VerifyError::NotYetValid { .. } => "jwt.not_yet_valid",
            VerifyError::IssuedInFuture { .. } => "jwt.iat_in_future",
            VerifyError::Issuer(_) => "jwt.issuer",
            VerifyError::Audience(_) => "jwt.audience",
        }
    }

    /// `UnknownKey` for `by` = `value`, the value cut to 128 characters.
    pub(crate) fn unknown(by: &'static str, value: &str) -> VerifyError {
        VerifyError::UnknownKey {
            by,
            value: value.chars().take(128).collect(),
        }
    }
}
