//! Atomic file writes: replacement (the JWKS file target) and creation that never replaces
//! (the master key, admin tokens, the data dir's registry record).

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes` so that a reader sees the old file or the new one, never a
/// part: a temporary file in the same directory, created new with `mode` (Unix permission
/// bits; a stale temporary file from a crash is removed first, so its permissions never
/// carry over), written and fsynced, renamed over `path`, then the directory fsynced.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let (dir, name) = dir_and_name(path);
    let tmp = dir.join(format!(".{name}.tmp"));
    write_temp(&tmp, bytes, mode)?;
    std::fs::rename(&tmp, path)?;
    sync_dir(dir);
    Ok(())
}

/// Creates `path` holding `bytes` whole, or fails with `ErrorKind::AlreadyExists` and leaves
/// an existing file as it is (also when another process creates it at the same moment): the
/// bytes go to a temporary file of this process, fsynced, then hard-linked to `path` (a link
/// never replaces), then the directory fsynced.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let (dir, name) = dir_and_name(path);
    let tmp = dir.join(format!(".{name}.{}.new", std::process::id()));
    write_temp(&tmp, bytes, mode)?;
    let linked = std::fs::hard_link(&tmp, path);
    let removed = std::fs::remove_file(&tmp);
    linked?;
    removed?;
    sync_dir(dir);
    Ok(())
}

fn dir_and_name(path: &Path) -> (&Path, &str) {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    (dir, name)
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// `tmp` created new with `mode` (a stale one from a crash removed first), written, fsynced.
fn write_temp(tmp: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    match std::fs::remove_file(tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = options.open(tmp)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_with_the_given_mode() {
        let dir = jwk_testkit::temp_dir();
        let path = dir.path().join("jwks.json");
        // A stale temporary file with wide permissions does not leak its mode.
        std::fs::write(dir.path().join(".jwks.json.tmp"), b"stale").unwrap();
        write_atomic(&path, b"one", 0o600).unwrap();
        write_atomic(&path, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert!(!dir.path().join(".jwks.json.tmp").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn write_new_never_replaces_a_file() {
        let dir = jwk_testkit::temp_dir();
        let path = dir.path().join("admin-token");
        write_new(&path, b"first", 0o600).unwrap();
        let e = write_new(&path, b"second", 0o600).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, ["admin-token"], "no temporary file is left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
