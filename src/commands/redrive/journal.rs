//! The journal of events put back on the bus whose messages are not
//! deleted yet, so a rerun deletes them without putting them back twice.

use super::error::Error;

/// The SQS message ids of events put back on the bus whose messages are
/// not deleted yet, for one queue: a file of one id per line.
pub(super) struct Journal {
    pub(super) path: std::path::PathBuf,
    pub(super) ids: std::collections::BTreeSet<String>,
}

impl Journal {
    pub(super) fn open(dir: &std::path::Path, queue_url: &str) -> Result<Journal, Error> {
        let key = crate::build::sha256_hex(queue_url.as_bytes());
        let path = dir.join(format!("redriven-{}.txt", &key[..16]));
        let ids = match std::fs::read_to_string(&path) {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
            Err(source) => return Err(Error::Journal { path, source }),
        };
        Ok(Journal { path, ids })
    }

    pub(super) fn save(&self) -> Result<(), Error> {
        let failed = |source| Error::Journal {
            path: self.path.clone(),
            source,
        };
        if self.ids.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(failed(e)),
                _ => Ok(()),
            };
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        let text: String = self.ids.iter().map(|id| format!("{id}\n")).collect();
        crate::output::write_private(&self.path, text.as_bytes()).map_err(failed)
    }
}

/// Where invctl keeps what must outlive one run: `$XDG_STATE_HOME/invctl`,
/// else `~/.local/state/invctl`.
pub fn state_dir() -> std::path::PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/state"))
        })
        .unwrap_or_else(|| std::path::PathBuf::from(".invctl"));
    base.join("invctl")
}
