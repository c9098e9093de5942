//! `invctl local mail`: the outbox, and with `--follow` what arrives next.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::error::Error;
use crate::local::{state_dir, LocalState};
use crate::output::OutputFormat;

/// Messages from the outbox: readable text, or JSON (one document, or
/// one line per message while following, so each can be read as it comes).
#[derive(Serialize)]
#[serde(transparent)]
struct MailReport<'a>(&'a [crate::local::outbox::Mail]);

impl crate::output::Report for MailReport<'_> {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for message in self.0 {
            writeln!(
                out,
                "{}  to {}\nSubject: {}\n\n{}\n",
                message.time,
                message.to,
                message.subject,
                message.body.trim_end()
            )?;
        }
        Ok(())
    }
}

fn print_mail(
    mail: &[crate::local::outbox::Mail],
    output: OutputFormat,
    one_json_per_line: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if output == OutputFormat::Json && one_json_per_line {
        for message in mail {
            writeln!(out, "{}", serde_json::to_string(message)?)?;
        }
    } else {
        crate::output::print(&MailReport(mail), output, out)?;
    }
    out.flush()
}

/// `invctl local mail`: the outbox, then (with `follow`) what arrives next.
pub(super) fn mail(
    start: &Path,
    follow: bool,
    output: OutputFormat,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let path = crate::local::outbox_file(&state_dir(start));
    let read = || {
        crate::local::outbox::read(&path).map_err(|source| Error::Outbox {
            path: path.clone(),
            source,
        })
    };
    if !follow && !path.exists() {
        // Nothing sent and nothing running: say how to get there.
        if let Err(not_running) = LocalState::running(start) {
            return Err(not_running.into());
        }
    }
    let mut shown = read()?;
    print_mail(&shown, output, follow, out).map_err(Error::Report)?;
    if !follow {
        return Ok(());
    }
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = read()?;
        // A new `local up` starts a fresh outbox: show it from its start.
        let new = if now.len() >= shown.len() && now[..shown.len()] == shown[..] {
            &now[shown.len()..]
        } else {
            &now[..]
        };
        print_mail(new, output, true, out).map_err(Error::Report)?;
        shown = now;
    }
}
