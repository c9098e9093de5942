//! What a deploy may choose about the stack: the functions' architecture
//! and whether they reserve concurrency. Everything else is fixed.

/// The CPU architecture the Lambda functions are built for and declared with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Architecture {
    /// Graviton; cheaper per millisecond, as in the AWS sample.
    #[default]
    Arm64,
    #[value(name = "x86_64")]
    X86_64,
}

impl Architecture {
    /// The architecture of this machine, when Lambda has it.
    pub fn host() -> Option<Architecture> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Architecture::X86_64),
            "aarch64" => Some(Architecture::Arm64),
            _ => None,
        }
    }

    /// The name Lambda uses in `Architectures`.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }
}

/// What a deploy may choose about the stack: everything else is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub architecture: Architecture,
    /// Whether functions keep their reserved concurrency. An account whose
    /// unreserved concurrency would drop below Lambda's minimum of 100 (a
    /// new account's quota is 10) cannot create them with it.
    pub reserve_concurrency: bool,
}

impl Shape {
    pub fn new(architecture: Architecture) -> Shape {
        Shape {
            architecture,
            reserve_concurrency: true,
        }
    }
}
