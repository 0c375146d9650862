//! A local directory as a blob store: the `file://` default outside Lambda, and what
//! `make demo` writes to. Writes go to a temporary file first and are renamed (or
//! hard-linked, for create-only) into place, so readers never see half an object;
//! compare-and-swap holds a per-directory lock for the read-compare-rename.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use super::{Blobs, Condition, Fault, Put, StoreError, Version};

#[derive(Clone, Debug)]
pub struct FileBlobs {
    root: PathBuf,
}

impl FileBlobs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
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
            let lock_path = dir.join(".lock");
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

fn list_blocking(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("list", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io("list", dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.contains(".tmp-") {
            continue;
        }
        if path.is_dir() {
            list_blocking(root, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

#[async_trait]
impl Blobs for FileBlobs {
    async fn get(&self, key: &str) -> Result<Option<(Bytes, Version)>, StoreError> {
        let path = self.path(key);
        match tokio::fs::read(&path).await {
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
        tokio::task::spawn_blocking(move || put_blocking(&path, &bytes, &condition))
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
            list_blocking(&root, &dir, &mut keys)?;
            keys.retain(|k| k.starts_with(&prefix));
            keys.sort();
            Ok(keys)
        })
        .await
        .map_err(|e| StoreError::new("file list task", e))?
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

    #[test]
    fn keys_cannot_escape_the_root() {
        let blobs = FileBlobs::new("/data");
        assert_eq!(
            blobs.path("../../etc/passwd"),
            PathBuf::from("/data/etc/passwd")
        );
    }
}
