//! The mail outbox: what the stack's email subscriptions would have sent,
//! one JSON line per message in `.invctl/local/outbox.jsonl`, oldest first
//! (`invctl local mail` reads it).

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    /// When it was sent (RFC 3339, UTC).
    pub time: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The topic it was published to.
    #[serde(default)]
    pub topic: String,
}

impl Mail {
    /// A message sent now.
    pub fn now(to: String, subject: String, body: String, topic: String) -> Mail {
        let time = aws_smithy_types::DateTime::from(std::time::SystemTime::now())
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default();
        Mail {
            time,
            to,
            subject,
            body,
            topic,
        }
    }
}

/// Adds `mail` at the end of the outbox at `path`.
pub fn append(path: &Path, mail: &Mail) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(mail)?;
    line.push(b'\n');
    // One write per message, appended: readers never see half of one. The
    // mail holds approval links, which work like passwords: owner only.
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?
        .write_all(&line)
}

/// Every message in the outbox at `path`, oldest first (none when there is
/// no outbox yet).
pub fn read(path: &Path) -> std::io::Result<Vec<Mail>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.jsonl");
        append(
            &path,
            &Mail::now("a@x".into(), "s".into(), "link".into(), "t".into()),
        )
        .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn messages_come_back_in_the_order_they_were_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.jsonl");
        assert!(read(&path).unwrap().is_empty());
        let first = Mail::now("a@x".into(), "one".into(), "body\nlines".into(), "t".into());
        let second = Mail::now("b@x".into(), "two".into(), String::new(), "t".into());
        append(&path, &first).unwrap();
        append(&path, &second).unwrap();
        assert_eq!(read(&path).unwrap(), vec![first.clone(), second]);
        assert!(
            first.time.ends_with('Z') && first.time.contains('T'),
            "{}",
            first.time
        );
    }
}
