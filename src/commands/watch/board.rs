//! Where the lines about orders on their way go: above a progress bar on
//! a terminal, plain on stderr otherwise.

use std::collections::HashMap;
use std::time::Duration;

use super::outcome::{tally, Outcome};

/// Where the lines about orders on their way go: above a progress bar on
/// a terminal, plain on stderr otherwise.
pub(super) struct Board {
    bar: Option<indicatif::ProgressBar>,
}

impl Board {
    pub(super) fn new(orders: usize) -> Board {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(orders as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed:>4} [{bar:30}] {pos}/{len} answered {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Board { bar }
    }

    pub(super) fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    pub(super) fn answered(&self, done: &HashMap<&str, Outcome>) {
        if let Some(bar) = &self.bar {
            bar.set_position(done.len() as u64);
            bar.set_message(tally(done.values()));
        }
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
