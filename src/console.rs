//! The person at the keyboard, if any: every question a command asks goes
//! through a [`Console`], so confirmation paths are tested with a
//! [`Scripted`] console instead of a terminal.

use std::collections::VecDeque;
use std::io::{self, BufRead, IsTerminal, Write};

pub trait Console {
    /// Whether someone can answer: stdin is a terminal. Off a terminal a
    /// command never guesses; it asks for `--yes` instead.
    fn interactive(&self) -> bool;
    /// Shows `question` and returns the line typed, trimmed.
    fn answer(&mut self, question: &str) -> io::Result<String>;
    /// A yes/no question; anything but yes is no.
    fn confirm(&mut self, question: &str) -> io::Result<bool> {
        Ok(matches!(
            self.answer(question)?.as_str(),
            "y" | "Y" | "yes" | "Yes"
        ))
    }
}

/// The real terminal: questions on stderr (stdout carries the report),
/// answers from stdin.
#[derive(Debug, Default)]
pub struct Terminal;

impl Console for Terminal {
    fn interactive(&self) -> bool {
        io::stdin().is_terminal()
    }

    fn answer(&mut self, question: &str) -> io::Result<String> {
        eprint!("{question}");
        let _ = io::stderr().flush();
        let mut line = String::new();
        io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim().to_owned())
    }
}

/// A console for tests: interactive or not, with the answers given in
/// order; it records the questions asked.
#[derive(Debug, Default)]
pub struct Scripted {
    pub interactive: bool,
    pub answers: VecDeque<String>,
    pub asked: Vec<String>,
}

impl Scripted {
    /// Nobody at the keyboard: like a CI job or a pipe.
    pub fn unattended() -> Self {
        Scripted::default()
    }

    /// Someone who will type `answers`, one per question.
    pub fn answering(answers: &[&str]) -> Self {
        Scripted {
            interactive: true,
            answers: answers.iter().map(|a| (*a).to_owned()).collect(),
            asked: Vec::new(),
        }
    }
}

impl Console for Scripted {
    fn interactive(&self) -> bool {
        self.interactive
    }

    fn answer(&mut self, question: &str) -> io::Result<String> {
        self.asked.push(question.to_owned());
        // Like a closed stdin: an empty line, which is never a yes.
        Ok(self.answers.pop_front().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yes_confirms_and_questions_are_recorded() {
        let mut console = Scripted::answering(&["yes", "n", " "]);
        assert!(console.confirm("a? ").unwrap());
        assert!(!console.confirm("b? ").unwrap());
        assert!(!console.confirm("c? ").unwrap());
        assert!(!console.confirm("d? ").unwrap(), "no answer left is no");
        assert_eq!(console.asked, ["a? ", "b? ", "c? ", "d? "]);
    }
}
