//! `jwk`: turn key files into canonical JWKs and thumbprints from a shell.
//!
//! Exit status: 0 on success, 2 on any error (`error: <code>: <message>` on stderr).

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use jwk_core::{
    EcCurve, GenerateOptions, ImportOptions, Jwk, KdfLimits, KeySpec, KidType, OkpCurve,
    ThumbprintHash, Usage, generate, import, keystore_entries,
};
use zeroize::Zeroizing;

/// Largest input accepted from a file or standard input.
const MAX_INPUT: u64 = 16 << 20;

#[derive(Parser)]
#[command(
    name = "jwk",
    version,
    about = "Turn keys and certificates into canonical JSON Web Keys"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the JWK of a PEM / DER / JWK / JWK Set input as one JSON object.
    Import {
        #[command(flatten)]
        input: InputArgs,
        /// Set "use" (sig or enc); with --alg the pair is checked against the policy.
        #[arg(long = "use", value_name = "sig|enc")]
        key_use: Option<String>,
        /// Set "alg" (checked against the key type, curve and use).
        #[arg(long)]
        alg: Option<String>,
        /// Print only the public part.
        #[arg(long)]
        public: bool,
    },
    /// Print the RFC 7638 thumbprint (base64url) of the input's key.
    Thumbprint {
        #[command(flatten)]
        input: InputArgs,
        /// Hash: sha256 (default), sha1, sha384 or sha512.
        #[arg(long, default_value = "sha256")]
        hash: String,
    },
    /// Generate a new key and print it as a private JWK with use, alg and kid set.
    Generate(GenerateArgs),
    /// Fetch a JWK or JWK Set from a URL (bounded, SSRF-guarded) and print the selected key.
    Fetch(FetchArgs),
    /// Inspect keystores (PKCS#12, Java JKS).
    #[command(subcommand)]
    Keystore(KeystoreCommand),
    /// Verify a compact JWS / JWT with a key, a JWK Set or a JWKS URL, and print its header,
    /// claims and the verifying key's thumbprint as one JSON object.
    Verify(VerifyArgs),
}

#[derive(Args)]
struct VerifyArgs {
    /// The token, or - for standard input.
    #[arg(value_name = "TOKEN|-")]
    token: String,
    /// The keys: a JWK Set, a JWK or a key file (PEM, DER). One key verifies whatever the
    /// header names; in a set, the header's kid (x5t#S256, jkt) chooses.
    #[arg(long, value_name = "FILE", required_unless_present = "jwks_url")]
    keys: Option<String>,
    /// Fetch the keys from this JWKS URL (bounded, SSRF-guarded).
    #[arg(long, conflicts_with = "keys")]
    jwks_url: Option<String>,
    /// Let --jwks-url reach loopback and private addresses.
    #[arg(long)]
    allow_private_networks: bool,
    /// Accepted issuer (repeatable); once given, iss is required.
    #[arg(long)]
    iss: Vec<String>,
    /// Accepted audience (repeatable); once given, aud is required.
    #[arg(long)]
    aud: Vec<String>,
    /// Accept a token whatever audience it names.
    #[arg(long, conflicts_with = "aud")]
    any_aud: bool,
    /// Accepted algorithm (repeatable; default: what each key allows).
    #[arg(long)]
    alg: Vec<String>,
    /// Required typ (e.g. at+jwt).
    #[arg(long)]
    typ: Option<String>,
    /// Clock leeway for exp, nbf and iat, in seconds (at most 3600).
    #[arg(long, default_value_t = 60)]
    leeway: u64,
    /// Check times at this Unix time instead of now.
    #[arg(long)]
    at: Option<i64>,
    /// Smallest RSA modulus accepted, in bits (at least 1024).
    #[arg(long, default_value_t = jwk_verify::DEFAULT_MIN_RSA_BITS)]
    min_rsa_bits: usize,
    /// The payload is not a JWT: check the signature only and print the payload as text.
    #[arg(long, conflicts_with_all = ["iss", "aud", "any_aud", "typ"])]
    jws: bool,
}

#[derive(Subcommand)]
enum KeystoreCommand {
    /// Print one line per entry: alias, key type, "private-key", "secret-key" or "certificate",
    /// chain length.
    List {
        /// The keystore file, or - for standard input.
        #[arg(value_name = "FILE|-")]
        file: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
}

#[derive(Args)]
struct GenerateArgs {
    /// Key type: RSA, EC, OKP or oct.
    #[arg(long)]
    kty: String,
    /// Size in bits: RSA 2048 (default), 3072, 4096; oct 128, 192, 256, 384, 512 (default: what --alg needs).
    #[arg(long)]
    size: Option<usize>,
    /// Curve: P-256, P-384, P-521, secp256k1 (EC); Ed25519, Ed448, X25519, X448 (OKP). Default: what --alg needs.
    #[arg(long)]
    crv: Option<String>,
    /// sig or enc.
    #[arg(long = "use", value_name = "sig|enc")]
    key_use: String,
    /// The algorithm (checked against the policy).
    #[arg(long)]
    alg: String,
    /// How to choose the kid: thumbprint (default), uuid, timestamp or none.
    #[arg(long, default_value = "thumbprint", conflicts_with = "kid")]
    kid_type: String,
    /// An explicit kid.
    #[arg(long)]
    kid: Option<String>,
    /// Print only the public part.
    #[arg(long)]
    public: bool,
}

#[derive(Args)]
struct FetchArgs {
    /// The http(s) URL.
    url: String,
    /// kid of the key to select from a set.
    #[arg(long, conflicts_with = "set")]
    kid: Option<String>,
    /// Connect timeout in milliseconds.
    #[arg(long, default_value_t = jwk_fetch::DEFAULT_CONNECT_TIMEOUT_MS)]
    connect_timeout_ms: u64,
    /// Read timeout in milliseconds (bounds the whole response).
    #[arg(long, default_value_t = jwk_fetch::DEFAULT_READ_TIMEOUT_MS)]
    read_timeout_ms: u64,
    /// Largest response accepted, in bytes.
    #[arg(long, default_value_t = jwk_fetch::DEFAULT_SIZE_LIMIT)]
    size_limit: u64,
    /// Let the URL reach loopback and private addresses.
    #[arg(long)]
    allow_private_networks: bool,
    /// Print every usable key as a JWK Set instead of selecting one.
    #[arg(long)]
    set: bool,
}

#[derive(Args)]
struct PasswordArgs {
    /// Password of an encrypted key or keystore.
    #[arg(long)]
    password: Option<String>,
    /// Read the password from the first line of this file (keeps it out of `ps`).
    #[arg(long, value_name = "FILE", conflicts_with = "password")]
    password_file: Option<String>,
}

#[derive(Args)]
struct InputArgs {
    /// The input file, or - for standard input.
    #[arg(value_name = "FILE|-")]
    file: String,
    #[command(flatten)]
    password: PasswordArgs,
    /// Alias of the key in a keystore (PKCS#12 or JKS).
    #[arg(long)]
    alias: Option<String>,
    /// kid to select from a JWK Set, or to set on any other input.
    #[arg(long)]
    kid: Option<String>,
}

/// A failure with its stable code.
struct Failure {
    code: &'static str,
    message: String,
}

impl From<jwk_fetch::FetchError> for Failure {
    fn from(e: jwk_fetch::FetchError) -> Self {
        Failure {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<jwk_core::Error> for Failure {
    fn from(e: jwk_core::Error) -> Self {
        Failure {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

fn fail(code: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

fn read_limited(reader: impl Read, name: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut buf = Zeroizing::new(Vec::new());
    reader
        .take(MAX_INPUT + 1)
        .read_to_end(&mut buf)
        .map_err(|e| fail("io.read", format!("cannot read {name}: {e}")))?;
    if buf.len() as u64 > MAX_INPUT {
        return Err(fail(
            "input.too_large",
            format!("{name} is larger than {MAX_INPUT} bytes"),
        ));
    }
    Ok(buf)
}

fn read_input(file: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    if file == "-" {
        return read_limited(std::io::stdin().lock(), "standard input");
    }
    let f = std::fs::File::open(file)
        .map_err(|e| fail("io.open", format!("cannot open {file}: {e}")))?;
    read_limited(f, file)
}

fn password(args: &PasswordArgs) -> Result<Option<Zeroizing<String>>, Failure> {
    Ok(match (&args.password, &args.password_file) {
        (Some(p), _) => Some(Zeroizing::new(p.clone())),
        (None, Some(path)) => {
            let raw = read_input(path)?;
            let text = std::str::from_utf8(&raw)
                .map_err(|_| fail("io.read", format!("{path} is not UTF-8 text")))?;
            Some(Zeroizing::new(text.lines().next().unwrap_or("").to_owned()))
        }
        (None, None) => None,
    })
}

fn load(args: &InputArgs) -> Result<Jwk, Failure> {
    let bytes = read_input(&args.file)?;
    let password = password(&args.password)?;
    let opts = ImportOptions {
        password: password.as_deref().map(String::as_str),
        alias: args.alias.as_deref(),
        kid: args.kid.as_deref(),
        ..ImportOptions::default()
    };
    Ok(import(&bytes, &opts)?)
}

fn apply_use_alg(jwk: &mut Jwk, key_use: Option<&str>, alg: Option<&str>) -> Result<(), Failure> {
    let usage = match key_use {
        None => None,
        Some(u) => Some(Usage::parse(u).ok_or_else(|| {
            fail(
                "input.invalid_option",
                format!("--use must be sig or enc, not \"{u}\""),
            )
        })?),
    };
    match (usage, alg) {
        (Some(usage), Some(alg)) => jwk.set_usage(usage, alg)?,
        (Some(usage), None) => jwk.params_mut().key_use = Some(usage.key_use()),
        // Without --use, the algorithm must fit the key for one of the two uses.
        (None, Some(alg)) => jwk.set_algorithm(alg)?,
        (None, None) => {}
    }
    Ok(())
}

fn invalid(detail: String) -> Failure {
    fail("input.invalid_option", detail)
}

/// The key to generate, with defaults taken from the algorithm where the flag is missing.
fn key_spec(args: &GenerateArgs) -> Result<KeySpec, Failure> {
    let alg = args.alg.as_str();
    let curve_needed = || {
        invalid(format!(
            "--crv is needed for --kty {} with --alg {alg}",
            args.kty
        ))
    };
    Ok(match args.kty.as_str() {
        "RSA" => KeySpec::Rsa {
            bits: args.size.unwrap_or(2048),
        },
        "EC" => {
            let name = match (&args.crv, alg) {
                (Some(c), _) => c.as_str(),
                (None, "ES256") => "P-256",
                (None, "ES384") => "P-384",
                (None, "ES512") => "P-521",
                (None, "ES256K") => "secp256k1",
                (None, _) => return Err(curve_needed()),
            };
            KeySpec::Ec(EcCurve::from_name(name).ok_or_else(|| {
                invalid(format!(
                    "--crv {name} is not an EC curve: use P-256, P-384, P-521 or secp256k1"
                ))
            })?)
        }
        "OKP" => {
            let name = match (&args.crv, alg) {
                (Some(c), _) => c.as_str(),
                (None, "EdDSA") => "Ed25519",
                (None, a) if a.starts_with("ECDH-") => "X25519",
                (None, _) => return Err(curve_needed()),
            };
            KeySpec::Okp(OkpCurve::from_name(name).ok_or_else(|| {
                invalid(format!(
                    "--crv {name} is not an OKP curve: use Ed25519, Ed448, X25519 or X448"
                ))
            })?)
        }
        "oct" => {
            let implied = match alg {
                "HS384" => 384,
                "HS512" => 512,
                a if a.starts_with("A128") => 128,
                a if a.starts_with("A192") => 192,
                _ => 256,
            };
            KeySpec::Oct {
                bits: args.size.unwrap_or(implied),
            }
        }
        other => {
            return Err(invalid(format!(
                "--kty must be RSA, EC, OKP or oct, not \"{other}\""
            )));
        }
    })
}

fn run_generate(args: &GenerateArgs) -> Result<String, Failure> {
    let usage = Usage::parse(&args.key_use).ok_or_else(|| {
        invalid(format!(
            "--use must be sig or enc, not \"{}\"",
            args.key_use
        ))
    })?;
    let kid = match (&args.kid, args.kid_type.as_str()) {
        (Some(k), _) => KidType::Explicit(k.clone()),
        (None, "thumbprint") => KidType::Thumbprint,
        (None, "uuid") => KidType::Uuid,
        (None, "timestamp") => KidType::Timestamp,
        (None, "none") => KidType::None,
        (None, other) => {
            return Err(invalid(format!(
                "--kid-type must be thumbprint, uuid, timestamp or none, not \"{other}\""
            )));
        }
    };
    let jwk = generate(&GenerateOptions {
        spec: key_spec(args)?,
        usage,
        alg: args.alg.clone(),
        kid,
    })?;
    output(&jwk, args.public)
}

/// The JWK to print: its public key with `--public` (an error for an oct key, which has
/// none: printing it would disclose the secret), else the whole key.
fn output(jwk: &Jwk, public: bool) -> Result<String, Failure> {
    if !public {
        return Ok(jwk.to_json());
    }
    jwk.to_public_json().ok_or_else(|| {
        invalid(
            "--public: a symmetric (oct) key has no public form; all of it is secret".to_owned(),
        )
    })
}

fn run_keystore_list(file: &str, password_args: &PasswordArgs) -> Result<String, Failure> {
    let bytes = read_input(file)?;
    let password = password(password_args)?;
    let entries = keystore_entries(
        &bytes,
        password.as_deref().map(String::as_str),
        &KdfLimits::default(),
    )?;
    let lines: Vec<String> = entries.iter().map(ToString::to_string).collect();
    Ok(lines.join("\n"))
}

fn run_fetch(args: &FetchArgs) -> Result<String, Failure> {
    let opts = jwk_fetch::FetchOptions {
        connect_timeout: std::time::Duration::from_millis(args.connect_timeout_ms),
        read_timeout: std::time::Duration::from_millis(args.read_timeout_ms),
        size_limit: args.size_limit,
        allow_private_networks: args.allow_private_networks,
        ..jwk_fetch::FetchOptions::default()
    };
    if !args.set {
        let (jwk, _) = jwk_fetch::fetch_jwk(&args.url, args.kid.as_deref(), &opts)?;
        return Ok(jwk.to_json());
    }
    let fetched = jwk_fetch::fetch(&args.url, &opts)?;
    let set = jwk_fetch::parse_set(&fetched)?;
    let mut keys = Vec::new();
    for (i, entry) in set.entries().iter().enumerate() {
        match &entry.key {
            Ok(jwk) => keys.push(jwk.to_json()),
            Err(e) => eprintln!(
                "warning: key #{i}{} skipped: {}: {e}",
                entry
                    .kid
                    .as_deref()
                    .map(|k| format!(" (kid \"{k}\")"))
                    .unwrap_or_default(),
                e.code()
            ),
        }
    }
    if keys.is_empty() {
        return Err(fail("fetch.not_a_jwk", "the response holds no usable key"));
    }
    Ok(format!("{{\"keys\":[{}]}}", keys.join(",")))
}

impl From<jwk_verify::VerifyError> for Failure {
    fn from(e: jwk_verify::VerifyError) -> Self {
        Failure {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// The keys of `jwk verify`: one key (any input `import` reads) or a JWK Set.
enum VerifyKeys {
    One(std::sync::Arc<jwk_verify::VerificationKey>),
    Set(jwk_verify::KeySet),
}

fn verify_keys(args: &VerifyArgs) -> Result<VerifyKeys, Failure> {
    let set_of = |set: jwk_core::JwkSet| {
        let keys: Vec<Jwk> = set.keys().cloned().collect();
        if keys.is_empty() {
            return Err(fail("verify.no_key", "the keys hold no usable key"));
        }
        Ok(VerifyKeys::Set(jwk_verify::KeySet::new(keys)))
    };
    if let Some(url) = &args.jwks_url {
        let opts = jwk_fetch::FetchOptions {
            allow_private_networks: args.allow_private_networks,
            ..jwk_fetch::FetchOptions::default()
        };
        let fetched = jwk_fetch::fetch(url, &opts)?;
        return set_of(jwk_fetch::parse_set(&fetched)?);
    }
    let file = args.keys.as_deref().unwrap_or("-");
    let bytes = read_input(file)?;
    if let Ok(text) = std::str::from_utf8(&bytes)
        && let Ok(set) = jwk_core::JwkSet::parse(text)
        && !set.is_single()
    {
        return set_of(set);
    }
    let jwk = import(&bytes, &ImportOptions::default())?;
    Ok(VerifyKeys::One(std::sync::Arc::new(
        jwk_verify::VerificationKey::new(std::sync::Arc::new(jwk)),
    )))
}

fn run_verify(args: &VerifyArgs) -> Result<String, Failure> {
    let token = if args.token == "-" {
        let raw = read_limited(std::io::stdin().lock(), "standard input")?;
        String::from_utf8(raw.to_vec())
            .map_err(|_| fail("io.read", "standard input is not UTF-8 text"))?
            .trim()
            .to_owned()
    } else {
        args.token.clone()
    };
    let mut verifier = jwk_verify::Verifier::new()
        .leeway(std::time::Duration::from_secs(args.leeway))
        .min_rsa_bits(args.min_rsa_bits);
    if !args.alg.is_empty() {
        let algs = args
            .alg
            .iter()
            .map(|a| {
                jwk_verify::Algorithm::from_name(a).ok_or_else(|| {
                    invalid(format!(
                        "--alg {a} is not a JWS algorithm this tool verifies"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        verifier = verifier.algorithms(&algs);
    }
    for iss in &args.iss {
        verifier = verifier.issuer(iss.clone());
    }
    for aud in &args.aud {
        verifier = verifier.audience(aud.clone());
    }
    if args.any_aud {
        verifier = verifier.any_audience();
    }
    if let Some(typ) = &args.typ {
        verifier = verifier.typ(typ.clone());
    }
    if let Some(at) = args.at {
        verifier = verifier.at(at);
    }
    let keys = verify_keys(args)?;
    let (header, body, key) = if args.jws {
        let jws = match &keys {
            VerifyKeys::One(key) => verifier.verify_jws_with_key(&token, key)?,
            VerifyKeys::Set(set) => verifier.verify_jws(&token, set)?,
        };
        let payload = String::from_utf8(jws.payload)
            .map_err(|_| fail("verify.payload", "the payload is not UTF-8 text"))?;
        (
            jws.header,
            ("payload", serde_json::Value::String(payload)),
            jws.key,
        )
    } else {
        let jwt = match &keys {
            VerifyKeys::One(key) => verifier.verify_with_key(&token, key)?,
            VerifyKeys::Set(set) => verifier.verify(&token, set)?,
        };
        (
            jwt.header,
            ("claims", serde_json::Value::Object(jwt.claims)),
            jwt.key,
        )
    };
    let mut out = serde_json::Map::new();
    out.insert("header".into(), serde_json::Value::Object(header.members()));
    out.insert(body.0.into(), body.1);
    out.insert("thumbprint".into(), key.thumbprint().into());
    Ok(serde_json::Value::Object(out).to_string())
}

fn run(cli: Cli) -> Result<String, Failure> {
    match cli.command {
        Command::Import {
            input,
            key_use,
            alg,
            public,
        } => {
            let mut jwk = load(&input)?;
            apply_use_alg(&mut jwk, key_use.as_deref(), alg.as_deref())?;
            output(&jwk, public)
        }
        Command::Thumbprint { input, hash } => {
            let hash = ThumbprintHash::from_name(&hash).ok_or_else(|| {
                fail(
                    "input.invalid_option",
                    format!("--hash must be sha256, sha1, sha384 or sha512, not \"{hash}\""),
                )
            })?;
            Ok(load(&input)?.thumbprint(hash))
        }
        Command::Generate(args) => run_generate(&args),
        Command::Fetch(args) => run_fetch(&args),
        Command::Keystore(KeystoreCommand::List { file, password }) => {
            run_keystore_list(&file, &password)
        }
        Command::Verify(args) => run_verify(&args),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            if writeln!(stdout, "{out}")
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("error: {}: {}", f.code, f.message);
            ExitCode::from(2)
        }
    }
}
