//! A local directory as a blob store: the `file://` default outside Lambda, and what
//! `make demo` writes to. Writes go to a temporary file first and are renamed (or
//! hard-linked, for create-only) into place, so readers never see half an object;
//! compare-and-swap holds a per-directory lock for the read-compare-rename.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use tracing::Instrument;

use super::{Blobs, Condition, Erase, Fault, Put, StoreError, Version};

#[derive(Clone, Debug)]
pub struct FileBlobs {
    root: PathBuf,
}

impl FileBlobs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The keys (or the leftover temporary copies) under `prefix`, in lexicographic order.
    async fn walk(&self, prefix: &str, wanted: Files) -> Result<Vec<String>, StoreError> {
        let root = self.root.clone();
        let start = self.path(prefix);
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            let dir = if start.is_dir() {
                start.clone()
            } else {
                start
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or(root.clone())
            };
            list_blocking(&root, &dir, wanted, &mut keys)?;
            keys.retain(|k| k.starts_with(&prefix));
            keys.sort();
            Ok(keys)
        })
        .await
        .map_err(|e| StoreError::new("file list task", e))?
    }

    fn path(&self, key: &str) -> PathBuf {
        // Keys are built from percent-encoded segments; refuse anything that could escape.
        let safe: Vec<&str> = key
            .split('/')
            .filter(|s| !s.is_empty() && *s != "." && *s != "..")
            .collect();
        self.root.join(safe.join("/"))
    }
}

fn version_of(bytes: &[u8]) -> Version {
    Version(crate::signature::sha256_hex(bytes))
}

fn io(operation: &str, path: &Path, err: std::io::Error) -> StoreError {
    use std::io::ErrorKind;
    let fault = match err.kind() {
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => Fault::Operator,
        ErrorKind::InvalidFilename | ErrorKind::InvalidInput | ErrorKind::FileTooLarge => {
            Fault::Permanent
        }
        _ => Fault::Transient,
    };
    StoreError::with_fault(fault, format!("{operation} {}", path.display()), err)
}

/// The per-directory lock of compare-and-swap writes. Empty, and never a key: keys are
/// files ending `.json`, and a directory of that name (a subject `.lock`) is no lock.
const LOCK: &str = ".lock";

/// Whether a file name is a temporary copy [`temp_beside`] made (`<name>.tmp-<pid>-<n>`).
/// Keys end `.json`, so no key looks like one, whatever its id: an id may begin with `.`
/// or hold `.tmp-` and is still listed, read and purged (docs/behaviour.md#ids-in-keys).
fn is_temp(name: &str) -> bool {
    name.rsplit_once(".tmp-").is_some_and(|(_, tail)| {
        let mut parts = tail.split('-');
        let digits = |p: Option<&str>| {
            p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        };
        digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
    })
}

fn temp_beside(path: &Path) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp-{}-{n}", std::process::id()));
    path.with_file_name(name)
}

fn put_blocking(path: &Path, bytes: &[u8], condition: &Condition) -> Result<Put, StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
    let temp = temp_beside(path);
    let mut file = File::create(&temp).map_err(|e| io("write", &temp, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io("write", &temp, e))?;
    drop(file);
    let result = match condition {
        Condition::Always => fs::rename(&temp, path).map(|()| Put::Written),
        // A hard link fails if the name exists: an atomic create-only with full content.
        Condition::IfAbsent => match fs::hard_link(&temp, path) {
            Ok(()) => Ok(Put::Written),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(Put::ConditionFailed),
            Err(e) => Err(e),
        },
        Condition::IfMatch(expected) => {
            let lock_path = dir.join(LOCK);
            let lock = File::create(&lock_path).map_err(|e| io("lock", &lock_path, e))?;
            lock.lock().map_err(|e| io("lock", &lock_path, e))?;
            let current = fs::read(path).ok().map(|b| version_of(&b));
            if current.as_ref() == Some(expected) {
                fs::rename(&temp, path).map(|()| Put::Written)
            } else {
                Ok(Put::ConditionFailed)
            }
        }
    };
    let _ = fs::remove_file(&temp);
    result.map_err(|e| io("write", path, e))
}

/// What a listing walks for: the keys, or the temporary copies a write left behind (a
/// crash between writing and renaming leaves one, content and all). A copy younger than
/// [`LEFTOVER_AGE`] belongs to a write under way and is left to it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Files {
    Keys,
    Leftovers,
}

/// How old a temporary copy must be to count as left behind: a write renames its copy
/// within milliseconds, so a minute-old one has no write waiting for it.
const LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(60);

fn is_leftover(entry: &fs::DirEntry) -> bool {
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|at| at.elapsed().ok())
        .is_some_and(|age| age >= LEFTOVER_AGE)
}

fn list_blocking(
    root: &Path,
    dir: &Path,
    wanted: Files,
    out: &mut Vec<String>,
) -> Result<(), StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("list", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io("list", dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            list_blocking(root, &path, wanted, out)?;
            continue;
        }
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let temp = is_temp(&name);
        let keep = match wanted {
            Files::Keys => !temp && name != LOCK,
            Files::Leftovers => temp && is_leftover(&entry),
        };
        if let (true, Ok(relative)) = (keep, path.strip_prefix(root)) {
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

#[async_trait]
impl Blobs for FileBlobs {
    async fn get(&self, key: &str) -> Result<Option<(Bytes, Version)>, StoreError> {
        let path = self.path(key);
        let read = tokio::fs::read(&path).instrument(crate::telemetry::stage("file read"));
        match read.await {
            Ok(bytes) => {
                let version = version_of(&bytes);
                Ok(Some((Bytes::from(bytes), version)))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path, e)),
        }
    }

    async fn put(&self, key: &str, bytes: Bytes, condition: Condition) -> Result<Put, StoreError> {
        let path = self.path(key);
        // The span is opened here (under the caller's) and entered on the blocking thread,
        // so it times the write itself.
        let span = crate::telemetry::stage("file write");
        tokio::task::spawn_blocking(move || {
            span.in_scope(|| put_blocking(&path, &bytes, &condition))
        })
        .await
        .map_err(|e| StoreError::new("file write task", e))?
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("delete", &path, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.walk(prefix, Files::Keys).await
    }

    /// As [`Blobs::erase`] says, and with every temporary copy a crashed write left under
    /// what is erased: on disk those are the superseded versions, and they hold content.
    async fn erase(&self, what: Erase<'_>) -> Result<Vec<String>, StoreError> {
        let mut erased = match what {
            Erase::Superseded(_) => Vec::new(),
            Erase::Key(key) => self
                .list(key)
                .await?
                .into_iter()
                .filter(|k| k == key)
                .collect(),
            Erase::Prefix(prefix) => self.list(prefix).await?,
        };
        erased.extend(self.walk(what.prefix(), Files::Leftovers).await?);
        for key in &erased {
            self.delete(key).await?;
        }
        Ok(erased)
    }

    fn location(&self, key: &str) -> String {
        let path = self.path(key);
        let absolute = std::path::absolute(&path).unwrap_or(path);
        format!("file://{}", absolute.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("scribehook-file-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[tokio::test]
    async fn create_only_and_compare_and_swap() {
        let blobs = FileBlobs::new(temp_root("cas"));
        let key = "raw/bota/evt_1.json";
        assert_eq!(
            blobs
                .put(key, Bytes::from_static(b"one"), Condition::IfAbsent)
                .await
                .unwrap(),
            Put::Written
        );
        assert_eq!(
            blobs
                .put(key, Bytes::from_static(b"two"), Condition::IfAbsent)
                .await
                .unwrap(),
            Put::ConditionFailed
        );
        let (bytes, version) = blobs.get(key).await.unwrap().unwrap();
        assert_eq!(&bytes[..], b"one");
        let stale = Version("nope".into());
        assert_eq!(
            blobs
                .put(key, Bytes::from_static(b"x"), Condition::IfMatch(stale))
                .await
                .unwrap(),
            Put::ConditionFailed
        );
        assert_eq!(
            blobs
                .put(
                    key,
                    Bytes::from_static(b"three"),
                    Condition::IfMatch(version)
                )
                .await
                .unwrap(),
            Put::Written
        );
        assert_eq!(&blobs.get(key).await.unwrap().unwrap().0[..], b"three");
        assert!(blobs.get("raw/bota/missing.json").await.unwrap().is_none());
        assert_eq!(blobs.list("raw/").await.unwrap(), vec![key.to_owned()]);
        assert_eq!(
            blobs.list("raw/bota/evt_").await.unwrap(),
            vec![key.to_owned()]
        );
        assert!(blobs.list("records/").await.unwrap().is_empty());
    }

    /// An id may begin with `.` or hold `.tmp-`: its keys are listed (and so purged) like
    /// any other; only the store's own lock and temporary copies are not keys, and a copy
    /// a crashed write left goes with what is erased.
    #[tokio::test]
    async fn odd_ids_are_keys_and_leftovers_are_erased() {
        let root = temp_root("odd");
        let blobs = FileBlobs::new(&root);
        let keys = [
            "records/bota/.rec/events/.evt_hidden.json",
            "records/bota/.rec/events/evt.tmp-2.json",
            "records/bota/.rec/events/e.tmp-1-2.json",
            "records/bota/.lock/record.json",
        ];
        for key in keys {
            blobs
                .put(key, Bytes::from_static(b"{}"), Condition::Always)
                .await
                .unwrap();
        }
        let record = "records/bota/.rec/record.json";
        blobs
            .put(record, Bytes::from_static(b"{}"), Condition::IfAbsent)
            .await
            .unwrap();
        let (_, version) = blobs.get(record).await.unwrap().unwrap();
        blobs
            .put(
                record,
                Bytes::from_static(b"[]"),
                Condition::IfMatch(version),
            )
            .await
            .unwrap();
        let mut expected: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        expected.push(record.into());
        expected.sort();
        assert_eq!(blobs.list("records/").await.unwrap(), expected);
        // What a write that crashed before its rename leaves, an hour ago and just now.
        let dir = root.join("records/bota/.rec/events");
        let old = dir.join(".evt_hidden.json.tmp-7-1");
        let fresh = dir.join(".evt_hidden.json.tmp-7-2");
        for temp in [&old, &fresh] {
            fs::write(temp, b"content").unwrap();
        }
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(hour_ago)
            .unwrap();
        let erased = blobs
            .erase(Erase::Key("records/bota/.rec/events/.evt_hidden.json"))
            .await
            .unwrap();
        assert_eq!(erased.len(), 2, "{erased:?}");
        assert!(!old.exists(), "a leftover copy holds content");
        assert!(fresh.exists(), "a copy under way is its write's");
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn keys_cannot_escape_the_root() {
        let blobs = FileBlobs::new("/data");
        assert_eq!(
            blobs.path("../../etc/passwd"),
            PathBuf::from("/data/etc/passwd")
        );
    }
}
