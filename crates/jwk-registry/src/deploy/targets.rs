//! The built-in targets outside the process: an atomically replaced JWKS file and an HTTP
//! webhook.

use super::{BoxFuture, DeployError, DeployTarget, EnvironmentSnapshot, Receipt};

/// Writes the environment's public JWKS to a file, atomically (temp file, fsync, rename),
/// only under a directory given for file targets.
#[derive(Debug, Clone)]
pub struct FileTarget {
    /// The directory file targets are confined to.
    pub root: std::path::PathBuf,
    /// The JWKS file, relative to `root` (checked by [`FileTarget::new`]).
    pub path: std::path::PathBuf,
}

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
        })
    }

    fn write(&self, body: &str) -> Result<(), DeployError> {
        let full = self.root.join(&self.path);
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
        crate::atomic::write_atomic(&full, body.as_bytes(), 0o644).map_err(|e| fail(e.to_string()))
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
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// The URL.
    pub url: String,
    /// Timeouts and the guard ([`WebhookTarget::options`] gives the defaults).
    pub options: jwk_fetch::FetchOptions,
}

impl WebhookTarget {
    /// The webhook options: 5 s to connect, 10 s for the rest, no redirects, and the SSRF
    /// guard unless `allow_private_networks`.
    pub fn options(allow_private_networks: bool) -> jwk_fetch::FetchOptions {
        jwk_fetch::FetchOptions {
            max_redirects: 0,
            allow_private_networks,
            ..jwk_fetch::FetchOptions::default()
        }
    }
}

impl DeployTarget for WebhookTarget {
    fn deploy<'a>(
        &'a self,
        snapshot: &'a EnvironmentSnapshot,
    ) -> BoxFuture<'a, Result<Receipt, DeployError>> {
        Box::pin(async move {
            let (keys, thumbprints) = snapshot.public_jwks();
            let body = format!(
                "{{\"environment\":{},\"revision\":{},\"keys\":{}}}",
                serde_json::Value::String(snapshot.environment.clone()),
                snapshot.revision,
                &keys["{\"keys\":".len()..keys.len() - 1]
            );
            let url = self.url.clone();
            let options = self.options.clone();
            let status = tokio::task::spawn_blocking(move || {
                jwk_fetch::post_json(&url, body.as_bytes(), &options)
                    .map_err(|e| DeployError(format!("webhook call failed: {e}")))
            })
            .await
            .map_err(|e| worker_failed("webhook caller", &e))??;
            if (200..300).contains(&status) {
                Ok(Receipt {
                    public_keys: thumbprints.len(),
                })
            } else {
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
