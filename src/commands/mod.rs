//! One module per subcommand, each with its clap arguments and a `run`.

pub mod build;
pub mod deploy;
pub mod destroy;
pub mod planned;
pub mod status;
pub mod synth;
