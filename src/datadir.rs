//! A data dir belongs to one registry: it records which store holds that registry and the
//! registry's identity, so that a start with another store (or another database) is refused
//! instead of bootstrapping a second, empty registry beside the first; and the admin token
//! files in it are never overwritten.

use std::io::Read;
use std::path::{Path, PathBuf};

use jwk_registry::RegistryError;
use serde::{Deserialize, Serialize};

/// The file, in the data dir, that records the store and the registry.
pub const RECORD_FILE: &str = "registry.json";
/// Where `jwkd serve` writes the admin token of a registry it bootstraps.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// The record is a few dozen bytes: anything much larger is not ours.
const RECORD_MAX: u64 = 4096;
/// `admin-token`, then `admin-token.1` … `admin-token.9` when those exist.
const TOKEN_FILES: usize = 10;

/// What `registry.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    /// `sled`, `redb` or `postgres`.
    store: String,
    /// [`jwk_registry::Registry::id`].
    registry: String,
}

fn failure(message: String) -> RegistryError {
    RegistryError::internal(message)
}

/// How a person chooses that store (`jwkd`'s options).
fn how_to_choose(store: &str) -> &'static str {
    match store {
        "sled" => "jwkd: --store sled, the default",
        "redb" => "jwkd: --store redb",
        "postgres" => "jwkd: --postgres URL",
        _ => "a store this version does not know",
    }
}

fn read_record(data_dir: &Path) -> Result<Option<Record>, RegistryError> {
    let path = data_dir.join(RECORD_FILE);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(failure(format!("cannot read {}: {e}", path.display()))),
    };
    let mut text = String::new();
    file.take(RECORD_MAX)
        .read_to_string(&mut text)
        .map_err(|e| failure(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map(Some).map_err(|e| {
        failure(format!(
            "{} is not a registry record ({e}): restore it, or remove it to have it written \
             again by the next start",
            path.display()
        ))
    })
}

/// The embedded stores whose files are in `data_dir` (data dirs made before the record).
fn stores_on_disk(data_dir: &Path) -> Vec<&'static str> {
    let mut found = Vec::new();
    if data_dir.join("sled").exists() {
        found.push("sled");
    }
    if data_dir.join("registry.redb").exists() {
        found.push("redb");
    }
    found
}

fn other_store(data_dir: &Path, found: &str, asked: &str) -> RegistryError {
    failure(format!(
        "the data dir {} holds a {found} registry, not a {asked} one: open it with the {found} \
         store ({}), or choose another data dir for a new registry",
        data_dir.display(),
        how_to_choose(found)
    ))
}

/// Refuses to open `data_dir` with the `asked` store when it holds another store's registry:
/// the one its record names, or (a data dir from before the record) the one whose files are
/// there. Runs before the store is opened, so nothing is created on a refusal.
pub fn check_store(data_dir: &Path, asked: &str) -> Result<(), RegistryError> {
    if let Some(record) = read_record(data_dir)? {
        return if record.store == asked {
            Ok(())
        } else {
            Err(other_store(data_dir, &record.store, asked))
        };
    }
    match stores_on_disk(data_dir)[..] {
        [] => Ok(()),
        [found] if found == asked => Ok(()),
        [found] => Err(other_store(data_dir, found, asked)),
        _ => Err(failure(format!(
            "the data dir {} holds both a sled registry (sled/) and a redb one (registry.redb): \
             move the one not in use out of the data dir, then open the other with its store",
            data_dir.display()
        ))),
    }
}

/// Records that `data_dir` belongs to `registry` in the `store` store, or, when it already
/// records a registry, checks that it is this one.
pub fn record(data_dir: &Path, store: &str, registry: &str) -> Result<(), RegistryError> {
    let mine = Record {
        store: store.to_owned(),
        registry: registry.to_owned(),
    };
    let recorded = match read_record(data_dir)? {
        Some(r) => r,
        None => {
            let path = data_dir.join(RECORD_FILE);
            let mut text = serde_json::to_string_pretty(&mine)
                .map_err(|e| failure(format!("cannot write {}: {e}", path.display())))?;
            text.push('\n');
            match jwk_registry::atomic::write_new(&path, text.as_bytes(), 0o644) {
                Ok(()) => return Ok(()),
                // Another process recorded its registry at the same moment: compare with it.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    read_record(data_dir)?
                        .ok_or_else(|| failure(format!("{} vanished", path.display())))?
                }
                Err(e) => return Err(failure(format!("cannot write {}: {e}", path.display()))),
            }
        }
    };
    if recorded.store != mine.store {
        return Err(other_store(data_dir, &recorded.store, store));
    }
    if recorded.registry != mine.registry {
        return Err(failure(format!(
            "the data dir {} belongs to registry {}, but this {store} store holds registry {}: \
             open the store the data dir was made with, or choose another data dir for this \
             registry",
            data_dir.display(),
            recorded.registry,
            registry
        )));
    }
    Ok(())
}

/// Writes a new admin token into the first of `admin-token`, `admin-token.1` …
/// `admin-token.9` that does not exist (owner-only permissions), and returns its path: an
/// existing token file is never overwritten.
pub fn write_admin_token(data_dir: &Path, token: &str) -> Result<PathBuf, RegistryError> {
    let line = format!("{token}\n");
    for n in 0..TOKEN_FILES {
        let path = match n {
            0 => data_dir.join(ADMIN_TOKEN_FILE),
            n => data_dir.join(format!("{ADMIN_TOKEN_FILE}.{n}")),
        };
        match jwk_registry::atomic::write_new(&path, line.as_bytes(), 0o600) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(failure(format!("cannot write {}: {e}", path.display()))),
        }
    }
    Err(failure(format!(
        "{} and admin-token.1 to admin-token.{} all exist in {}: remove the ones no longer \
         needed",
        ADMIN_TOKEN_FILE,
        TOKEN_FILES - 1,
        data_dir.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_legacy_data_dir_is_recognised_by_its_files() {
        let dir = jwk_testkit::temp_dir();
        assert_eq!(check_store(dir.path(), "redb"), Ok(()));
        std::fs::create_dir(dir.path().join("sled")).unwrap();
        assert_eq!(check_store(dir.path(), "sled"), Ok(()));
        assert_eq!(
            check_store(dir.path(), "redb").unwrap_err().message(),
            format!(
                "the data dir {} holds a sled registry, not a redb one: open it with the sled \
                 store (jwkd: --store sled, the default), or choose another data dir for a new \
                 registry",
                dir.path().display()
            )
        );
        std::fs::write(dir.path().join("registry.redb"), b"").unwrap();
        assert_eq!(
            check_store(dir.path(), "sled").unwrap_err().message(),
            format!(
                "the data dir {} holds both a sled registry (sled/) and a redb one \
                 (registry.redb): move the one not in use out of the data dir, then open the \
                 other with its store",
                dir.path().display()
            )
        );
    }

    #[test]
    fn the_record_names_the_store_and_the_registry() {
        let dir = jwk_testkit::temp_dir();
        record(dir.path(), "postgres", "r1").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(RECORD_FILE)).unwrap(),
            "{\n  \"store\": \"postgres\",\n  \"registry\": \"r1\"\n}\n"
        );
        record(dir.path(), "postgres", "r1").unwrap();
        assert_eq!(
            check_store(dir.path(), "sled").unwrap_err().message(),
            format!(
                "the data dir {} holds a postgres registry, not a sled one: open it with the \
                 postgres store (jwkd: --postgres URL), or choose another data dir for a new \
                 registry",
                dir.path().display()
            )
        );
        assert_eq!(
            record(dir.path(), "postgres", "r2").unwrap_err().message(),
            format!(
                "the data dir {} belongs to registry r1, but this postgres store holds registry \
                 r2: open the store the data dir was made with, or choose another data dir for \
                 this registry",
                dir.path().display()
            )
        );
    }

    #[test]
    fn a_broken_record_is_named() {
        let dir = jwk_testkit::temp_dir();
        std::fs::write(dir.path().join(RECORD_FILE), b"sled").unwrap();
        assert_eq!(
            check_store(dir.path(), "sled").unwrap_err().message(),
            format!(
                "{} is not a registry record (expected value at line 1 column 1): restore it, or \
                 remove it to have it written again by the next start",
                dir.path().join(RECORD_FILE).display()
            )
        );
    }

    #[test]
    fn admin_tokens_go_to_new_files() {
        let dir = jwk_testkit::temp_dir();
        std::fs::write(dir.path().join("admin-token"), b"old\n").unwrap();
        let path = write_admin_token(dir.path(), "jwk_new").unwrap();
        assert_eq!(path, dir.path().join("admin-token.1"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("admin-token")).unwrap(),
            "old\n"
        );
        assert_eq!(std::fs::read_to_string(path).unwrap(), "jwk_new\n");
        for n in 2..10 {
            write_admin_token(dir.path(), "jwk_more").unwrap();
            assert!(dir.path().join(format!("admin-token.{n}")).exists());
        }
        assert_eq!(
            write_admin_token(dir.path(), "jwk_last")
                .unwrap_err()
                .message(),
            format!(
                "admin-token and admin-token.1 to admin-token.9 all exist in {}: remove the ones \
                 no longer needed",
                dir.path().display()
            )
        );
    }
}
