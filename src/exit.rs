//! Process exit codes (documented in README and `invctl --help`).

pub const SUCCESS: i32 = 0;
/// The command ran and failed: invalid models, I/O, drift.
pub const FAILURE: i32 = 1;
/// The command line was wrong (clap reports these itself).
pub const USAGE: i32 = 2;
/// The stack is not deployed (or not usable: a failed first create, a deletion).
pub const NOT_DEPLOYED: i32 = 3;
/// A tool the command needs is not installed (the message says how to install it).
pub const MISSING_TOOL: i32 = 4;
/// Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: i32 = 130;

/// An error that knows the exit code it ends the process with. Each
/// command's error implements it, asking the errors it wraps, so a cause
/// wrapped one level deeper keeps its code.
pub trait ExitCode {
    fn exit_code(&self) -> i32;
}
