//! The one error type of jwk-core.

use std::fmt;

/// Every way an import, a conversion or a policy check can fail.
///
/// Each variant has a stable [`Error::code`]; the `Display` message says what is wrong and
/// what to do about it. No message ever contains key material or a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is empty (or only white space).
    #[error("the input is empty: give a PEM, DER, PKCS#12 or JSON (JWK / JWK Set) document")]
    EmptyInput,

    /// The input is none of PEM, DER or JSON.
    #[error(
        "the input is not PEM, DER or JSON: expected a certificate, a public or private key, or a JWK / JWK Set"
    )]
    UnrecognizedInput,

    /// A PEM document holds no block with a key or certificate.
    #[error("no key or certificate found in the PEM input{}", blocks_seen(.labels))]
    PemNoKey {
        /// The labels of the blocks that were seen (and skipped).
        labels: Vec<String>,
    },

    /// A PEM block is broken (bad base64, missing END line, bad headers).
    #[error("PEM block \"{label}\" is malformed: {detail}")]
    PemMalformed {
        /// The block's label.
        label: String,
        /// What is wrong.
        detail: String,
    },

    /// DER bytes do not decode as the structure they claim to be.
    #[error("{what} is malformed DER: {detail}")]
    DerMalformed {
        /// The structure being decoded.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },

    /// The key algorithm (OID) is not one this engine turns into a JWK.
    #[error(
        "unsupported key algorithm {name} (OID {oid}): supported are RSA, RSASSA-PSS, EC (P-256, P-384, P-521, secp256k1), Ed25519, Ed448, X25519 and X448"
    )]
    UnsupportedKeyAlgorithm {
        /// Dotted OID.
        oid: String,
        /// A readable name when known.
        name: String,
    },

    /// An EC key names a curve this engine does not support.
    #[error("unsupported elliptic curve {curve}: supported are P-256, P-384, P-521 and secp256k1")]
    UnsupportedCurve {
        /// The curve's name or OID.
        curve: String,
    },

    /// A feature needed for this key is not compiled in.
    #[error("{what} support is not compiled in: enable the `{feature}` feature of jwk-core")]
    FeatureDisabled {
        /// What needs the feature.
        what: &'static str,
        /// The cargo feature to enable.
        feature: &'static str,
    },

    /// The key is encrypted and no password was given.
    #[error("the private key is encrypted: give its password")]
    PasswordRequired,

    /// The password does not decrypt the key.
    #[error("the password is wrong (or the encrypted key is corrupt): decryption failed")]
    BadPassword,

    /// The key is encrypted with a scheme this engine does not implement.
    #[error("unsupported key encryption: {scheme}")]
    UnsupportedEncryption {
        /// The scheme (name or OID).
        scheme: String,
    },

    /// The key-derivation parameters ask for more work or memory than the configured cap.
    #[error("refused to derive the decryption key: {detail}")]
    KdfLimit {
        /// Which parameter is over which cap.
        detail: String,
    },

    /// The JSON text does not parse.
    #[error("invalid JSON: {detail}")]
    InvalidJson {
        /// serde_json's description (line and column; never the content).
        detail: String,
    },

    /// The JSON value is not a JWK object or a JWK Set.
    #[error("{detail}")]
    NotAJwk {
        /// What was found instead.
        detail: String,
    },

    /// A JWK has the same member twice.
    #[error("JWK member \"{member}\" appears more than once")]
    DuplicateMember {
        /// The member name.
        member: String,
    },

    /// A required JWK member is missing.
    #[error("JWK of kty \"{kty}\" is missing the required member \"{member}\"")]
    MissingMember {
        /// The key type.
        kty: String,
        /// The member name.
        member: String,
    },

    /// A JWK member has the wrong JSON type or value.
    #[error("JWK member \"{member}\" is invalid: {detail}")]
    InvalidMember {
        /// The member name.
        member: String,
        /// What is wrong.
        detail: String,
    },

    /// A JWK member is not base64url without padding.
    #[error("JWK member \"{member}\" is not valid base64url (RFC 4648 §5, no padding): {detail}")]
    BadBase64 {
        /// The member name.
        member: String,
        /// What is wrong (never the value).
        detail: String,
    },

    /// A coordinate or key member has the wrong length for its curve.
    #[error("JWK member \"{member}\" must be {expected} bytes for {curve}, got {actual}")]
    BadLength {
        /// The member name.
        member: String,
        /// The curve.
        curve: String,
        /// The exact length required.
        expected: usize,
        /// The length given.
        actual: usize,
    },

    /// The `kty` is not one of RSA, EC, OKP, oct.
    #[error("unsupported kty \"{kty}\": supported are RSA, EC, OKP and oct")]
    UnsupportedKty {
        /// The kty given.
        kty: String,
    },

    /// The `crv` of an EC or OKP JWK is unknown.
    #[error("unsupported crv \"{crv}\" for kty \"{kty}\": supported are {supported}")]
    UnsupportedJwkCurve {
        /// The key type.
        kty: String,
        /// The curve given.
        crv: String,
        /// The supported curves for this kty.
        supported: &'static str,
    },

    /// The public point is not on the curve (or is the identity / not decodable).
    #[error("the public key is not a valid point on {curve}")]
    PointNotOnCurve {
        /// The curve.
        curve: String,
    },

    /// The private part does not belong to the public part.
    #[error("the private key does not match the public key: {detail}")]
    KeyMismatch {
        /// Which members disagree.
        detail: String,
    },

    /// The private scalar is out of range (zero, or not below the group order).
    #[error("the private key is not a valid scalar for {curve}")]
    InvalidPrivateScalar {
        /// The curve.
        curve: String,
    },

    /// An RSA key fails its sanity checks.
    #[error("invalid RSA key: {detail}")]
    InvalidRsaKey {
        /// What is wrong.
        detail: String,
    },

    /// An oct key has an empty `k`.
    #[error("oct JWK has an empty \"k\": a symmetric key needs at least one byte")]
    EmptyOctKey,

    /// An `x5c` chain is malformed or does not belong to the key.
    #[error("x5c is invalid: {detail}")]
    BadX5c {
        /// What is wrong.
        detail: String,
    },

    /// A JWK Set has no keys.
    #[error("the JWK Set has no keys")]
    JwksEmpty,

    /// A JWK Set holds several keys and no kid was given.
    #[error("the JWK Set holds {count} keys: give a kid to choose one (kids: {})", list(.kids))]
    KidRequired {
        /// Number of keys.
        count: usize,
        /// The kids that exist.
        kids: Vec<String>,
    },

    /// No key in the set has the kid asked for.
    #[error("no key with kid \"{kid}\" in the JWK Set (kids: {})", list(.kids))]
    KidNotFound {
        /// The kid asked for.
        kid: String,
        /// The kids that exist.
        kids: Vec<String>,
    },

    /// Several keys share the kid asked for.
    #[error(
        "{count} keys in the JWK Set share kid \"{kid}\": the kid does not identify one key (kids: {})",
        list(.kids)
    )]
    KidAmbiguous {
        /// The kid asked for.
        kid: String,
        /// How many keys have it.
        count: usize,
        /// The kids that exist.
        kids: Vec<String>,
    },

    /// The key chosen from a JWK Set is itself invalid.
    #[error("key #{index} of the JWK Set{}: {source}", kid_suffix(.kid))]
    InSet {
        /// Position in `keys` (0-based).
        index: usize,
        /// Its kid, if it has one.
        kid: Option<String>,
        /// Why it is invalid.
        source: Box<Error>,
    },

    /// The keystore password is wrong (the MAC or the decryption failed).
    #[error(
        "the keystore password is wrong (or the keystore is corrupt): its integrity check or decryption failed"
    )]
    KeystoreBadPassword,

    /// The keystore is protected by a password and none was given (the empty one failed).
    #[error("the keystore is protected by a password: give it")]
    KeystorePasswordRequired,

    /// A keystore was expected and the input is something else.
    #[error("the input is not a keystore (PKCS#12 or JKS) but {found}{}", not_a_keystore_advice(.found))]
    NotAKeystore {
        /// What the input looks like ("a PEM file with the blocks PRIVATE KEY", "JSON", …).
        found: String,
    },

    /// The keystore (PKCS#12 or JKS) does not decode.
    #[error("the keystore is malformed: {detail}")]
    KeystoreMalformed {
        /// What is wrong.
        detail: String,
    },

    /// The keystore holds no private key (and no alias was given).
    #[error(
        "the keystore holds no private key: give the alias of a certificate entry, or use a keystore with a key"
    )]
    KeystoreNoKey,

    /// The keystore holds several keys and no alias was given.
    #[error("the keystore holds several entries: give an alias to choose one (aliases: {})", list(.aliases))]
    AliasRequired {
        /// The aliases that exist.
        aliases: Vec<String>,
    },

    /// No entry has the alias asked for.
    #[error("no entry with alias \"{alias}\" in the keystore (aliases: {})", list(.aliases))]
    AliasNotFound {
        /// The alias asked for.
        alias: String,
        /// The aliases that exist.
        aliases: Vec<String>,
    },

    /// An algorithm was given that is a key type ("RSA", "EC", ...).
    #[error("algorithm must be a valid algorithm name, not a key type")]
    AlgorithmIsKeyType,

    /// The algorithm is not a known JOSE algorithm.
    #[error("unknown algorithm \"{alg}\": {hint}")]
    UnknownAlgorithm {
        /// The algorithm given.
        alg: String,
        /// The valid values for this key.
        hint: String,
    },

    /// The algorithm does not fit the key type, curve, size or use.
    #[error("algorithm {alg} cannot be used with {key} for {usage}: {why}; valid are {valid}")]
    AlgorithmMismatch {
        /// The algorithm given.
        alg: String,
        /// The key (e.g. "an EC P-256 key").
        key: String,
        /// SIGNATURE or ENCRYPTION.
        usage: &'static str,
        /// Why not, e.g. "ES384 needs an EC P-384 key" or "HS256 needs an oct key of at least
        /// 256 bits, this key has 128".
        why: String,
        /// The valid algorithms.
        valid: String,
    },

    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {detail}")]
    Random {
        /// What failed.
        detail: String,
    },

    /// An input or option value is out of range.
    #[error("{detail}")]
    InvalidOption {
        /// What is wrong.
        detail: String,
    },
}

fn list(kids: &[String]) -> String {
    if kids.is_empty() {
        return "none".to_owned();
    }
    kids.iter()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn not_a_keystore_advice(found: &str) -> &'static str {
    if found.starts_with("data that is") {
        ""
    } else {
        ": import it as a key, certificate or JWK instead"
    }
}

fn blocks_seen(labels: &[String]) -> String {
    if labels.is_empty() {
        " (no PEM blocks at all)".to_owned()
    } else {
        format!(" (blocks seen: {})", labels.join(", "))
    }
}

fn kid_suffix(kid: &Option<String>) -> String {
    match kid {
        Some(k) => format!(" (kid \"{k}\")"),
        None => String::new(),
    }
}

impl Error {
    /// The stable machine-readable code of this error, e.g. `"jwks.kid_required"`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::EmptyInput => "input.empty",
            Error::UnrecognizedInput => "input.unrecognized",
            Error::PemNoKey { .. } => "pem.no_key",
            Error::PemMalformed { .. } => "pem.malformed",
            Error::DerMalformed { .. } => "der.malformed",
            Error::UnsupportedKeyAlgorithm { .. } => "key.unsupported_algorithm",
            Error::UnsupportedCurve { .. } => "key.unsupported_curve",
            Error::FeatureDisabled { .. } => "key.feature_disabled",
            Error::PasswordRequired => "pkcs8.password_required",
            Error::BadPassword => "pkcs8.bad_password",
            Error::UnsupportedEncryption { .. } => "pkcs8.unsupported_encryption",
            Error::KdfLimit { .. } => "pkcs8.kdf_limit",
            Error::InvalidJson { .. } => "json.invalid",
            Error::NotAJwk { .. } => "jwk.not_a_jwk",
            Error::DuplicateMember { .. } => "jwk.duplicate_member",
            Error::MissingMember { .. } => "jwk.missing_member",
            Error::InvalidMember { .. } => "jwk.invalid_member",
            Error::BadBase64 { .. } => "jwk.bad_base64url",
            Error::BadLength { .. } => "jwk.bad_length",
            Error::UnsupportedKty { .. } => "jwk.unsupported_kty",
            Error::UnsupportedJwkCurve { .. } => "jwk.unsupported_crv",
            Error::PointNotOnCurve { .. } => "key.point_not_on_curve",
            Error::KeyMismatch { .. } => "key.private_public_mismatch",
            Error::InvalidPrivateScalar { .. } => "key.invalid_private_scalar",
            Error::InvalidRsaKey { .. } => "key.invalid_rsa",
            Error::EmptyOctKey => "jwk.empty_oct_key",
            Error::BadX5c { .. } => "jwk.bad_x5c",
            Error::JwksEmpty => "jwks.empty",
            Error::KidRequired { .. } => "jwks.kid_required",
            Error::KidNotFound { .. } => "jwks.kid_not_found",
            Error::KidAmbiguous { .. } => "jwks.kid_ambiguous",
            Error::InSet { source, .. } => source.code(),
            Error::KeystoreBadPassword => "pkcs12.bad_password",
            Error::KeystoreMalformed { .. } => "pkcs12.malformed",
            Error::NotAKeystore { .. } => "pkcs12.not_a_keystore",
            Error::KeystorePasswordRequired => "pkcs12.password_required",
            Error::KeystoreNoKey => "pkcs12.no_key",
            Error::AliasRequired { .. } => "pkcs12.alias_required",
            Error::AliasNotFound { .. } => "pkcs12.alias_not_found",
            Error::AlgorithmIsKeyType => "policy.key_type_as_algorithm",
            Error::UnknownAlgorithm { .. } => "policy.unknown_algorithm",
            Error::AlgorithmMismatch { .. } => "policy.algorithm_mismatch",
            Error::InvalidOption { .. } => "input.invalid_option",
            Error::Random { .. } => "random.failed",
        }
    }

    pub(crate) fn der(what: &'static str, detail: impl fmt::Display) -> Self {
        Error::DerMalformed {
            what,
            detail: detail.to_string(),
        }
    }

    pub(crate) fn member(member: &str, detail: impl Into<String>) -> Self {
        Error::InvalidMember {
            member: member.to_owned(),
            detail: detail.into(),
        }
    }

    pub(crate) fn rsa(detail: impl Into<String>) -> Self {
        Error::InvalidRsaKey {
            detail: detail.into(),
        }
    }
}

/// `Result` with jwk-core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
