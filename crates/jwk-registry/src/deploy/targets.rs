//! The built-in targets outside the process: an atomically replaced JWKS file and an HTTP
//! webhook.

use super::{BoxFuture, DeployError, DeployTarget, EnvironmentSnapshot, Receipt, lock};

/// Writes the environment's public JWKS to a file, atomically (temp file, fsync, rename),
/// only under a directory given for file targets.
///
/// A deployment whose JWKS is byte for byte the one this target wrote last, while the file
/// is still there with that length, does not write again (changes that land together are
/// deployed together, so under load the file is rewritten once per batch, not per change).
#[derive(Debug, Clone)]
pub struct FileTarget {
    /// The directory file targets are confined to.
    pub root: std::path::PathBuf,
    /// The JWKS file, relative to `root` (checked by [`FileTarget::new`]).
    pub path: std::path::PathBuf,
    /// The SHA-256 and length of what this target wrote last.
    written: std::sync::Arc<std::sync::Mutex<Option<Written>>>,
}

/// What a file target wrote: the SHA-256 and the length of the JWKS.
type Written = ([u8; 32], u64);

impl FileTarget {
    /// A file target at `path` under `root`: `path` is relative to `root` (or an absolute path
    /// inside it), names a file, and has no `..`; otherwise why not.
    pub fn new(root: &std::path::Path, path: &str) -> Result<FileTarget, String> {
        use std::path::Component;
        let given = std::path::Path::new(path);
        let relative = if given.is_absolute() {
            given.strip_prefix(root).map_err(|_| {
                format!(
                    "the path {path} is outside the file target directory {}: give a path \
                     relative to it",
                    root.display()
                )
            })?
        } else {
            given
        };
        let mut clean = std::path::PathBuf::new();
        for component in relative.components() {
            match component {
                Component::Normal(part) => clean.push(part),
                Component::CurDir => {}
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                    return Err(format!(
                        "the path {path} may not leave the file target directory (no \"..\")"
                    ));
                }
            }
        }
        if clean.as_os_str().is_empty() {
            return Err("the path names no file".to_owned());
        }
        Ok(FileTarget {
            root: root.to_owned(),
            path: clean,
            written: Default::default(),
        })
    }

    fn write(&self, body: &str) -> Result<(), DeployError> {
        use sha2::Digest;
        let full = self.root.join(&self.path);
        let digest: [u8; 32] = sha2::Sha256::digest(body.as_bytes()).into();
        let length = body.len() as u64;
        let last = *lock(&self.written);
        if last == Some((digest, length))
            && std::fs::metadata(&full).is_ok_and(|m| m.is_file() && m.len() == length)
        {
            return Ok(()); // the file holds this JWKS
        }
        let fail = |why: String| DeployError(format!("cannot write {}: {why}", full.display()));
        // The directory the file goes in, with every symbolic link resolved, must still be
        // inside the root: a link placed in the root does not lead the write out of it.
        let root = std::fs::canonicalize(&self.root).map_err(|e| fail(e.to_string()))?;
        let parent = full.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
        let real_parent = std::fs::canonicalize(parent).map_err(|e| fail(e.to_string()))?;
        if !real_parent.starts_with(&root) {
            return Err(fail(format!(
                "its directory leads out of the file target directory {} (a symbolic link)",
                root.display()
            )));
        }
        // World-readable: the JWKS holds public keys only, for gateways to read.
        crate::atomic::write_atomic(&full, body.as_bytes(), 0o644)
            .map_err(|e| fail(e.to_string()))?;
        *lock(&self.written) = Some((digest, length));
        Ok(())
    }
}

impl DeployTarget for FileTarget {
    fn deploy<'a>(
        &'a self,
        snapshot: &'a EnvironmentSnapshot,
    ) -> BoxFuture<'a, Result<Receipt, DeployError>> {
        Box::pin(async move {
            let (body, thumbprints) = snapshot.public_jwks();
            let target = self.clone();
            tokio::task::spawn_blocking(move || target.write(&body))
                .await
                .map_err(|e| worker_failed("file writer", &e))??;
            Ok(Receipt {
                public_keys: thumbprints.len(),
            })
        })
    }
}

/// POSTs `{"environment":…,"revision":…,"keys":[public JWKs]}` to a URL (5 s connect,
/// 10 s read, no redirects) through the SSRF guard of URL sources (unless `options` allow
/// private networks); any 2xx is success. Private keys are never sent.
///
/// The whole public set, guarded by its ETag: each POST carries `ETag: "<digest>"` (the
/// SHA-256 of the `keys` array as sent, base64url) and, once a POST was acknowledged,
/// `If-Match` with the ETag the receiver acknowledged last, so a receiver can tell a set
/// that follows the one it holds from one that does not (it missed a delivery, or another
/// sender wrote meanwhile) and may answer 412; after any refusal or failure the next
/// attempt carries no `If-Match`. A deployment whose public set is the one last acknowledged (a
/// change of credentials, of a symmetric key, of anything the set does not show) makes no
/// call. What was acknowledged is kept in memory: after a restart the first deployment
/// POSTs again.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// The URL.
    pub url: String,
    /// Timeouts and the guard ([`WebhookTarget::options`] gives the defaults).
    pub options: jwk_fetch::FetchOptions,
    /// The ETag of the set the receiver acknowledged last.
    acknowledged: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl WebhookTarget {
    /// A webhook target posting to `url` with `options`.
    pub fn new(url: String, options: jwk_fetch::FetchOptions) -> WebhookTarget {
        WebhookTarget {
            url,
            options,
            acknowledged: Default::default(),
        }
    }

    /// The webhook options: 5 s to connect, 10 s for the rest, no redirects, and the SSRF
    /// guard unless `allow_private_networks`.
    pub fn options(allow_private_networks: bool) -> jwk_fetch::FetchOptions {
        jwk_fetch::FetchOptions {
            max_redirects: 0,
            allow_private_networks,
            ..jwk_fetch::FetchOptions::default()
        }
    }

    fn acknowledged(&self) -> Option<String> {
        lock(&self.acknowledged).clone()
    }
}

/// The strong ETag of a public key set: `"<base64url SHA-256 of its JSON>"`.
fn set_etag(keys: &str) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    use sha2::Digest;
    format!(
        "\"{}\"",
        Base64UrlUnpadded::encode_string(&sha2::Sha256::digest(keys.as_bytes()))
    )
}

impl DeployTarget for WebhookTarget {
    fn deploy<'a>(
        &'a self,
        snapshot: &'a EnvironmentSnapshot,
    ) -> BoxFuture<'a, Result<Receipt, DeployError>> {
        Box::pin(async move {
            let (set, thumbprints) = snapshot.public_jwks();
            let receipt = Receipt {
                public_keys: thumbprints.len(),
            };
            let keys = &set["{\"keys\":".len()..set.len() - 1];
            let etag = set_etag(keys);
            let previous = self.acknowledged();
            if previous.as_deref() == Some(etag.as_str()) {
                return Ok(receipt); // the receiver holds this set
            }
            let body = format!(
                "{{\"environment\":{},\"revision\":{},\"keys\":{keys}}}",
                serde_json::Value::String(snapshot.environment.clone()),
                snapshot.revision,
            );
            let (url, options, sent) = (self.url.clone(), self.options.clone(), etag.clone());
            let status = tokio::task::spawn_blocking(move || {
                let mut headers = vec![("ETag", sent.as_str())];
                if let Some(previous) = previous.as_deref() {
                    headers.push(("If-Match", previous));
                }
                jwk_fetch::post_json_with(&url, body.as_bytes(), &headers, &options)
                    .map_err(|e| DeployError(format!("webhook call failed: {e}")))
            })
            .await
            .map_err(|e| worker_failed("webhook caller", &e))??;
            if (200..300).contains(&status) {
                *lock(&self.acknowledged) = Some(etag);
                Ok(receipt)
            } else {
                // The next attempt is unconditional: a receiver that refused (a 412 to an
                // If-Match included) gets the whole set without a precondition.
                *lock(&self.acknowledged) = None;
                Err(DeployError(format!("webhook answered HTTP {status}")))
            }
        })
    }
}

/// A deployment worker that panicked: the panic's text goes to the log only (it may quote
/// stored data), the result says where to look.
fn worker_failed(what: &str, e: &tokio::task::JoinError) -> DeployError {
    tracing::error!(error = %e, "the {what} failed");
    DeployError(format!("the {what} failed inside the server (see its log)"))
}
