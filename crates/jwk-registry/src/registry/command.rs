//! The one way to change the registry: a typed [`Command`] applied for an [`Actor`] by
//! [`Registry::apply`], which checks permissions, commits (with its audit entry, retrying
//! lost compares a bounded number of times), deploys what the actor may deploy, and answers
//! with an [`Outcome`].

use std::sync::Arc;

use jwk_core::{KeySpec, KidType, Usage};

use super::remote::{JwkSetSpec, RefreshPolicy};
use super::resync::ResyncReport;
use super::secrets::{RotatedJwk, SecretContent, SecretName};
use super::{Actor, Change, Registry};
use crate::deploy::{DeploymentResult, Slot};
use crate::error::Result;
use crate::model::TargetConfig;
use crate::perm::Permission;

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
        state: crate::deploy::KeyState,
    },
    /// Set a JWK's own `nbf` / `exp` (`None`: unbounded on that side); a certificate's
    /// validity still narrows it. SECRETS+MANAGE; approved and deployed like any change.
    SetJwkValidity {
        /// The project.
        project: String,
        /// The JWK.
        name: String,
        /// The new validity.
        validity: crate::deploy::Validity,
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
    /// and deletes the replaced JWK after the overlap ([`Registry::rotate_due`]).
    /// IDENTITY+MANAGE, IDENTITY+DEPLOY_UNDEPLOY, SECRETS+MANAGE, SECRETS+DEPLOY_UNDEPLOY.
    SetSlotRotation {
        /// The project.
        project: String,
        /// The credential.
        username: String,
        /// Which slot.
        slot: Slot,
        /// The policy; `None` removes it.
        policy: Option<super::RotationPolicy>,
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
        policy: Option<super::RotationPolicy>,
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
    pub validity: crate::deploy::Validity,
    /// The state it is created in (default `Active`).
    pub state: crate::deploy::KeyState,
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
            validity: crate::deploy::Validity::default(),
            state: crate::deploy::KeyState::Active,
        }
    }

    /// Created in this state.
    pub fn state(mut self, state: crate::deploy::KeyState) -> NewJwk {
        self.state = state;
        self
    }

    /// Served from `nbf` until `exp` (Unix seconds).
    pub fn validity(mut self, nbf: Option<i64>, exp: Option<i64>) -> NewJwk {
        self.validity = crate::deploy::Validity {
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

/// Fetch options of a URL source; `None` takes the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UrlOptions {
    /// Connect timeout in ms (default 5000).
    pub connect_timeout_ms: Option<u64>,
    /// Read timeout in ms (default 10000).
    pub read_timeout_ms: Option<u64>,
    /// Largest body in bytes (default 1 MiB).
    pub size_limit: Option<u64>,
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
/// that could not read the rest of a body ([`Registry::check_new`]).
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

/// What [`Registry::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The content revision of the commit that holds the change (`None`: nothing needed
    /// writing, e.g. deploying what was already approved).
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
}

/// What the blocking part of a command did, and what is left to deploy.
pub(crate) struct Applied {
    pub(crate) revision: Option<u64>,
    pub(crate) deploy: Deploy,
    pub(crate) resync: Option<ResyncReport>,
    pub(crate) token: Option<String>,
    pub(crate) rotated: Vec<RotatedJwk>,
    pub(crate) detached: Vec<String>,
    /// The command's answer is this error, once what it committed is deployed (a refresh
    /// whose failure withdrew a set's keys).
    pub(crate) failed: Option<crate::error::RegistryError>,
}

/// What a committed command deploys.
pub(crate) enum Deploy {
    /// Nothing that environments serve changed.
    Nothing,
    /// A change of what environments serve (deployed if the actor may).
    Change(Change),
    /// An environment's target was replaced: every environment behind is deployed.
    Reconcile,
}

impl Applied {
    fn committed(revision: u64) -> Applied {
        Applied {
            revision: Some(revision),
            deploy: Deploy::Nothing,
            resync: None,
            token: None,
            rotated: Vec::new(),
            detached: Vec::new(),
            failed: None,
        }
    }

    fn resynced((report, change): (ResyncReport, Change)) -> Applied {
        Applied {
            resync: Some(report),
            ..Applied::change(change)
        }
    }

    fn change(change: Change) -> Applied {
        Applied {
            revision: change.committed,
            deploy: Deploy::Change(change),
            resync: None,
            token: None,
            rotated: Vec::new(),
            detached: Vec::new(),
            failed: None,
        }
    }
}

impl Registry {
    /// Applies `command` for `actor`: checks the actor's permissions and the command, commits
    /// it with its audit entry in one transaction (retrying a bounded number of times when
    /// other writers got there first), then deploys it to every environment when the actor
    /// may, and says what happened. The store work runs off the async workers
    /// ([`Registry::run_blocking`]).
    pub async fn apply(self: &Arc<Self>, actor: &Actor, command: Command) -> Result<Outcome> {
        let (me, actor) = (self.clone(), actor.clone());
        let applied = self
            .run_blocking(move || me.apply_blocking(&actor, command))
            .await?;
        let deployment = match &applied.deploy {
            Deploy::Nothing => None,
            Deploy::Change(change) => Some(self.deploy(change).await?),
            Deploy::Reconcile => Some(self.reconcile().await?),
        };
        if let Some(e) = applied.failed {
            return Err(e);
        }
        Ok(Outcome {
            revision: applied.revision,
            deployment,
            resync: applied.resync,
            token: applied.token,
            rotated: applied.rotated,
            detached: applied.detached,
        })
    }

    /// The store work of a command (on a blocking thread).
    fn apply_blocking(&self, actor: &Actor, command: Command) -> Result<Applied> {
        Ok(match command {
            Command::CreateJwk { project, jwk } => {
                Applied::change(self.create_jwk(actor, &project, &jwk)?)
            }
            Command::UpdateJwk {
                project,
                name,
                update,
            } => Applied::change(self.update_jwk(actor, &project, &name, &update)?),
            Command::DeleteJwk { project, name } => {
                Applied::change(self.delete_jwk(actor, &project, &name)?)
            }
            Command::SetJwkState {
                project,
                name,
                state,
            } => Applied::change(self.set_jwk_state(actor, &project, &name, state)?),
            Command::SetJwkValidity {
                project,
                name,
                validity,
            } => Applied::change(self.set_jwk_validity(actor, &project, &name, validity)?),
            Command::DeployJwk { project, name } => {
                Applied::change(self.deploy_jwk(actor, &project, &name)?)
            }
            Command::ResyncJwk { project, name } => {
                Applied::resynced(self.resync_jwk(actor, &project, &name)?)
            }
            Command::CreateJwkSet {
                project,
                name,
                spec,
            } => Applied::resynced(self.put_jwk_set(actor, &project, &name, &spec, false)?),
            Command::UpdateJwkSet {
                project,
                name,
                spec,
            } => Applied::resynced(self.put_jwk_set(actor, &project, &name, &spec, true)?),
            Command::DeleteJwkSet { project, name } => {
                Applied::change(self.delete_jwk_set(actor, &project, &name)?)
            }
            Command::RefreshJwkSet { project, name } => {
                let (refreshed, change) = self.refresh_jwk_set(actor, &project, &name)?;
                match refreshed {
                    Ok(report) => Applied::resynced((report, change)),
                    Err(e) => Applied {
                        failed: Some(e),
                        ..Applied::change(change)
                    },
                }
            }
            Command::CreateCredential { project, username } => {
                Applied::change(self.create_credential(actor, &project, &username)?)
            }
            Command::SetCredentialJwk {
                project,
                username,
                slot,
                jwk,
            } => Applied::change(self.set_credential_jwk(
                actor,
                &project,
                &username,
                slot,
                jwk.as_deref(),
            )?),
            Command::SetCredentialNextJwk {
                project,
                username,
                slot,
                jwk,
            } => Applied::change(self.set_credential_next_jwk(
                actor,
                &project,
                &username,
                slot,
                jwk.as_deref(),
            )?),
            Command::PromoteCredentialJwk {
                project,
                username,
                slot,
                overlap_secs,
            } => Applied::change(self.promote_credential_jwk(
                actor,
                &project,
                &username,
                slot,
                overlap_secs,
            )?),
            Command::SetSlotRotation {
                project,
                username,
                slot,
                policy,
            } => Applied::change(self.set_slot_rotation(
                actor,
                &project,
                &username,
                slot,
                policy.as_ref(),
            )?),
            Command::SetJwkRotation {
                project,
                name,
                policy,
            } => Applied::change(self.set_jwk_rotation(actor, &project, &name, policy.as_ref())?),
            Command::DeployCredential { project, username } => {
                Applied::change(self.deploy_credential(actor, &project, &username)?)
            }
            Command::AddCertificate {
                project,
                certificate,
            } => Applied::committed(self.add_secret(
                actor,
                &project,
                SecretContent::Certificate(&certificate),
            )?),
            Command::AddKey { project, key } => {
                Applied::committed(self.add_secret(actor, &project, SecretContent::Key(&key))?)
            }
            Command::AddKeystore { project, keystore } => Applied::committed(self.add_secret(
                actor,
                &project,
                SecretContent::Keystore(&keystore),
            )?),
            Command::ReplaceCertificate {
                project,
                certificate,
            } => self.rotated(actor, &project, SecretContent::Certificate(&certificate))?,
            Command::ReplaceKey { project, key } => {
                self.rotated(actor, &project, SecretContent::Key(&key))?
            }
            Command::ReplaceKeystore { project, keystore } => {
                self.rotated(actor, &project, SecretContent::Keystore(&keystore))?
            }
            Command::DeleteSecret {
                project,
                secret,
                detach,
            } => {
                let (revision, detached) = self.delete_secret(actor, &project, &secret, detach)?;
                Applied {
                    detached,
                    ..Applied::committed(revision)
                }
            }
            Command::CreateProject { name } => {
                Applied::committed(self.create_project(actor, &name)?)
            }
            Command::CreateEnvironment { name, target } => {
                Applied::committed(self.create_environment(actor, &name, target)?)
            }
            Command::UpdateEnvironment { name, target } => Applied {
                deploy: Deploy::Reconcile,
                ..Applied::committed(self.update_environment(actor, &name, target)?)
            },
            Command::DeleteEnvironment { name } => {
                Applied::committed(self.delete_environment(actor, &name)?)
            }
            Command::CreateUser { username } => {
                let (token, revision) = self.create_user(actor, &username)?;
                Applied {
                    token: Some(token),
                    ..Applied::committed(revision)
                }
            }
            Command::ResetUserToken { username } => {
                let (token, revision) = self.reset_user_token(actor, &username)?;
                Applied {
                    token: Some(token),
                    ..Applied::committed(revision)
                }
            }
            Command::DeleteUser { username } => {
                Applied::committed(self.delete_user(actor, &username)?)
            }
            Command::SetMember {
                project,
                username,
                permissions,
            } => Applied::committed(self.set_member(actor, &project, &username, permissions)?),
        })
    }

    /// A replaced secret: deployed when JWKs followed it.
    fn rotated(&self, actor: &Actor, project: &str, content: SecretContent<'_>) -> Result<Applied> {
        let (revision, rotated, change) = self.replace_secret(actor, project, content)?;
        Ok(match change {
            Some(change) => Applied {
                rotated,
                ..Applied::change(change)
            },
            None => Applied::committed(revision),
        })
    }

    /// The checks a change that creates `record` in `project` makes before it reads the rest
    /// of its input, in the product's order: the actor's permission (SECRETS+MANAGE), the
    /// project, then the name (empty, too long, taken, …) and for a secret its environment.
    /// A front end that cannot read the rest of a request (an unknown source type, a use type
    /// that is not SIGNATURE or ENCRYPTION) calls this first, so that its answer is the one
    /// the registry would have given first.
    pub fn check_new(&self, actor: &Actor, project: &str, record: &NewRecord) -> Result<()> {
        match record {
            NewRecord::Jwk(name) => {
                self.require(actor, project, crate::perm::SECRETS_MANAGE)?;
                self.check_new_name(project, name).map(|_| ())
            }
            NewRecord::Secret {
                what,
                name,
                environment,
            } => self
                .secret_preamble(actor, project, what, name, environment)
                .map(|_| ()),
        }
    }
}
