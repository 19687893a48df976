//! The typed commands of [`crate::Registry::apply`], the one way to change the registry, and
//! what it answers.

use jwk_core::{KeySpec, KidType, Usage};

use crate::coord::Lease;
use crate::deploy::DeploymentResult;
use crate::perm::Permission;
use crate::types::{
    FetchPlan, JwkSetSpec, KeyState, Pending, RefreshPolicy, ResyncReport, RotationHolder,
    RotationPolicy, RotationProgress, SecretName, Slot, TargetConfig, UrlOptions, Validity,
};

/// A change to the registry.
///
/// Names are checked by the registry (trimmed; 1 to 256 characters without control
/// characters; unique where the product says so), with the product's messages, in the
/// product's order: the actor's permission first, then the names, then the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Create JWK (SECRETS+MANAGE; deployed when the actor holds SECRETS+DEPLOY_UNDEPLOY).
    CreateJwk {
        /// The project.
        project: String,
        /// The JWK.
        jwk: NewJwk,
    },
    /// Update JWK: rename and/or describe it; detaches it from its source.
    UpdateJwk {
        /// The project.
        project: String,
        /// The JWK's current name.
        name: String,
        /// What changes.
        update: JwkUpdate,
    },
    /// Delete JWK (refused while a credential uses it).
    DeleteJwk {
        /// The project.
        project: String,
        /// The JWK.
        name: String,
    },
    /// Set a JWK's state: `Pending` (published for verification, not for signing or
    /// encryption yet), `Active`, `Retired` (published for verification only) or `Disabled`
    /// (served nowhere). SECRETS+MANAGE; approved and deployed like any change.
    SetJwkState {
        /// The project.
        project: String,
        /// The JWK.
        name: String,
        /// The new state.
        state: KeyState,
    },
    /// Set a JWK's own `nbf` / `exp` (`None`: unbounded on that side); a certificate's
    /// validity still narrows it. SECRETS+MANAGE; approved and deployed like any change.
    SetJwkValidity {
        /// The project.
        project: String,
        /// The JWK.
        name: String,
        /// The new validity.
        validity: Validity,
    },
    /// Approve and deploy what is saved for a JWK (SECRETS+DEPLOY_UNDEPLOY).
    DeployJwk {
        /// The project.
        project: String,
        /// The JWK.
        name: String,
    },
    /// Fetch a URL-sourced JWK again and report which kids changed.
    ResyncJwk {
        /// The project.
        project: String,
        /// The JWK.
        name: String,
    },
    /// Create JWK Set: follow a remote JWK Set (SECRETS+MANAGE and SECRETS+DEPLOY_UNDEPLOY:
    /// its keys are deployed as its provider publishes them). Fetched at once; a set that
    /// cannot be fetched or holds no usable key is refused.
    CreateJwkSet {
        /// The project.
        project: String,
        /// The set's name (unique among the project's sets).
        name: String,
        /// Where and how it is followed.
        spec: JwkSetSpec,
    },
    /// Update JWK Set: a new URL, options or policy; fetched at once like a new set.
    UpdateJwkSet {
        /// The project.
        project: String,
        /// The set.
        name: String,
        /// Where and how it is followed from now on.
        spec: JwkSetSpec,
    },
    /// Delete JWK Set: its keys are no longer served.
    DeleteJwkSet {
        /// The project.
        project: String,
        /// The set.
        name: String,
    },
    /// Refresh JWK Set now (SECRETS+MANAGE), whatever its schedule: the report says which
    /// kids were added, removed or changed.
    RefreshJwkSet {
        /// The project.
        project: String,
        /// The set.
        name: String,
    },
    /// Create a credential (CREDENTIALS+MANAGE).
    CreateCredential {
        /// The project.
        project: String,
        /// The credential's username.
        username: String,
    },
    /// Put a JWK in a credential's slot (replacing the one there), or empty the slot.
    SetCredentialJwk {
        /// The project.
        project: String,
        /// The credential.
        username: String,
        /// Which slot.
        slot: Slot,
        /// The JWK's name (of the project or the admin project); `None` empties the slot.
        jwk: Option<String>,
    },
    /// Set a credential slot's next JWK (published ahead of its promotion), or with `None`
    /// remove it. IDENTITY+MANAGE.
    SetCredentialNextJwk {
        /// The project.
        project: String,
        /// The credential.
        username: String,
        /// Which slot.
        slot: Slot,
        /// The JWK's name (of the project or the admin project); `None` removes it.
        jwk: Option<String>,
    },
    /// Promote a credential slot's next JWK: it becomes the slot's `active` JWK, and the one
    /// it replaces is `retired` and expires after `overlap_secs`. IDENTITY+MANAGE and
    /// IDENTITY+DEPLOY_UNDEPLOY, and SECRETS+MANAGE and SECRETS+DEPLOY_UNDEPLOY where the
    /// JWKs are.
    PromoteCredentialJwk {
        /// The project.
        project: String,
        /// The credential.
        username: String,
        /// Which slot.
        slot: Slot,
        /// How long the replaced JWK stays published for verification, in seconds (at most
        /// 365 days).
        overlap_secs: u64,
    },
    /// Set (with `None`, remove) a credential slot's rotation policy: on schedule the engine
    /// generates the next JWK, publishes it, promotes it once every environment serves it,
    /// and deletes the replaced JWK after the overlap (the rotation controller).
    /// IDENTITY+MANAGE, IDENTITY+DEPLOY_UNDEPLOY, SECRETS+MANAGE, SECRETS+DEPLOY_UNDEPLOY.
    SetSlotRotation {
        /// The project.
        project: String,
        /// The credential.
        username: String,
        /// Which slot.
        slot: Slot,
        /// The policy; `None` removes it.
        policy: Option<RotationPolicy>,
    },
    /// Set (with `None`, remove) a generated JWK's rotation policy: its name always names the
    /// active key; the replaced key is renamed `{name}-retired-{time}`, retired for the
    /// overlap, then deleted. SECRETS+MANAGE and SECRETS+DEPLOY_UNDEPLOY.
    SetJwkRotation {
        /// The project.
        project: String,
        /// The JWK.
        name: String,
        /// The policy; `None` removes it.
        policy: Option<RotationPolicy>,
    },
    /// Approve and deploy what is saved for a credential (CREDENTIALS+DEPLOY_UNDEPLOY).
    DeployCredential {
        /// The project.
        project: String,
        /// The credential.
        username: String,
    },
    /// Add a certificate to the secrets store.
    AddCertificate {
        /// The project.
        project: String,
        /// The certificate.
        certificate: NewCertificate,
    },
    /// Add a public or private key to the secrets store.
    AddKey {
        /// The project.
        project: String,
        /// The key.
        key: NewKey,
    },
    /// Add a PKCS#12 or JKS keystore to the secrets store.
    AddKeystore {
        /// The project.
        project: String,
        /// The keystore.
        keystore: NewKeystore,
    },
    /// Replace a certificate's content; the JWKs attached to it follow (re-derived in the same
    /// transaction and deployed under the approval rules).
    ReplaceCertificate {
        /// The project.
        project: String,
        /// The certificate (its name and environment name the stored one).
        certificate: NewCertificate,
    },
    /// Replace a key's content (public stays public, private stays private); the JWKs
    /// attached to it follow.
    ReplaceKey {
        /// The project.
        project: String,
        /// The key (its name and environment name the stored one).
        key: NewKey,
    },
    /// Replace a keystore's content; the JWKs attached to its entries follow (by alias).
    ReplaceKeystore {
        /// The project.
        project: String,
        /// The keystore (its name and environment name the stored one).
        keystore: NewKeystore,
    },
    /// Delete a secret; refused while JWKs are attached to it unless `detach`, which detaches
    /// them (they keep their keys).
    DeleteSecret {
        /// The project.
        project: String,
        /// The secret.
        secret: SecretName,
        /// Detach the JWKs attached to it instead of refusing.
        detach: bool,
    },
    /// Promote a rotated JWK (system: rotation): the JWK `next` takes the name `name` and
    /// becomes `active`; the JWK that had the name is renamed `retired`, becomes `retired`
    /// and expires after `overlap_secs` (an earlier `exp` stays). Nothing happens when
    /// `next` is gone (another node promoted it).
    PromoteJwk {
        /// The project.
        project: String,
        /// The rotated JWK's name.
        name: String,
        /// The next JWK's name.
        next: String,
        /// The name the replaced JWK takes.
        retired: String,
        /// How long the replaced JWK stays published, in seconds.
        overlap_secs: u64,
    },
    /// Record where a rotation stands (system: rotation), if its record is still at
    /// `revision` (else nothing is written: another node moved it first).
    RecordRotation {
        /// The project.
        project: String,
        /// What the rotation rotates.
        holder: RotationHolder,
        /// The revision the rotation was read at ([`crate::RotationState::revision`]).
        revision: u64,
        /// Where it stands now.
        progress: RotationProgress,
    },
    /// Record what a fetch of a remote JWK Set or a followed URL JWK gave (system: refresh),
    /// under the lease taken for it: the keys it serves (a content change is audited and
    /// deployed), its status, and its next refresh.
    RecordFetch {
        /// The fetch as planned ([`crate::Registry::fetch_plan`]).
        plan: FetchPlan,
        /// The lease the fetch was made under; released by the record.
        lease: Lease,
        /// What the fetch gave.
        outcome: FetchOutcome,
    },
    /// Redeploy every environment that is pending or behind (the admin, and the system's
    /// reconcile).
    Redeploy,
    /// Create a project (admin).
    CreateProject {
        /// Its name.
        name: String,
    },
    /// Create an environment (admin).
    CreateEnvironment {
        /// Its name.
        name: String,
        /// Where its keys go.
        target: TargetConfig,
    },
    /// Replace an environment's target, then deploy every key to it (admin).
    UpdateEnvironment {
        /// The environment.
        name: String,
        /// The new target.
        target: TargetConfig,
    },
    /// Delete an environment and its deployment state (admin).
    DeleteEnvironment {
        /// The environment.
        name: String,
    },
    /// Create a user; the outcome holds its token, shown once (admin).
    CreateUser {
        /// The username.
        username: String,
    },
    /// Give a user a new token (in the outcome); the old one stops working (admin).
    ResetUserToken {
        /// The username.
        username: String,
    },
    /// Delete a user (not the admin user) and its memberships (admin).
    DeleteUser {
        /// The username.
        username: String,
    },
    /// Set a user's permissions in a project (admin).
    SetMember {
        /// The project.
        project: String,
        /// The user.
        username: String,
        /// The permissions (stored sorted, once each).
        permissions: Vec<Permission>,
    },
}

/// A JWK to create: its name, where its key comes from, and its use and algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJwk {
    /// The name (unique in the project).
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// Where the key comes from.
    pub source: Source,
    /// `use` of the JWK: required for the secrets-store sources and for generated keys.
    pub usage: Option<Usage>,
    /// `alg` of the JWK, checked against the key (and `usage`): required for the
    /// secrets-store sources and for generated keys.
    pub algorithm: Option<String>,
    /// Its own `nbf` / `exp` (a certificate's validity narrows it).
    pub validity: Validity,
    /// The state it is created in (default `Active`).
    pub state: KeyState,
}

impl NewJwk {
    /// A JWK named `name` from `source`, with no description, use or algorithm.
    pub fn new(name: impl Into<String>, source: Source) -> NewJwk {
        NewJwk {
            name: name.into(),
            description: None,
            source,
            usage: None,
            algorithm: None,
            validity: Validity::default(),
            state: KeyState::Active,
        }
    }

    /// Created in this state.
    pub fn state(mut self, state: KeyState) -> NewJwk {
        self.state = state;
        self
    }

    /// Served from `nbf` until `exp` (Unix seconds).
    pub fn validity(mut self, nbf: Option<i64>, exp: Option<i64>) -> NewJwk {
        self.validity = Validity {
            not_before: nbf,
            expires: exp,
        };
        self
    }

    /// With this use and algorithm.
    pub fn usage(mut self, usage: Usage, algorithm: impl Into<String>) -> NewJwk {
        self.usage = Some(usage);
        self.algorithm = Some(algorithm.into());
        self
    }

    /// With this description.
    pub fn description(mut self, description: impl Into<String>) -> NewJwk {
        self.description = Some(description.into());
        self
    }
}

/// Where a new JWK's key comes from: the product's source types.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// `URL`: fetched (size- and time-bounded, through the SSRF guard); a set needs `kid`.
    Url {
        /// The http(s) URL.
        url: String,
        /// Timeouts and size limit (defaults when `None`; never above the server's maxima).
        options: UrlOptions,
        /// The kid to choose from a set.
        kid: Option<String>,
        /// Follow the URL: fetch it again as this policy says (as a remote JWK Set is, see
        /// [`RefreshPolicy`]) and update the key when it changes. Needs
        /// SECRETS+DEPLOY_UNDEPLOY besides SECRETS+MANAGE.
        follow: Option<RefreshPolicy>,
    },
    /// `COPY_PASTE`: a JWK or JWK Set as JSON text; a set needs `kid`.
    Paste {
        /// The JSON text.
        jwk: String,
        /// The kid to choose from a set.
        kid: Option<String>,
    },
    /// `CERTIFICATE`: a certificate of the secrets store.
    Certificate {
        /// Its name.
        name: String,
        /// Its environment.
        environment: String,
    },
    /// `PUBLIC_KEY`: a public key of the secrets store.
    PublicKey {
        /// Its name.
        name: String,
        /// Its environment.
        environment: String,
    },
    /// `PRIVATE_KEY`: a private key of the secrets store.
    PrivateKey {
        /// Its name.
        name: String,
        /// Its environment.
        environment: String,
    },
    /// `KEYSTORE`: an entry of a keystore of the secrets store.
    Keystore {
        /// The keystore's name.
        name: String,
        /// Its environment.
        environment: String,
        /// The entry's alias.
        alias: String,
    },
    /// A new key (Generate JWK).
    Generate {
        /// Key type and size or curve.
        spec: KeySpec,
        /// How the kid is made; `None`: the thumbprint (a random UUID for `oct` keys, whose
        /// thumbprint is a hash of the secret).
        kid: Option<KidType>,
    },
}

impl Source {
    /// The product's name of the source type (`URL`, `COPY_PASTE`, …, `GENERATE`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Source::Url { .. } => "URL",
            Source::Paste { .. } => "COPY_PASTE",
            Source::Certificate { .. } => "CERTIFICATE",
            Source::PublicKey { .. } => "PUBLIC_KEY",
            Source::PrivateKey { .. } => "PRIVATE_KEY",
            Source::Keystore { .. } => "KEYSTORE",
            Source::Generate { .. } => "GENERATE",
        }
    }
}

/// What Update JWK changes; a `None` (or blank) name keeps the name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JwkUpdate {
    /// The new name.
    pub name: Option<String>,
    /// The new description.
    pub description: Option<String>,
}

/// A certificate for the secrets store (PEM, or base64 DER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCertificate {
    /// Its name (unique per project and environment).
    pub name: String,
    /// Its environment.
    pub environment: String,
    /// The certificate.
    pub pem: String,
}

/// Whether a secrets-store key is public or private.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `PUBLIC`.
    Public,
    /// `PRIVATE` (stored sealed).
    Private,
}

/// A public or private key for the secrets store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// Its name (unique per project, environment and kind).
    pub name: String,
    /// Its environment.
    pub environment: String,
    /// Public or private.
    pub kind: KeyKind,
    /// The PEM.
    pub pem: String,
    /// The password of an encrypted private key.
    pub password: Option<String>,
}

/// A keystore for the secrets store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKeystore {
    /// Its name (unique per project and environment).
    pub name: String,
    /// Its environment.
    pub environment: String,
    /// The PKCS#12 or JKS file.
    pub content: Vec<u8>,
    /// Its password.
    pub password: Option<String>,
}

/// What a change that names a new record is checked for before its body, for front ends
/// that could not read the rest of a body ([`crate::Registry::check_new`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NewRecord {
    /// A JWK with this name.
    Jwk(String),
    /// A secret of this kind ("Certificate", "Key" or "Keystore"), name and environment.
    Secret {
        /// "Certificate", "Key" or "Keystore".
        what: &'static str,
        /// Its name.
        name: String,
        /// Its environment.
        environment: String,
    },
}

/// What [`crate::Registry::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The revision of the commit that holds the change (`None`: nothing needed writing,
    /// e.g. deploying what was already approved, or a record that moved on meanwhile).
    pub revision: Option<u64>,
    /// The deployment of the change to every environment: `None` for changes environments
    /// do not serve (secrets, projects, users, members, environments created or deleted).
    /// An actor who may not deploy gets the product's "skipped" result, and the change
    /// waits for approval ([`Command::DeployJwk`], [`Command::DeployCredential`]).
    pub deployment: Option<DeploymentResult>,
    /// What a [`Command::ResyncJwk`] found.
    pub resync: Option<ResyncReport>,
    /// The token of [`Command::CreateUser`] and [`Command::ResetUserToken`], shown once.
    pub token: Option<String>,
    /// The JWKs that followed a replaced secret, by name, with their old and new
    /// thumbprints.
    pub rotated: Vec<RotatedJwk>,
    /// The JWKs a deleted secret's deletion detached, by name.
    pub detached: Vec<String>,
    /// The records that held another user's pending edit, approved with this change by its
    /// actor (who holds the deploy permission): what the environments now serve of them
    /// includes that edit.
    pub approved: Vec<ApprovedEdit>,
    /// What a [`Command::RecordFetch`] or [`Command::RefreshJwkSet`] did.
    pub refreshed: Option<Refreshed>,
    /// The JWK a promotion retired (none when the slot was empty, or another slot still
    /// holds the replaced JWK).
    pub retired: Option<String>,
}

/// A record whose pending edit (by a user without the deploy permission) a change approved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovedEdit {
    /// `JWK` or `CREDENTIAL`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its project.
    pub project: String,
    /// The JWK's name or the credential's username, as saved.
    pub name: String,
    /// What was pending.
    pub pending: Pending,
}

/// What one refresh of a remote JWK Set or a followed URL JWK did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Refreshed {
    /// The diff, when the source was fetched and its record written.
    pub report: Option<ResyncReport>,
    /// When it is next due (Unix ms, by the registry's clock).
    pub next_due_ms: i64,
    /// How the fetch failed (recorded in its status).
    pub error: Option<crate::error::RegistryError>,
}

/// What a fetch of a followed source gave: the body and its validators, or why it failed.
pub type FetchOutcome = std::result::Result<jwk_fetch::Fetched, crate::error::RegistryError>;

/// What Replace Certificate / Key / Keystore did to a JWK attached to the secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotatedJwk {
    /// The JWK's name.
    pub name: String,
    /// Its thumbprint before (none for symmetric keys, whose thumbprint is a hash of the
    /// secret).
    pub old_thumbprint: Option<String>,
    /// Its thumbprint now.
    pub new_thumbprint: Option<String>,
}
