//! Live progress on stderr: a spinner with the latest event on a terminal,
//! one plain line per event otherwise (CI logs, pipes). stdout stays for
//! the command's result.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub enum Progress {
    Terminal(ProgressBar),
    Plain,
}

impl Progress {
    pub fn start(what: &str) -> Progress {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar.set_message(what.to_owned());
            Progress::Terminal(bar)
        } else {
            eprintln!("{what}");
            Progress::Plain
        }
    }

    /// One line that stays (an event).
    pub fn line(&self, text: &str) {
        match self {
            Progress::Terminal(bar) => bar.println(text),
            Progress::Plain => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
        }
    }

    pub fn finish(self) {
        drop(self);
    }
}

/// Clears the spinner however the wait ends (finished, failed, or dropped
/// by an interruption), so the message that follows starts on a clean line.
impl Drop for Progress {
    fn drop(&mut self) {
        if let Progress::Terminal(bar) = self {
            bar.finish_and_clear();
        }
    }
}
