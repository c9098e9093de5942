//! The local cloud's console: one line per thing that happens (an event
//! put, messages received, a function invoked and its result, an execution
//! started and how it ended), each with the time.
//!
//! On a terminal the lines are coloured (failures red, successes green,
//! function output dim) and a spinner below them says what runs; anywhere
//! else (the detached log, a pipe) they are plain lines. Lines are written
//! by a thread of their own, so a slow terminal never holds up a poller.

use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What a line reports, which is how it is coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Info,
    Success,
    Failure,
    /// A line a function wrote.
    FunctionOutput,
}

enum Message {
    Line(Tone, SystemTime, String),
    /// What the spinner says (terminal only).
    Status(String),
}

#[derive(Clone)]
pub struct Console {
    messages: tokio::sync::mpsc::UnboundedSender<Message>,
}

impl Console {
    /// Plain lines to `out` (the log file when detached; a sink in tests).
    pub fn new(out: Box<dyn Write + Send>) -> Console {
        Console::spawn(Sink::Plain(out))
    }

    /// stderr: coloured lines under a spinner on a terminal, plain otherwise.
    pub fn stderr() -> Console {
        if !std::io::stderr().is_terminal() {
            return Console::new(Box::new(std::io::stderr()));
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
        Console::spawn(Sink::Terminal {
            bar,
            colour: console::colors_enabled_stderr(),
        })
    }

    fn spawn(mut sink: Sink) -> Console {
        let (messages, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Message>();
        std::thread::spawn(move || {
            while let Some(message) = receiver.blocking_recv() {
                sink.show(message);
            }
            sink.close();
        });
        Console { messages }
    }

    fn send(&self, tone: Tone, text: String) {
        let _ = self
            .messages
            .send(Message::Line(tone, SystemTime::now(), text));
    }

    pub fn line(&self, text: String) {
        self.send(Tone::Info, text);
    }

    pub fn success(&self, text: String) {
        self.send(Tone::Success, text);
    }

    pub fn failure(&self, text: String) {
        self.send(Tone::Failure, text);
    }

    /// A line a function wrote (its logs go here, as to CloudWatch).
    pub fn function_log(&self, function: &str, line: &str) {
        self.send(Tone::FunctionOutput, format!("  [{function}] {line}"));
    }

    /// What the spinner says, on a terminal; nothing elsewhere.
    pub fn status(&self, text: String) {
        let _ = self.messages.send(Message::Status(text));
    }
}

/// A failure a poller meets on every try (a refused or unanswered request,
/// retried each second): its line once, and again only when it changes or
/// after a success, so a lasting failure shows without flooding the console.
#[derive(Default)]
pub struct RepeatedFailure {
    last: std::sync::Mutex<Option<String>>,
}

impl RepeatedFailure {
    pub fn report(&self, console: &Console, text: String) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_deref() != Some(text.as_str()) {
            console.failure(text.clone());
            *last = Some(text);
        }
    }

    /// The request went through: the next failure is reported again.
    pub fn settled(&self) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

enum Sink {
    Plain(Box<dyn Write + Send>),
    Terminal { bar: ProgressBar, colour: bool },
}

impl Sink {
    fn show(&mut self, message: Message) {
        match (self, message) {
            (Sink::Plain(out), Message::Line(tone, at, text)) => {
                let _ = writeln!(out, "{}", render(tone, at, &text, false));
                let _ = out.flush();
            }
            (Sink::Plain(_), Message::Status(_)) => {}
            (Sink::Terminal { bar, colour }, Message::Line(tone, at, text)) => {
                bar.println(render(tone, at, &text, *colour));
            }
            (Sink::Terminal { bar, .. }, Message::Status(text)) => {
                // It spins from the first status on, so it never draws over
                // what the command prints before it is ready.
                if bar.message().is_empty() {
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
                bar.set_message(text);
            }
        }
    }

    fn close(self) {
        if let Sink::Terminal { bar, .. } = self {
            bar.finish_and_clear();
        }
    }
}

/// One line: `HH:MM:SS.mmm text` (UTC), coloured by its tone when asked.
fn render(tone: Tone, at: SystemTime, text: &str, colour: bool) -> String {
    let now = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = now.as_secs();
    let time = format!(
        "{:02}:{:02}:{:02}.{:03}",
        (seconds / 3600) % 24,
        (seconds / 60) % 60,
        seconds % 60,
        now.subsec_millis()
    );
    if !colour {
        return format!("{time} {text}");
    }
    let style = match tone {
        Tone::Info => console::Style::new(),
        Tone::Success => console::Style::new().green(),
        Tone::Failure => console::Style::new().red().bold(),
        Tone::FunctionOutput => console::Style::new().dim(),
    }
    .force_styling(true);
    let dim = console::Style::new().dim().force_styling(true);
    format!("{} {}", dim.apply_to(time), style.apply_to(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(((13 * 60 + 4) * 60 + 5) * 1000 + 67)
    }

    #[test]
    fn a_plain_line_is_the_time_and_the_text_only() {
        assert_eq!(
            render(Tone::Failure, at(), "reserve: failed", false),
            "13:04:05.067 reserve: failed"
        );
    }

    #[test]
    fn on_a_terminal_failures_are_red_and_successes_green() {
        let failure = render(Tone::Failure, at(), "failed", true);
        let success = render(Tone::Success, at(), "done", true);
        let info = render(Tone::Info, at(), "event", true);
        assert!(failure.contains("\u{1b}[31m"), "{failure:?}");
        assert!(success.contains("\u{1b}[32m"), "{success:?}");
        assert!(!info.contains("\u{1b}[31m") && !info.contains("\u{1b}[32m"));
        assert_eq!(console::strip_ansi_codes(&failure), "13:04:05.067 failed");
    }

    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The texts (without their times) of the `count` lines written by
    /// `write`, once the console has written them and is gone.
    fn written(count: usize, write: impl FnOnce(&Console)) -> Vec<String> {
        let out = Shared::default();
        let console = Console::new(Box::new(out.clone()));
        write(&console);
        drop(console);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let text = loop {
            let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
            if text.lines().count() >= count || std::time::Instant::now() > deadline {
                break text;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        text.lines().map(|l| l[13..].to_owned()).collect()
    }

    #[test]
    fn lines_reach_the_output_in_order() {
        let texts = written(3, |console| {
            console.line("one".into());
            console.status("ignored when plain".into());
            console.failure("two".into());
            console.function_log("fn", "three");
        });
        assert_eq!(texts, ["one", "two", "  [fn] three"]);
    }

    #[test]
    fn a_repeated_failure_shows_once_until_it_changes_or_a_try_succeeds() {
        let texts = written(5, |console| {
            let failure = RepeatedFailure::default();
            for _ in 0..3 {
                failure.report(console, "denied".into());
            }
            failure.report(console, "throttled".into());
            failure.report(console, "throttled".into());
            failure.settled();
            failure.report(console, "throttled".into());
            failure.report(console, "denied".into());
            console.line("end".into());
        });
        assert_eq!(texts, ["denied", "throttled", "throttled", "denied", "end"]);
    }
}
